import { type FS, Liquid, LiquidError } from 'liquidjs';
import type { ErrorDetail } from '../../lib/errors.js';

/** Bounds on one template render; a template that passes them fails with a clear error instead of hogging the worker. */
export interface LiquidLimits {
  /** Wall-clock time one render may take, in milliseconds. */
  renderMs: number;
  /** Items a range loop may allocate plus characters string filters may build, per render. */
  memory: number;
  /** Characters one template source may have. */
  parseLength: number;
}

export const DEFAULT_LIQUID_LIMITS: LiquidLimits = {
  renderMs: 250,
  memory: 1_000_000,
  parseLength: 1_000_000,
};

export const SNIPPET_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$';
const snippetName = new RegExp(SNIPPET_NAME_PATTERN);

export interface LiquidEngineOptions {
  /** The workspace's snippets by name: the only "files" Liquid can read. */
  snippets: ReadonlyMap<string, string>;
  strictVariables: boolean;
  /** HTML-escape every `{{ }}` output (the HTML part); `| raw` opts out. */
  escapeHtml: boolean;
  limits?: LiquidLimits | undefined;
}

/** Raised by the snippet file system; its message names the snippet. */
export class UnknownSnippetError extends Error {
  constructor(readonly snippet: string) {
    super(
      `snippet "${snippet}" does not exist in this workspace: create it with POST /v1/snippets or fix the name`,
    );
  }
}

/**
 * A liquidjs file system that serves only the given snippets. Every lookup
 * "exists" so that an unknown name reaches readFile, whose error names it;
 * nothing here touches the disk, so `{% include '/etc/passwd' %}` is just an
 * unknown snippet.
 */
function snippetFs(snippets: ReadonlyMap<string, string>): FS {
  const read = (name: string): string => {
    const source = snippetName.test(name) ? snippets.get(name) : undefined;
    if (source === undefined) throw new UnknownSnippetError(name);
    return source;
  };
  return {
    exists: async () => true,
    existsSync: () => true,
    readFile: async (name) => read(name),
    readFileSync: read,
    resolve: (_dir, file) => file,
    contains: async () => true,
    containsSync: () => true,
    sep: '/',
    dirname: () => '',
  };
}

export function createLiquidEngine(options: LiquidEngineOptions): Liquid {
  const limits = options.limits ?? DEFAULT_LIQUID_LIMITS;
  return new Liquid({
    fs: snippetFs(options.snippets),
    // One pseudo root, so lookups reach the snippet fs; it ignores the directory anyway.
    root: ['snippets'],
    partials: ['snippets'],
    layouts: ['snippets'],
    relativeReference: false,
    extname: '',
    strictVariables: options.strictVariables,
    strictFilters: true,
    ownPropertyOnly: true,
    outputEscape: options.escapeHtml ? 'escape' : undefined,
    renderLimit: limits.renderMs,
    memoryLimit: limits.memory,
    parseLimit: limits.parseLength,
    // Parses each snippet once per engine, not per recipient. Safe: an engine serves one set of snippets (one version).
    cache: true,
  });
}

/** Static `{% render 'x' %}` / `{% include "x" %}` / `{% layout 'x' %}` references, with where they are. */
export function snippetReferences(source: string): { name: string; line: number; column: number }[] {
  const found: { name: string; line: number; column: number }[] = [];
  const pattern = /\{%-?\s*(?:render|include|layout)\s+(['"])([^'"]*)\1/g;
  for (const match of source.matchAll(pattern)) {
    found.push({ name: match[2] ?? '', ...positionOf(source, match.index ?? 0) });
  }
  return found;
}

export function positionOf(source: string, index: number): { line: number; column: number } {
  const before = source.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}

/** Turns a liquidjs error into an error detail a user can act on: what, where (line and column), and how to fix it. */
export function describeLiquidError(
  error: unknown,
  field: string,
  limits = DEFAULT_LIQUID_LIMITS,
): ErrorDetail {
  const base: ErrorDetail = { path: `/${field}`, message: String(error) };
  if (!(error instanceof Error)) return base;
  const liquid = LiquidError.is(error) ? error : undefined;
  const position = liquid ? safePosition(liquid) : undefined;
  const where = position ? { line: position[0], column: position[1], ...tagOf(liquid) } : {};
  const original = liquid?.originalError ?? error;
  const raw = stripPosition(error.message);
  const at = position ? ` at line ${position[0]}, column ${position[1]}` : '';
  if (original instanceof UnknownSnippetError || findUnknownSnippet(error)) {
    const name = original instanceof UnknownSnippetError ? original.snippet : findUnknownSnippet(error);
    return {
      ...base,
      ...where,
      snippet: name,
      message: `${field}${at}: snippet "${name}" does not exist in this workspace; create it with POST /v1/snippets or fix the name`,
    };
  }
  if (liquid?.name === 'UndefinedVariableError') {
    const variable = /undefined variable: (.+)$/.exec(raw)?.[1] ?? raw;
    return {
      ...base,
      ...where,
      variable,
      message: `${field}${at}: unknown variable "${variable}"; give it in the data, use a default (\`{{ ${variable} | default: "..." }}\`), or turn strict mode off`,
    };
  }
  if (/memory alloc limit exceeded/.test(raw)) {
    return {
      ...base,
      ...where,
      message: `${field}${at}: the template went over its limit of ${limits.memory} loop items and built characters per render; loop over fewer items`,
    };
  }
  if (/render limit exceeded/.test(raw)) {
    return {
      ...base,
      ...where,
      message: `${field}${at}: the template took longer than ${limits.renderMs} ms to render; loop over fewer items`,
    };
  }
  if (/parse length limit exceeded/.test(raw)) {
    return {
      ...base,
      message: `${field}: the template is longer than ${limits.parseLength} characters; shorten it`,
    };
  }
  return { ...base, ...where, message: `${field}${at}: ${raw}; fix the Liquid syntax` };
}

/** The tag the error is in, and the error's offset into it; lets callers find it in another copy of the source. */
function tagOf(error: LiquidError | undefined): { tag?: string; offset?: number } {
  const token = error?.token as { input?: string; begin?: number } | undefined;
  if (!token || typeof token.input !== 'string' || token.begin === undefined) return {};
  const input = token.input;
  const start = Math.max(input.lastIndexOf('{{', token.begin), input.lastIndexOf('{%', token.begin));
  if (start < 0) return {};
  const close = input.slice(start, start + 2) === '{{' ? '}}' : '%}';
  const end = input.indexOf(close, token.begin);
  if (end < 0) return {};
  return { tag: input.slice(start, end + 2), offset: token.begin - start };
}

function safePosition(error: LiquidError): [number, number] | undefined {
  try {
    const [line, column] = error.token.getPosition();
    return typeof line === 'number' && typeof column === 'number' ? [line, column] : undefined;
  } catch {
    return undefined;
  }
}

function stripPosition(message: string): string {
  return message.replace(/, line:\d+, col:\d+$/, '').replace(/^ENOENT: /, '');
}

/** Walks nested render errors (a snippet including a missing snippet) for the original cause. */
function findUnknownSnippet(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    if (current instanceof UnknownSnippetError) return current.snippet;
    current = (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}
