import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import { describe, expect, it } from 'vitest';
import { createLiquidCompiler } from './liquid-compiled.js';
import { createLiquidEngine, DEFAULT_LIQUID_LIMITS } from './liquid-engine.js';

/**
 * The compiled renderer against liquidjs itself: random templates from a
 * grammar of the compiled subset, rendered against random data, must give
 * byte-identical output (or both throw) on the HTML engine (escaping) and the
 * text engine, strict and lenient.
 */

type Outcome = { output: string } | { error: string };

function attempt(render: () => string): Outcome {
  try {
    return { output: render() };
  } catch (error) {
    return { error: String(error) };
  }
}

const seq = (...parts: (string | fc.Arbitrary<string>)[]): fc.Arbitrary<string> =>
  fc.tuple(...parts.map((p) => (typeof p === 'string' ? fc.constant(p) : p))).map((xs) => xs.join(''));
const trim = fc.constantFrom('', '', '-');
const tag = (...body: (string | fc.Arbitrary<string>)[]) => seq('{%', trim, ' ', ...body, ' ', trim, '%}');

// HTML text with what escaping and whitespace control care about; no `{`, so it never opens a tag.
const text = fc.string({
  unit: fc.constantFrom(
    'a',
    'B',
    ' ',
    ' ',
    '\n',
    '\t',
    '<',
    '>',
    '&',
    '"',
    "'",
    'é',
    '😀',
    '中',
    '}',
    '%',
    '-',
  ),
  maxLength: 8,
});

// Mostly names the data has; some it never has, and the prototype names `ownPropertyOnly` must hide.
const root = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('a', 'b', 'n', 'f', 's', 'arr', 'obj', 'nested', 'contact', 'x', 'empty_list'),
  },
  { weight: 2, arbitrary: fc.constantFrom('i', 'item', 'y', 'forloop') },
  { weight: 1, arbitrary: fc.constantFrom('missing', 'toString', 'constructor', '__proto__') },
  // `include 's0' with x` names the value after the snippet.
  { weight: 1, arbitrary: fc.constantFrom('s0', 's1') },
);
const segment = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('.name', '.k', '.size', '.first', '.last', '[0]', '[-1]', '["k"]', '.email'),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '.attributes',
      '.tags',
      '[1]',
      "['size']",
      '[a]',
      '[i]',
      '[n]',
      '.0',
      '.length',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('.index', '.index0', '.rindex0', '.first', '.last', '.length', '.name'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '.constructor',
      '.__proto__',
      '.toString',
      '.valueOf',
      '.next',
      '.hasOwnProperty',
    ),
  },
);
// The lenient runs use any path; the strict ones paths the data has, or almost every render would stop at an unknown variable.
const anyPath = fc.oneof(
  {
    weight: 9,
    arbitrary: seq(
      root,
      fc.array(segment, { maxLength: 2 }).map((s) => s.join('')),
    ),
  },
  // Properties of literals: liquidjs reads them from the literal itself (a drop for nil, empty, blank).
  fc.constantFrom(
    '"abc".size',
    '(1..3).last',
    'nil.x',
    'empty.size',
    'blank.first',
    '"é😀".first',
    '(1..4)[1]',
  ),
);
const knownPath = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('a', 'b', 'n', 'f', 's', 'arr', 'obj', 'nested', 'x', 'i', 'empty_list'),
  },
  fc.constantFrom('contact.email', 'arr.size', 's.size', 'empty_list.size', 'obj.size'),
);
const literal = fc.constantFrom(
  '"x"',
  `'<a&"b>'`,
  '"it\'s"',
  '""',
  '"é😀"',
  '", "',
  '"name"',
  '0',
  '1',
  '-2',
  '3.5',
  '0.1',
  'true',
  'false',
  'nil',
  'null',
  'empty',
  'blank',
  '(1..3)',
  '(0..n)',
  '(n..2)',
  '(a..2)',
);
const loopModifiers = fc
  .subarray(['limit: 2', 'offset: 1', 'offset: continue', 'reversed', 'limit: n', 'offset: a'])
  .map((m) => m.join(' '));

const variable = fc.constantFrom('x', 'y', 'a', 'contact');

/** Expressions over `path`: literals, comparisons, filters with arguments. */
function expressions(path: fc.Arbitrary<string>) {
  const primary = fc.oneof({ weight: 3, arbitrary: path }, { weight: 2, arbitrary: literal });
  const comparison = fc.oneof(
    { weight: 2, arbitrary: primary },
    seq(primary, ' ', fc.constantFrom('==', '!=', '>', '<', '>=', '<=', 'contains'), ' ', primary),
  );
  const condition = fc.oneof(
    { weight: 3, arbitrary: comparison },
    seq('not ', comparison),
    seq(comparison, ' and ', comparison),
    seq(comparison, ' or ', comparison),
    seq(comparison, ' and ', comparison, ' or ', comparison),
    seq(comparison, ' or ', comparison, ' and ', comparison),
  );
  const filter = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'upcase',
        'downcase',
        'capitalize',
        'size',
        'first',
        'last',
        'escape',
        'escape_once',
        'raw',
        'strip_html',
        'newline_to_br',
        'strip',
        'reverse',
        'sort',
        'uniq',
        'compact',
        'abs',
        'round',
        'url_encode',
        'json',
        'sum',
        'map: "name"',
        'where: "name"',
        'sort: "name"',
        'where_exp: "item", "item.name == \'x\'"',
        'date: "%Y-%m-%d %H:%M"',
        'default: "fallback", allow_false: true',
      ),
    },
    seq(
      fc.constantFrom(
        'append',
        'prepend',
        'default',
        'join',
        'split',
        'plus',
        'minus',
        'times',
        'divided_by',
        'modulo',
        'round',
        'truncate',
        'truncatewords',
        'remove',
        'concat',
        'at_least',
        'push',
        'date',
      ),
      ': ',
      primary,
    ),
    seq(fc.constantFrom('replace', 'slice', 'where'), ': ', primary, ', ', primary),
  );
  const filters = fc.array(filter, { maxLength: 3 }).map((fs) => fs.map((f) => ` | ${f}`).join(''));
  const filtered = seq(fc.oneof({ weight: 4, arbitrary: primary }, comparison), filters);
  const output = seq('{{', trim, ' ', filtered, ' ', trim, '}}');
  const collection = fc.oneof(
    path,
    fc.constantFrom('(1..3)', '(0..n)', '(n..3)', 'arr', 's', 'obj', 'empty_list', 'nested', 'contact.tags'),
  );
  return { primary, condition, filtered, output, collection };
}

/** Template source over the compiled subset; `snippets` are the names include and render may use. */
function grammar(snippets: string[], path: fc.Arbitrary<string>) {
  const { primary, condition, filtered, output, collection } = expressions(path);
  const liquidLines = fc
    .array(
      fc.oneof(
        seq('echo ', filtered),
        seq('assign x = ', filtered),
        seq('if ', condition, '\necho "yes"\nelse\necho ', filtered, '\nendif'),
        seq('for i in ', collection, '\necho i\nendfor'),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((lines) => lines.join('\n'));
  const snippetTags =
    snippets.length === 0
      ? []
      : [
          tag(
            'include ',
            fc.constantFrom(...snippets).map((name) => `'${name}'`),
            fc.constantFrom('', ', x: a', ' with arr', ', y: "<y>", x: n'),
          ),
          tag(
            'render ',
            fc.constantFrom(...snippets).map((name) => `'${name}'`),
            fc.constantFrom(
              '',
              ', x: a, contact: contact',
              ' with nested as x',
              ' with b',
              ' for arr as item',
              ' for (1..3) as i, x: "<x>"',
            ),
          ),
        ];
  const leaf = (inLoop: boolean) =>
    fc.oneof(
      { weight: 6, arbitrary: text },
      { weight: 8, arbitrary: output },
      { weight: 2, arbitrary: tag('assign ', variable, ' = ', filtered) },
      { weight: 2, arbitrary: tag('echo ', filtered) },
      seq('{% raw %}', fc.constantFrom('{{ x }}', '{% if %}', 'a < b', ''), '{% endraw %}'),
      seq('{% comment %}', text, '{{ x }}{% endcomment %}'),
      tag('# ', fc.constantFrom('a note', '')),
      seq('{% liquid\n', liquidLines, '\n%}'),
      // Outside a loop, break and continue stop the whole template: rare, or most output would be cut.
      { weight: inLoop ? 2 : 0, arbitrary: tag(fc.constantFrom('break', 'continue')) },
      ...snippetTags,
    );
  const blocks = new Map<string, fc.Arbitrary<string>>();
  function block(depth: number, inLoop: boolean): fc.Arbitrary<string> {
    const key = `${depth}:${inLoop}`;
    let found = blocks.get(key);
    if (!found) {
      found = fc.array(node(depth, inLoop), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(''));
      blocks.set(key, found);
    }
    return found;
  }
  function node(depth: number, inLoop: boolean): fc.Arbitrary<string> {
    if (depth <= 1) return leaf(inLoop);
    const inner = block(depth - 1, inLoop);
    const orElse = fc.option(seq(tag('else'), inner), { nil: '' });
    return fc.oneof(
      { weight: 5, arbitrary: leaf(inLoop) },
      seq(
        tag('if ', condition),
        inner,
        fc.array(seq(tag('elsif ', condition), inner), { maxLength: 2 }).map((xs) => xs.join('')),
        orElse,
        tag('endif'),
      ),
      seq(
        tag('unless ', condition),
        inner,
        fc.option(seq(tag('elsif ', condition), inner), { nil: '' }),
        orElse,
        tag('endunless'),
      ),
      seq(
        tag('case ', filtered),
        fc
          .array(
            seq(
              tag('when ', primary, fc.option(seq(fc.constantFrom(', ', ' or '), primary), { nil: '' })),
              inner,
            ),
            { minLength: 1, maxLength: 3 },
          )
          .map((xs) => xs.join('')),
        orElse,
        tag('endcase'),
      ),
      {
        weight: 2,
        arbitrary: seq(
          tag('for ', fc.constantFrom('i', 'item', 'x'), ' in ', collection, ' ', loopModifiers),
          block(depth - 1, true),
          orElse,
          tag('endfor'),
        ),
      },
      // A second loop over the same collection can go on where the first stopped (`offset: continue`).
      fc
        .tuple(collection, loopModifiers, block(depth - 1, true))
        .map(
          ([over, modifiers, body]) =>
            `{% for i in ${over} ${modifiers} %}${body}{% endfor %}{% for i in ${over} offset: continue %}{{ i }}{% endfor %}`,
        ),
      seq(tag('capture ', variable), inner, tag('endcapture')),
    );
  }
  return fc.oneof(block(3, false), {
    weight: 1,
    arbitrary: seq(block(2, false), tag('break'), block(2, false)),
  });
}

const stringValue = fc.oneof(
  fc.constantFrom(
    '',
    'x',
    'k',
    'name',
    `<b>"Tom" & 'Jerry'</b>`,
    'é😀中',
    '  padded  ',
    'a,b,c',
    '2024-03-05T10:20:30Z',
    'line\nbreak',
    '0',
    '3.5',
    '-1',
    '%Y',
  ),
  fc.string({ maxLength: 6 }),
);
const key = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('name', 'k', 'email', 'x') },
  fc.constantFrom('size', 'first', 'last', 'constructor', '0', 'toString'),
);
const { data } = fc.letrec((tie) => ({
  data: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -50, max: 50 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    fc.constantFrom(0.1, -0, 1e21, 1.5e-7, 2.5, -3.75),
    stringValue,
    fc.array(tie('data'), { maxLength: 4 }),
    fc.dictionary(key, tie('data'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));
const scopeArbitrary = (requireAll: boolean) =>
  fc.record(
    {
      a: data,
      b: data,
      n: fc.integer({ min: -3, max: 8 }),
      f: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 }),
      s: stringValue,
      arr: fc.array(data, { maxLength: 5 }),
      obj: fc.dictionary(key, data, { maxKeys: 4, noNullPrototype: true }),
      nested: data,
      empty_list: fc.constant([]),
      x: data,
      i: data,
      contact: fc.record(
        {
          email: stringValue,
          attributes: fc.dictionary(key, data, { maxKeys: 3, noNullPrototype: true }),
          tags: fc.array(stringValue, { maxLength: 3 }),
        },
        { requiredKeys: ['email'] },
      ),
    },
    requireAll ? {} : { requiredKeys: [] },
  );

/** Snippets s0..s2 (each may use the ones before it, so there is no cycle), a template using them, and data. */
function cases(strictVariables: boolean) {
  const path = strictVariables ? knownPath : anyPath;
  const snippets = fc
    .tuple(grammar([], path), grammar(['s0'], path), grammar(['s0', 's1'], path))
    .map(([s0, s1, s2]) => new Map(Object.entries({ s0, s1, s2 })));
  return fc.tuple(snippets, grammar(['s0', 's1', 's2'], path), scopeArbitrary(strictVariables));
}

describe('compiled Liquid renders exactly what liquidjs renders', () => {
  for (const escapeHtml of [true, false]) {
    for (const strictVariables of [false, true]) {
      it(`${escapeHtml ? 'HTML (escaping)' : 'text'} engine, ${strictVariables ? 'strict' : 'lenient'}`, () => {
        fc.assert(
          fc.property(cases(strictVariables), ([snippets, source, scope]) => {
            const engine = createLiquidEngine({ snippets, strictVariables, escapeHtml });
            const templates = engine.parse(source);
            const compilation = createLiquidCompiler(engine).compile(templates);
            if (!compilation.ok) throw new Error(`not compiled: ${compilation.reason}`);
            const expected = attempt(() => engine.renderSync(templates, scope, { globals: scope }) as string);
            const actual = attempt(() => compilation.template.render(scope, scope));
            if ('error' in expected) expect(actual).toHaveProperty('error');
            else expect(actual).toEqual(expected);
          }),
          { numRuns: 300 },
        );
      });
    }
  }
});

function engineWith(
  snippets: Record<string, string> = {},
  options: { strict?: boolean; renderMs?: number } = {},
) {
  return createLiquidEngine({
    snippets: new Map(Object.entries(snippets)),
    strictVariables: options.strict ?? false,
    escapeHtml: true,
    limits: { ...DEFAULT_LIQUID_LIMITS, renderMs: options.renderMs ?? DEFAULT_LIQUID_LIMITS.renderMs },
  });
}

function compiled(engine: Liquid, source: string) {
  const compilation = createLiquidCompiler(engine).compile(engine.parse(source));
  if (!compilation.ok) throw new Error(`not compiled: ${compilation.reason}`);
  return compilation.template;
}

describe('what falls back to liquidjs', () => {
  const cases: [string, string, Record<string, string>, RegExp][] = [
    ['tablerow', '{% tablerow i in (1..2) %}{{ i }}{% endtablerow %}', {}, /the "tablerow" tag/],
    ['cycle', "{% cycle 'a', 'b' %}", {}, /the "cycle" tag/],
    // They write to the caller's scope object: a compiled try then a liquidjs retry would count twice.
    ['increment', '{% increment n %}', {}, /the "increment" tag/],
    ['decrement', '{% decrement n %}', {}, /the "decrement" tag/],
    ['layout', "{% layout 'frame' %}x", { frame: 'a' }, /the "layout" tag/],
    ['block', '{% block b %}x{% endblock %}', {}, /the "block" tag/],
    ['a snippet name from a variable', '{% include name %}', {}, /computed when rendering/],
    ['a snippet name with Liquid in it', "{% render 'a{{ x }}' %}", {}, /computed when rendering/],
    ['no snippet name', '{% include none %}', {}, /names no snippet/],
    ['an unknown snippet', "{% include 'nope' %}", {}, /snippet "nope" cannot be loaded/],
    ['an include cycle', "{% include 'loop' %}", { loop: "a{% include 'loop' %}" }, /"loop" includes itself/],
    ['a render cycle', "{% render 'again' %}", { again: "{% render 'again' %}" }, /"again" includes itself/],
    [
      'a snippet outside the subset',
      "{% render 'table' %}",
      { table: '{% cycle 1, 2 %}' },
      /the "cycle" tag/,
    ],
    ['two operands without an operator', '{{ a b }}', {}, /no operator between them/],
  ];
  for (const [what, source, snippets, reason] of cases) {
    it(`${what}, saying why`, () => {
      const engine = engineWith(snippets);
      const compilation = createLiquidCompiler(engine).compile(engine.parse(source));
      expect(compilation.ok).toBe(false);
      expect(compilation.ok ? '' : compilation.reason).toMatch(reason);
    });
  }

  it('a tag the engine defines itself, and engine options that change semantics', () => {
    const custom = engineWith();
    custom.registerTag('shout', { render: () => 'HEY' });
    const withTag = createLiquidCompiler(custom).compile(custom.parse('{% shout %}'));
    expect(withTag).toEqual({ ok: false, reason: 'the "shout" tag' });
    const jsTruthy = new Liquid({ jsTruthy: true });
    expect(createLiquidCompiler(jsTruthy).compile(jsTruthy.parse('{{ a }}'))).toEqual({
      ok: false,
      reason: 'the engine option jsTruthy is on',
    });
  });
});

describe('compiled rendering', () => {
  const contact = { email: 'ann@example.com', attributes: { first_name: 'Ann' }, tags: ['vip'] };

  it('refuses prototype properties (ownPropertyOnly), as liquidjs does', () => {
    const source =
      '[{{ contact.constructor }}|{{ contact.__proto__ }}|{{ contact.toString }}|{{ contact.constructor.name }}' +
      '|{{ contact.tags.constructor }}|{{ contact.email.constructor }}|{{ toString }}|{{ constructor.constructor }}' +
      '|{{ contact.hasOwnProperty }}|{% for k in contact.__proto__ %}{{ k }}{% endfor %}|{{ contact.tags.push }}]' +
      '{{ contact.email.length }}{{ contact.tags.size }}';
    const engine = engineWith();
    const scope = { contact };
    expect(compiled(engine, source).render(scope, scope)).toBe('[||||||||||]151');
    expect(engine.renderSync(engine.parse(source), scope, { globals: scope })).toBe('[||||||||||]151');
    // Data may have such keys of its own (JSON.parse makes "__proto__" an own property): those are data, read as such.
    const data = JSON.parse('{"__proto__": {"polluted": "own"}, "constructor": "mine"}');
    expect(compiled(engine, '{{ d.__proto__.polluted }} {{ d.constructor }}').render({ d: data })).toBe(
      'own mine',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Strict mode: a prototype property is an unknown variable.
    const strict = engineWith({}, { strict: true });
    expect(() => compiled(strict, '{{ contact.constructor }}').render(scope, scope)).toThrow();
  });

  it('counts range items against the memory limit before allocating them', () => {
    const engine = engineWith();
    for (const source of [
      '{% for i in (1..100000000) %}{{ i }}{% endfor %}',
      '{% for i in (1..900) %}{% for j in (1..900) %}{% for k in (1..900) %}{% endfor %}{% endfor %}{% endfor %}',
    ]) {
      expect(() => compiled(engine, source).render({})).toThrow(/memory alloc limit exceeded/);
    }
  });

  it('stops loops at the render time limit', () => {
    // A limit of 0 ms is over by the first look at the clock, however fast the machine.
    const engine = engineWith({ each: '{% for x in items %}{% endfor %}' }, { renderMs: 0 });
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const scope = { items };
    for (const source of [
      '{% for a in items %}{% if a %}{% endif %}{% endfor %}',
      '{% for a in (1..3) %}{% for b in (1..3) %}{% endfor %}{% endfor %}',
      "{% render 'each' for items as x, items: items %}",
    ]) {
      expect(() => compiled(engine, source).render(scope, scope)).toThrow(/template render limit exceeded/);
    }
  });

  it('gives render snippets their own scope and include snippets the includer’s', () => {
    const engine = engineWith({
      show: '[{{ secret }}|{{ contact.email }}|{{ x }}]',
      row: '{{ forloop.index }}:{{ tag }}{% unless forloop.last %},{% endunless %}',
      stop: '{% if i == 2 %}{% break %}{% endif %}{{ i }}',
    });
    const scope = { contact };
    const render = (source: string) => compiled(engine, source).render(scope, scope);
    expect(render("{% assign secret = 's' %}{% render 'show' %}{% include 'show' %}")).toBe(
      '[|ann@example.com|][s|ann@example.com|]',
    );
    expect(render("{% render 'show', x: 1 %}{% render 'show' with contact.email as x %}")).toBe(
      '[|ann@example.com|1][|ann@example.com|ann@example.com]',
    );
    expect(render("{% include 'show', x: '<b>' %}")).toBe('[|ann@example.com|&lt;b&gt;]');
    expect(render("{% render 'row' for contact.tags as tag %}|{% render 'row' for (1..3) as tag %}")).toBe(
      '1:vip|1:1,2:2,3:3',
    );
    // An included snippet shares the loop's context: its break ends the loop.
    expect(render("{% for i in (1..3) %}{% include 'stop' %}{% endfor %}")).toBe('1');
  });
});
