import { convert } from 'html-to-text';
import type { Liquid, Template } from 'liquidjs';
import type { TemplateFormat } from '../../db/index.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { type CompiledLiquid, createLiquidCompiler, type LiquidCompiler } from './liquid-compiled.js';
import {
  createLiquidEngine,
  DEFAULT_LIQUID_LIMITS,
  describeLiquidError,
  type LiquidLimits,
  positionOf,
} from './liquid-engine.js';
import { walkSnippets } from './snippet-graph.js';

/**
 * What a template renders with, per recipient. Other modules produce the URLs
 * (signed tokens); the renderer only substitutes them.
 */
export interface RenderContext {
  contact: {
    id?: string | undefined;
    email: string;
    external_id: string | null;
    attributes: Record<string, unknown>;
    tags: string[];
    timezone: string | null;
    locale: string | null;
    status: string;
  };
  lists: { id: string; name: string; status?: string | undefined }[];
  /** postal_address: the CAN-SPAM postal address; null or absent when none is set. */
  workspace: { name: string; postal_address?: string | null | undefined };
  campaign?: { id: string; name: string } | undefined;
  unsubscribe_url: string;
  preferences_url: string;
  view_in_browser_url: string;
}

export interface RenderedMessage {
  subject: string;
  preheader: string;
  html: string;
  text: string;
}

export interface TemplateSource {
  format: TemplateFormat;
  subject: string;
  preheader: string | null;
  body: string;
  text_body: string | null;
}

export interface CompiledArtefacts {
  html: string;
  text: string;
  /** The snippets the version uses (transitively), as they are now. */
  snippets: Record<string, string>;
}

/** A version ready to send: Liquid parsed once, rendered per recipient. */
export interface PreparedTemplate {
  render(context: RenderContext): Promise<RenderedMessage>;
}

export interface PreparableVersion {
  subject: string;
  /** The source, so render errors can point into it rather than into the compiled HTML. */
  body?: string | undefined;
  preheader: string | null;
  compiled_html: string;
  compiled_text: string;
  text_body: string | null;
  snippets: Record<string, string>;
}

// Liquid is swapped for inert tokens while MJML, juice and html-to-text work,
// so none of them escapes, re-quotes or wraps it. Letters and digits only:
// they survive attribute quoting, URL encoding and upper-casing (headings in text).
const LIQUID_TAG = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;
const PLACEHOLDER = /xlq(\d+)qx/gi;

function protect(source: string): { text: string; tags: string[] } {
  const tags: string[] = [];
  const text = source.replace(LIQUID_TAG, (tag) => `xlq${tags.push(tag) - 1}qx`);
  return { text, tags };
}

function restore(text: string, tags: string[]): string {
  return text.replace(PLACEHOLDER, (whole, n: string) => tags[Number(n)] ?? whole);
}

function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      // The preheader is a hidden preview line, not content.
      { selector: 'div.herald-preheader', format: 'skip' },
    ],
  });
}

/** Plain-text form of Liquid-bearing HTML, with the Liquid untouched. */
export function textOf(html: string): string {
  const { text, tags } = protect(html);
  return restore(htmlToText(text), tags);
}

const PREHEADER_DIV =
  '<div class="herald-preheader" style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;">';

function withPreheader(html: string, preheader: string | null): string {
  if (!preheader) return html;
  const div = `${PREHEADER_DIV}{{ __preheader }}</div>`;
  const body = /<body[^>]*>/i.exec(html);
  if (!body) return div + html;
  const at = body.index + body[0].length;
  return html.slice(0, at) + div + html.slice(at);
}

export interface TemplateCompilerOptions {
  limits?: LiquidLimits | undefined;
  /** Render Liquid through compiled closures where it can (default); false renders every field with liquidjs (the benchmark's baseline). */
  compiledLiquid?: boolean | undefined;
}

/** One Liquid field of a prepared version, parsed once; compiled when it is in the compiled subset. */
interface PreparedField {
  engine: Liquid;
  field: string;
  templates: Template[];
  compiled: CompiledLiquid | undefined;
}

/**
 * Turns a version's source into its stored artefacts (MJML -> HTML, CSS
 * inlined, text part) once at save time, and prepares stored versions for
 * per-recipient rendering. `stats` counts the expensive compiles, so tests
 * can prove sending never compiles, and the prepared fields liquidjs renders
 * because they are outside the compiled subset (liquid-compiled.ts).
 */
export function createTemplateCompiler(options: TemplateCompilerOptions = {}) {
  const limits = options.limits ?? DEFAULT_LIQUID_LIMITS;
  const stats = { compiles: 0, prepares: 0, liquidFallbacks: 0 };

  function engines(snippets: ReadonlyMap<string, string>, strictVariables: boolean) {
    return {
      html: createLiquidEngine({ snippets, strictVariables, escapeHtml: true, limits }),
      text: createLiquidEngine({ snippets, strictVariables, escapeHtml: false, limits }),
    };
  }

  function parseField(engine: Liquid, field: string, source: string, errors: ErrorDetail[]) {
    try {
      return engine.parse(source);
    } catch (error) {
      errors.push(describeLiquidError(error, field, limits));
      return undefined;
    }
  }

  /** Finds the snippets `sources` use, following snippets that use snippets; reports unknown ones where they are referenced, and include cycles. */
  function collectSnippets(
    sources: [string, string][],
    available: ReadonlyMap<string, string>,
    errors: ErrorDetail[],
  ): Record<string, string> {
    const walked = walkSnippets(
      sources.map(([field, source]) => ({ field, source })),
      available,
      { reportUnknown: true },
    );
    errors.push(...walked.errors);
    return walked.used;
  }

  async function compileMjml(body: string, errors: ErrorDetail[]): Promise<string | undefined> {
    try {
      // Loaded when first needed: mjml and juice hold about 40 MB, and only saving a version uses them, never a sender.
      const { default: mjml2html } = await import('mjml');
      const result = await mjml2html(body, {
        validationLevel: 'strict',
        // mj-include reads files: templates never touch the file system.
        ignoreIncludes: true,
        keepComments: false,
      });
      return result.html;
    } catch (error) {
      type MjmlIssue = { line?: number; message?: string; tagName?: string };
      const { errors: issues } = error as { errors?: MjmlIssue[] };
      const details = Array.isArray(issues) ? issues : undefined;
      if (Array.isArray(details) && details.length > 0) {
        for (const d of details) {
          errors.push({
            path: '/body',
            line: d.line,
            ...(d.tagName ? { tag: d.tagName } : {}),
            message: `body at line ${d.line}: ${d.message}; fix the MJML`,
          });
        }
      } else {
        errors.push({
          path: '/body',
          message: `body is not valid MJML: ${(error as Error).message}; it must start with <mjml> and close every tag`,
        });
      }
      return undefined;
    }
  }

  function refuse(errors: ErrorDetail[]): never {
    throw new DomainError(
      'TEMPLATE_INVALID',
      `the template is invalid: ${errors.map((e) => e.message).join('; ')}`,
      errors,
    );
  }

  return {
    stats,

    /** Parses standalone Liquid fields (a campaign's subject override, say); one error per bad field, with line and column. */
    checkFields(fields: Record<string, string>): ErrorDetail[] {
      const errors: ErrorDetail[] = [];
      const engine = engines(new Map(), false).text;
      for (const [field, source] of Object.entries(fields)) parseField(engine, field, source, errors);
      return errors;
    },

    /** Validates and compiles a version's source; throws TEMPLATE_INVALID listing every error with its line and column. */
    async compile(
      source: TemplateSource,
      available: ReadonlyMap<string, string>,
    ): Promise<CompiledArtefacts> {
      const errors: ErrorDetail[] = [];
      const fields: [string, string][] = [
        ['subject', source.subject],
        ['body', source.body],
      ];
      if (source.preheader) fields.push(['preheader', source.preheader]);
      if (source.text_body) fields.push(['text', source.text_body]);
      const snippets = collectSnippets(fields, available, errors);
      const check = engines(new Map(Object.entries(snippets)), false);
      for (const [field, text] of fields) parseField(check.html, field, text, errors);
      for (const [name, text] of Object.entries(snippets)) {
        parseField(check.html, `snippets/${name}`, text, errors);
      }
      if (errors.length > 0) refuse(errors);

      stats.compiles++;
      const { text: inert, tags } = protect(source.body);
      let html: string | undefined = inert;
      if (source.format === 'mjml') html = await compileMjml(inert, errors);
      if (html === undefined) refuse(errors);
      const { default: juice } = await import('juice');
      html = juice(html, { preserveMediaQueries: true, preserveFontFaces: true, applyWidthAttributes: true });

      const kept = new Set([...html.matchAll(PLACEHOLDER)].map((m) => Number(m[1])));
      const lost = tags.map((tag, i) => ({ tag, i })).filter(({ i }) => !kept.has(i));
      if (lost.length > 0) {
        refuse(
          lost.map(({ tag }) => ({
            path: '/body',
            ...(source.body.includes(tag) ? positionOf(source.body, source.body.indexOf(tag)) : {}),
            message: `body: the Liquid ${JSON.stringify(tag)} sits where MJML drops text (between MJML elements); wrap it in <mj-raw>`,
          })),
        );
      }
      const text = source.text_body ?? restore(htmlToText(html), tags);
      const compiledHtml = withPreheader(restore(html, tags), source.preheader);
      // The artefacts must still parse: MJML or juice could have split a tag in a way the checks above cannot see.
      parseField(check.html, 'body', compiledHtml, errors);
      parseField(check.text, 'text', text, errors);
      if (errors.length > 0) refuse(errors);
      return { html: compiledHtml, text, snippets };
    },

    /** Parses a stored version's Liquid once; the result renders any number of recipients. */
    prepare(version: PreparableVersion, opts: { strictVariables: boolean }): PreparedTemplate {
      stats.prepares++;
      const snippets = new Map(Object.entries(version.snippets));
      // A generated text part renders the snippets' text, not their HTML.
      const textSnippets =
        version.text_body === null
          ? new Map([...snippets].map(([name, src]) => [name, textOf(src)] as const))
          : snippets;
      const html = createLiquidEngine({
        snippets,
        strictVariables: opts.strictVariables,
        escapeHtml: true,
        limits,
      });
      const plain = createLiquidEngine({
        snippets: textSnippets,
        strictVariables: opts.strictVariables,
        escapeHtml: false,
        limits,
      });
      const compilers = { html: createLiquidCompiler(html), plain: createLiquidCompiler(plain) };
      const fields = {
        subject: prepareField(plain, compilers.plain, 'subject', version.subject),
        preheader: prepareField(plain, compilers.plain, 'preheader', version.preheader ?? ''),
        html: prepareField(html, compilers.html, 'body', version.compiled_html),
        text: prepareField(plain, compilers.plain, 'text', version.compiled_text),
      };

      // Positions in the compiled HTML mean little to the author: point at the same tag in the source instead.
      function inSource(detail: ErrorDetail, field: string): ErrorDetail {
        const source =
          field === 'body'
            ? version.body
            : field === 'text'
              ? (version.text_body ?? version.body)
              : undefined;
        const tag = typeof detail.tag === 'string' ? detail.tag : undefined;
        if (!source || !tag || detail.line === undefined) return detail;
        const index = source.indexOf(tag);
        if (index < 0) return detail;
        const { line, column } = positionOf(source, index + Number(detail.offset ?? 0));
        const message = detail.message.replace(
          / at line \d+, column \d+/,
          ` at line ${line}, column ${column}`,
        );
        return { ...detail, line, column, message };
      }

      // Synchronous: the snippet file system is in memory, and skipping a promise per tag matters per recipient.
      // Scope as globals too, so `{% render %}` snippets, which get an isolated scope, still see contact, workspace and the URLs.
      function run({ engine, field, templates, compiled }: PreparedField, scope: object): string {
        if (compiled) {
          try {
            return compiled.render(scope, scope);
          } catch {
            // liquidjs renders it again below: its error is the one users see, with line and column.
          }
        }
        try {
          return engine.renderSync(templates, scope, { globals: scope }) as string;
        } catch (error) {
          const detail = inSource(describeLiquidError(error, field, limits), field);
          const message = `the template could not be rendered: ${detail.message}`;
          if (isRenderTimeLimit(error)) throw new RenderTimeLimitError(message, [detail]);
          throw new DomainError('TEMPLATE_RENDER_FAILED', message, [detail]);
        }
      }

      return {
        async render(context) {
          const subject = run(fields.subject, context);
          const preheader = run(fields.preheader, context);
          const scope = { ...context, __preheader: preheader };
          return {
            subject: subject.replace(/\s+/g, ' ').trim(),
            preheader: preheader.trim(),
            html: run(fields.html, scope),
            text: run(fields.text, context),
          };
        },
      };
    },
  };

  function prepareField(
    engine: Liquid,
    compiler: LiquidCompiler,
    field: string,
    source: string,
  ): PreparedField {
    const templates = parseStored(engine, field, source);
    if (options.compiledLiquid === false) return { engine, field, templates, compiled: undefined };
    const compilation = compiler.compile(templates);
    if (!compilation.ok) stats.liquidFallbacks++;
    return { engine, field, templates, compiled: compilation.ok ? compilation.template : undefined };
  }

  function parseStored(engine: Liquid, field: string, source: string): Template[] {
    try {
      return engine.parse(source);
    } catch (error) {
      // Stored versions were checked at save time; failing here means the limits changed since.
      const detail = describeLiquidError(error, field, limits);
      throw new DomainError('TEMPLATE_INVALID', `the stored template no longer parses: ${detail.message}`, [
        detail,
      ]);
    }
  }
}

export type TemplateCompiler = ReturnType<typeof createTemplateCompiler>;

/**
 * A render that ran out of time. Unlike other render errors it may pass on
 * another try (a pause for garbage collection, a busy machine, the first use
 * of a locale's date names), so senders retry it rather than fail the recipient.
 */
export class RenderTimeLimitError extends DomainError {
  constructor(message: string, details: ErrorDetail[]) {
    super('TEMPLATE_RENDER_FAILED', message, details);
    this.name = 'RenderTimeLimitError';
  }
}

function isRenderTimeLimit(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; depth++) {
    if (/render limit exceeded/.test(current.message)) return true;
    current = (current as { originalError?: unknown }).originalError;
  }
  return false;
}
