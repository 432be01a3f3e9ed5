import {
  AssignTag,
  BreakTag,
  CaptureTag,
  CaseTag,
  CommentTag,
  Context,
  ContinueTag,
  defaultOperators,
  EchoTag,
  type Expression,
  type Filter,
  ForTag,
  type Hash,
  IfTag,
  IncludeTag,
  InlineCommentTag,
  type Liquid,
  LiquidTag,
  LookupType,
  isFalsy as liquidIsFalsy,
  isTruthy as liquidIsTruthy,
  Output,
  RawTag,
  RenderTag,
  type Template,
  type Token,
  TypeGuards,
  toValue,
  UnlessTag,
  type Value,
} from 'liquidjs';
import {
  binaryOperator,
  equals,
  forloopDrop,
  isBinaryOperator,
  isFalsy,
  range,
  settle,
  stringify,
  toEnumerable,
} from './liquid-values.js';

/**
 * Compiles templates parsed by liquidjs (`engine.parse`) into plain
 * synchronous closures: the same output as `engine.renderSync`, without the
 * generator per tag, expression and property read that liquidjs drives for
 * every recipient.
 *
 * The closures run on liquidjs's own `Context`, so scopes, `strictVariables`,
 * `ownPropertyOnly` property reads, and the memory and time limits are
 * liquidjs's; filters are the engine's own implementations, called with the
 * `this` liquidjs gives them. What is outside the supported subset (see
 * `compileTemplate`) is reported as a fallback reason at compile time, so the
 * caller renders that field with liquidjs instead, at no cost per render.
 * A compiled render that throws (an unknown variable in strict mode, a
 * limit) says nothing user-facing: the caller renders again with liquidjs,
 * whose error has the position and wording users see.
 */

export interface CompiledLiquid {
  /** What `engine.renderSync(templates, scope, { globals })` returns; throws where liquidjs would (and possibly elsewhere, near a limit). */
  render(scope: object, globals?: object): string;
}

export type LiquidCompilation = { ok: true; template: CompiledLiquid } | { ok: false; reason: string };

/** Something outside the compiled subset; the field falls back to liquidjs. */
class NotCompiled extends Error {}

/** A compiled expression: its value, with drops (nil, empty, blank) kept, as liquidjs's `evalToken` returns it. */
type Evaluate = (ctx: Context) => unknown;
/** A compiled template node; a string is output that never changes. */
type Render = (ctx: Context) => string;
type Node = Render | string;
type ApplyFilter = (ctx: Context, value: unknown) => unknown;

interface Unit {
  /**
   * Break or continue can happen here (in the template or a snippet it
   * includes): then every block stops after the node that set the flag, as
   * liquidjs's renderTemplates does; without, the checks are left out.
   */
  checked: boolean;
  /** Inside a loop body: loops check the time when they start, not only every few hundred iterations. */
  inLoop: boolean;
}

// Shapes of liquidjs 10.x internals that its typings mark private. A field that is not what is expected makes the template fall back.
interface FilterInternals {
  name: string;
  args: (Token | [string?, Token?])[];
  handler: unknown;
  token: Token;
  liquid: Liquid;
}
interface IncludeInternals {
  file: unknown;
  withVar?: Token;
  hash: Hash;
}
interface RenderInternals {
  file: unknown;
  hash: Hash;
  with?: { value: Token; alias?: string };
  forBinding?: { value: Token; alias?: string };
}
interface ContextInternals {
  findScope(key: unknown): object;
}

/** Loops look at the clock every this many iterations (liquidjs looks before every template it renders). */
const TIME_CHECK_EVERY = 256;

function checkTime(ctx: Context): void {
  ctx.renderLimit.check(performance.now());
}

function fail(reason: string): never {
  throw new NotCompiled(reason);
}

/** Engine options that change semantics this compiler copies; any other value means liquidjs renders everything. */
function unsupportedOption(engine: Liquid): string | undefined {
  const o = engine.options as unknown as Record<string, unknown>;
  if (o.operators !== defaultOperators) return 'the engine has custom operators';
  for (const name of [
    'jsTruthy',
    'lenientIf',
    'keepOutputType',
    'catchAllErrors',
    'groupedExpressions',
    'orderedFilterParameters',
    'jekyllInclude',
    'relativeReference',
  ]) {
    if (o[name]) return `the engine option ${name} is on`;
  }
  return undefined;
}

/**
 * A compiler for one engine. It compiles each snippet once (per mode) and
 * reuses it for every field and every `render`/`include` of it.
 */
export function createLiquidCompiler(engine: Liquid) {
  const optionProblem = unsupportedOption(engine);
  const outputEscape = engine.options.outputEscape as
    | ((this: unknown, value: unknown) => unknown)
    | undefined;
  const snippetSources = new Map<string, Template[]>();
  const compiledSnippets = new Map<string, Render>();
  /** Snippets being compiled, outermost first: one that is reached again includes itself. */
  const compiling: string[] = [];

  // Parsed through the engine, so the templates are the very ones liquidjs renders (its cache holds them).
  function snippet(name: string): Template[] {
    let templates = snippetSources.get(name);
    if (!templates) {
      try {
        templates = engine.parseFileSync(name, LookupType.Partials);
      } catch (error) {
        fail(`snippet "${name}" cannot be loaded: ${(error as Error).message}`);
      }
      snippetSources.set(name, templates);
    }
    return templates;
  }

  function snippetName(file: unknown): string {
    if (typeof file === 'string' && file !== '') return file;
    if (file === undefined) fail('a snippet tag names no snippet ("none")');
    return fail('a snippet name that is computed when rendering');
  }

  /** Whether break/continue can be set in these templates, following includes (which share the context) but not render (which does not). */
  function setsLoopFlags(templates: Template[], path: string[]): boolean {
    return templates.some((tpl) => {
      if (tpl instanceof BreakTag || tpl instanceof ContinueTag) return true;
      if (tpl instanceof IncludeTag) {
        const name = snippetName((tpl as unknown as IncludeInternals).file);
        if (path.includes(name)) fail(`snippet "${name}" includes itself`);
        return setsLoopFlags(snippet(name), [...path, name]);
      }
      return childBlocks(tpl).some((block) => setsLoopFlags(block, path));
    });
  }

  function compileSnippet(name: string, checked: boolean): Render {
    const key = `${checked ? 'checked' : 'plain'}:${name}`;
    const cached = compiledSnippets.get(key);
    if (cached) return cached;
    if (compiling.includes(name)) fail(`snippet "${name}" includes itself`);
    compiling.push(name);
    try {
      const render = toRender(compileBlock(snippet(name), { checked, inLoop: true }));
      compiledSnippets.set(key, render);
      return render;
    } finally {
      compiling.pop();
    }
  }

  function compileBlock(templates: Template[], unit: Unit): Node {
    const nodes = templates.map((tpl) => compileTemplate(tpl, unit));
    if (unit.checked) {
      const renders = nodes.map(toRender);
      return (ctx) => {
        let out = '';
        for (const render of renders) {
          out += render(ctx);
          if (ctx.breakCalled || ctx.continueCalled) break;
        }
        return out;
      };
    }
    const parts = mergeConstants(nodes);
    if (parts.length === 0) return '';
    if (parts.length === 1) return parts[0] as Node;
    return (ctx) => {
      let out = '';
      for (const part of parts) out += typeof part === 'string' ? part : part(ctx);
      return out;
    };
  }

  /**
   * The subset: literal HTML, `{{ }}` outputs, and the tags below. Anything
   * else (tablerow, cycle, increment/decrement, which write to the caller's
   * scope, layout/block, custom tags) falls back to liquidjs.
   */
  function compileTemplate(tpl: Template, unit: Unit): Node {
    if (TypeGuards.isHTMLToken(tpl.token)) {
      const { str } = tpl as unknown as { str: unknown };
      return typeof str === 'string' ? str : fail('an HTML node without its text');
    }
    if (tpl instanceof Output) return compileOutput(tpl);
    if (tpl instanceof IfTag) return compileIf(tpl, unit);
    if (tpl instanceof UnlessTag) return compileUnless(tpl, unit);
    if (tpl instanceof CaseTag) return compileCase(tpl, unit);
    if (tpl instanceof ForTag) return compileFor(tpl, unit);
    if (tpl instanceof AssignTag) return compileAssign(tpl);
    if (tpl instanceof CaptureTag) return compileCapture(tpl, unit);
    if (tpl instanceof EchoTag) return compileEcho(tpl);
    if (tpl instanceof LiquidTag) return compileBlock(tpl.templates, unit);
    if (tpl instanceof RawTag)
      return (tpl as unknown as { tokens: Token[] }).tokens.map((t) => t.getText()).join('');
    if (tpl instanceof CommentTag || tpl instanceof InlineCommentTag) return '';
    if (tpl instanceof BreakTag) return setFlag('breakCalled');
    if (tpl instanceof ContinueTag) return setFlag('continueCalled');
    if (tpl instanceof IncludeTag) return compileInclude(tpl, unit);
    if (tpl instanceof RenderTag) return compileRender(tpl, unit);
    const name = (tpl as { name?: unknown }).name;
    return fail(typeof name === 'string' ? `the "${name}" tag` : 'a template node liquidjs added');
  }

  function compileOutput(output: Output): Render {
    const value = compileValue(output.value);
    return (ctx) => stringify(toValue(value(ctx)));
  }

  // `{% echo %}` escapes after the filters like an output, but outside the filter chain.
  function compileEcho(tag: EchoTag): Node {
    const source = (tag as unknown as { value?: Value }).value;
    if (!source) return '';
    const value = compileValue(source);
    const raw = source.filters[source.filters.length - 1]?.raw;
    if (!outputEscape || raw) return (ctx) => stringify(toValue(value(ctx)));
    const escapeOutput = outputEscape;
    return (ctx) =>
      stringify(
        settle(escapeOutput.call({ context: ctx, token: tag.token, liquid: engine }, toValue(value(ctx)))),
      );
  }

  function compileIf(tag: IfTag, unit: Unit): Render {
    const branches = tag.branches.map((b) => ({
      test: compileValue(b.value),
      body: toRender(compileBlock(b.templates, unit)),
    }));
    const otherwise = toRender(compileBlock(tag.elseTemplates ?? [], unit));
    return (ctx) => {
      for (const branch of branches) if (!isFalsy(branch.test(ctx))) return branch.body(ctx);
      return otherwise(ctx);
    };
  }

  // The first branch renders when its condition is falsy, `elsif` branches when theirs is truthy.
  function compileUnless(tag: UnlessTag, unit: Unit): Render {
    const branches = tag.branches.map((b) => {
      const wantFalsy = b.test === liquidIsFalsy;
      if (!wantFalsy && b.test !== liquidIsTruthy) fail('an unless branch with an unknown test');
      return { wantFalsy, test: compileValue(b.value), body: toRender(compileBlock(b.templates, unit)) };
    });
    const otherwise = toRender(compileBlock(tag.elseTemplates, unit));
    return (ctx) => {
      for (const branch of branches) {
        if (isFalsy(branch.test(ctx)) === branch.wantFalsy) return branch.body(ctx);
      }
      return otherwise(ctx);
    };
  }

  // Every branch with a matching value renders, not just the first (liquidjs's behaviour).
  function compileCase(tag: CaseTag, unit: Unit): Render {
    const target = compileValue(tag.value);
    const branches = tag.branches.map((b) => ({
      values: b.values.map((token) => compileToken(token)),
      body: toRender(compileBlock(b.templates, unit)),
    }));
    const otherwise = toRender(compileBlock(tag.elseTemplates, unit));
    return (ctx) => {
      const subject = toValue(target(ctx));
      let out = '';
      let hit = false;
      for (const branch of branches) {
        for (const value of branch.values) {
          if (equals(subject, value(ctx))) {
            out += branch.body(ctx);
            hit = true;
            break;
          }
        }
      }
      return hit ? out : out + otherwise(ctx);
    };
  }

  function compileFor(tag: ForTag, unit: Unit): Render {
    const { variable } = tag;
    const { checked } = unit;
    const collection = compileToken(tag.collection);
    const collectionText = tag.collection.getText();
    const continueKey = `continue-${variable}-${collectionText}`;
    const modifiers = compileHash(tag.hash);
    const body = toRender(compileBlock(tag.templates, { checked, inLoop: true }));
    const otherwise = toRender(compileBlock(tag.elseTemplates, unit));
    const Forloop = forloopDrop();
    const nested = unit.inLoop;
    return (ctx) => {
      let items = toEnumerable(collection(ctx));
      if (!items.length) return otherwise(ctx);
      let hash: Record<string, unknown> = {};
      if (modifiers) {
        // `offset: continue` reads where the previous loop over the same collection stopped.
        ctx.push(scopeOf({ continue: ctx.getRegister(continueKey, {}) }));
        hash = modifiers(ctx);
        ctx.pop();
        items = applyModifiers(items, hash);
      }
      ctx.setRegister(continueKey, ((hash.offset as number) || 0) + items.length);
      const forloop = new Forloop(items.length, collectionText, variable);
      const scope = scopeOf({ forloop });
      ctx.push(scope);
      if (nested) checkTime(ctx);
      let out = '';
      for (let i = 0; i < items.length; i++) {
        if (i % TIME_CHECK_EVERY === TIME_CHECK_EVERY - 1) checkTime(ctx);
        scope[variable] = items[i];
        if (checked) ctx.continueCalled = ctx.breakCalled = false;
        out += body(ctx);
        if (checked && ctx.breakCalled) break;
        forloop.next();
      }
      if (checked) ctx.continueCalled = ctx.breakCalled = false;
      ctx.pop();
      return out;
    };
  }

  function compileAssign(tag: AssignTag): Render {
    const { key, value } = tag as unknown as { key: string; value: Value };
    const evaluate = compileValue(value);
    return (ctx) => {
      ctx.bottom()[key] = evaluate(ctx);
      return '';
    };
  }

  function compileCapture(tag: CaptureTag, unit: Unit): Render {
    const { variable } = tag;
    const body = toRender(compileBlock(tag.templates, unit));
    return (ctx) => {
      ctx.bottom()[variable] = body(ctx);
      return '';
    };
  }

  // `include` renders the snippet in the includer's context, under a scope of its arguments.
  function compileInclude(tag: IncludeTag, unit: Unit): Render {
    const { file, withVar, hash } = tag as unknown as IncludeInternals;
    const name = snippetName(file);
    const args = compileHash(hash);
    const withValue = withVar ? compileToken(withVar) : undefined;
    const body = compileSnippet(name, unit.checked);
    return (ctx) => {
      const scope = scopeOf(args ? args(ctx) : {});
      if (withValue) scope[name] = withValue(ctx);
      ctx.push(scope);
      const out = body(ctx);
      ctx.pop();
      return out;
    };
  }

  // `render` gives the snippet a context of its own: its arguments, and the globals.
  function compileRender(tag: RenderTag, unit: Unit): Render {
    const { file, hash, with: withBinding, forBinding } = tag as unknown as RenderInternals;
    const name = snippetName(file);
    const args = compileHash(hash);
    const withValue = withBinding && {
      key: withBinding.alias || name,
      value: compileToken(withBinding.value),
    };
    const loop = forBinding && {
      alias: forBinding.alias,
      text: forBinding.value.getText(),
      value: compileToken(forBinding.value),
    };
    const body = compileSnippet(name, setsLoopFlags(snippet(name), [name]));
    const Forloop = forloopDrop();
    const nested = unit.inLoop;
    return (ctx) => {
      const child = ctx.spawn();
      const scope = child.bottom();
      if (args) Object.assign(scope, args(ctx));
      if (withValue) scope[withValue.key] = withValue.value(ctx);
      if (!loop) return body(child);
      const items = toEnumerable(loop.value(ctx));
      const forloop = new Forloop(items.length, loop.text, loop.alias);
      scope.forloop = forloop;
      if (nested) checkTime(ctx);
      let out = '';
      for (let i = 0; i < items.length; i++) {
        if (i % TIME_CHECK_EVERY === TIME_CHECK_EVERY - 1) checkTime(ctx);
        // liquidjs writes the item under the alias even when there is none (as "undefined").
        scope[loop.alias as string] = items[i];
        out += body(child);
        forloop.next();
      }
      return out;
    };
  }

  function compileValue(value: Value): Evaluate {
    const initial = compileExpression(value.initial);
    const filters = value.filters.map(compileFilter);
    if (filters.length === 0) return initial;
    if (filters.length === 1) {
      const only = filters[0] as ApplyFilter;
      return (ctx) => only(ctx, initial(ctx));
    }
    return (ctx) => {
      let v = initial(ctx);
      for (const filter of filters) v = filter(ctx, v);
      return v;
    };
  }

  // The engine's own filter, with the `this` liquidjs gives it and exactly the arguments written (some filters count them).
  function compileFilter(filter: Filter): ApplyFilter {
    const { handler, token, liquid, args } = filter as unknown as FilterInternals;
    if (typeof handler !== 'function') fail(`filter "${filter.name}" has no implementation`);
    const argv = args.map((arg): Evaluate => {
      if (!Array.isArray(arg)) return compileToken(arg);
      const [key, token] = arg;
      const value = compileToken(token);
      return (ctx) => [key, value(ctx)];
    });
    const call = (ctx: Context, self: object, value: unknown) => {
      switch (argv.length) {
        case 0:
          return handler.call(self, value);
        case 1:
          return handler.call(self, value, (argv[0] as Evaluate)(ctx));
        default:
          return handler.call(self, value, ...argv.map((a) => a(ctx)));
      }
    };
    return (ctx, value) => settle(call(ctx, { context: ctx, token, liquid }, value));
  }

  /** Evaluates liquidjs's postfix form: a tree built at compile time, operands in the order liquidjs evaluates them. */
  function compileExpression(expression: Expression): Evaluate {
    const stack: Evaluate[] = [];
    const pop = () => stack.pop() ?? fail('an expression with an operator but no operand');
    for (const token of expression.postfix) {
      if (!TypeGuards.isOperatorToken(token)) {
        stack.push(compileToken(token));
        continue;
      }
      const operator = token.operator;
      if (operator === 'not') {
        const operand = pop();
        stack.push((ctx) => isFalsy(operand(ctx)));
        continue;
      }
      if (!isBinaryOperator(operator)) fail(`the operator "${operator}"`);
      const apply = binaryOperator(operator);
      const right = pop();
      const left = pop();
      stack.push((ctx) => apply(left(ctx), right(ctx)));
    }
    // liquidjs accepts `{{ a b }}` (and renders a); not worth copying.
    if (stack.length !== 1) fail('an expression with operands but no operator between them');
    return stack[0] as Evaluate;
  }

  function compileToken(token: Token | undefined): Evaluate {
    if (!token) return () => undefined;
    if (isConstant(token)) {
      const constant = constantOf(token);
      return () => constant;
    }
    if (TypeGuards.isPropertyAccessToken(token)) return compilePropertyAccess(token);
    if (TypeGuards.isRangeToken(token)) return compileRange(token.lhs, token.rhs);
    return fail(`the expression ${JSON.stringify(token.getText())}`);
  }

  /** A key as liquidjs reads it: evaluated, and unwrapped from a drop. */
  function compileKey(token: Token): Evaluate {
    if (isConstant(token)) {
      const key = toValue(constantOf(token));
      return () => key;
    }
    const evaluate = compileToken(token);
    return (ctx) => toValue(evaluate(ctx));
  }

  function compileRange(lhs: Token, rhs: Token): Evaluate {
    const low = compileKey(lhs);
    const high = compileKey(rhs);
    return (ctx) => {
      const l = Number(low(ctx));
      const h = Number(high(ctx));
      // Counted before the array exists, so `(1..100000000)` fails without allocating it.
      ctx.memoryLimit.use(h - l + 1);
      return range(l, h + 1);
    };
  }

  /** `a.b[c].size`: liquidjs's findScope and readProperty, the latter enforcing `ownPropertyOnly`. */
  function compilePropertyAccess(token: Token & { variable?: Token; props: Token[] }): Evaluate {
    const keys = token.props.map(compileKey);
    const constantKeys = token.props.every(isConstant)
      ? token.props.map((p) => toValue(constantOf(p)))
      : undefined;
    const variable = token.variable ? compileToken(token.variable) : undefined;
    return (ctx) => {
      const path = constantKeys ?? keys.map((k) => k(ctx));
      let value: unknown = variable ? variable(ctx) : (ctx as unknown as ContextInternals).findScope(path[0]);
      for (const key of path) {
        value = settle(ctx.readProperty(value as never, key as never));
        if (value === undefined && ctx.strictVariables) throw new Error('undefined variable');
      }
      return value;
    };
  }

  function compileHash(hash: Hash): ((ctx: Context) => Record<string, unknown>) | undefined {
    const entries = Object.keys(hash.hash).map((key) => {
      const token = hash.hash[key];
      return [key, token === undefined ? () => true : compileToken(token)] as const;
    });
    if (entries.length === 0) return undefined;
    return (ctx) => {
      const values: Record<string, unknown> = {};
      for (const [key, evaluate] of entries) values[key] = evaluate(ctx);
      return values;
    };
  }

  return {
    /** Compiles one parsed field; `ok: false` says why liquidjs must render it. */
    compile(templates: Template[]): LiquidCompilation {
      if (optionProblem) return { ok: false, reason: optionProblem };
      try {
        const root = toRender(
          compileBlock(templates, { checked: setsLoopFlags(templates, []), inLoop: false }),
        );
        return {
          ok: true,
          template: {
            render: (scope, globals) =>
              root(new Context(scope, engine.options, { sync: true, globals }, { liquid: engine })),
          },
        };
      } catch (error) {
        if (error instanceof NotCompiled) return { ok: false, reason: error.message };
        // liquidjs internals not shaped as expected (a new liquidjs version, say): liquidjs still renders the field.
        return { ok: false, reason: `the compiler failed: ${(error as Error).message}` };
      }
    },
  };
}

export type LiquidCompiler = ReturnType<typeof createLiquidCompiler>;

/** The blocks a tag renders, for walking the template tree. */
function childBlocks(tpl: Template): Template[][] {
  if (tpl instanceof IfTag) return [...tpl.branches.map((b) => b.templates), tpl.elseTemplates ?? []];
  if (tpl instanceof UnlessTag || tpl instanceof CaseTag) {
    return [...tpl.branches.map((b) => b.templates), tpl.elseTemplates];
  }
  if (tpl instanceof ForTag) return [tpl.templates, tpl.elseTemplates];
  if (tpl instanceof CaptureTag || tpl instanceof LiquidTag) return [tpl.templates];
  return [];
}

/** Numbers, strings, literals (true, nil, empty, ...) and plain words: liquidjs evaluates them to their `content`. */
function isConstant(token: Token): boolean {
  return 'content' in token;
}

function constantOf(token: Token): unknown {
  return (token as { content?: unknown }).content;
}

function setFlag(flag: 'breakCalled' | 'continueCalled'): Render {
  return (ctx) => {
    ctx[flag] = true;
    return '';
  };
}

function toRender(node: Node): Render {
  return typeof node === 'string' ? () => node : node;
}

function mergeConstants(nodes: Node[]): Node[] {
  const parts: Node[] = [];
  for (const node of nodes) {
    const last = parts[parts.length - 1];
    if (typeof node === 'string' && typeof last === 'string') parts[parts.length - 1] = last + node;
    else if (node !== '') parts.push(node);
  }
  return parts;
}

/** liquidjs's scopes have no prototype, so `{{ toString }}` finds nothing in them. */
function scopeOf(values: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, values);
}

// offset, then limit, then reversed, whatever order they are written in; values as given (slice coerces them).
function applyModifiers(items: unknown[], hash: Record<string, unknown>): unknown[] {
  let result = items;
  if (hash.offset !== undefined) result = result.slice(hash.offset as number);
  if (hash.limit !== undefined) result = result.slice(0, hash.limit as number);
  if (hash.reversed !== undefined) result = [...result].reverse();
  return result;
}
