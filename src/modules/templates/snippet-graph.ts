import type { ErrorDetail } from '../../lib/errors.js';
import { positionOf, snippetReferences } from './liquid-engine.js';

/** A Liquid field to start from: a template's subject, body, ..., or the snippet being saved. */
export interface SnippetRoot {
  field: string;
  source: string;
}

export interface SnippetWalkOptions {
  /** The snippet being saved: it is on the include path from the start, so including itself is a cycle. */
  self?: string | undefined;
  /** Report references to snippets that do not exist (templates: yes; a snippet on its own: no). */
  reportUnknown: boolean;
}

/**
 * Follows `{% render %}` / `{% include %}` references from the roots through
 * the available snippets, depth first. Returns the snippets used
 * (transitively) and the errors: unknown snippets where they are referenced,
 * include cycles with their path ("a -> b -> a") at the include in the root
 * that leads into them, and snippet names that are not quoted literals (they
 * cannot be resolved when the version is saved). Each snippet is explored
 * once, so deep and diamond-shaped nesting stays linear.
 */
export function walkSnippets(
  roots: SnippetRoot[],
  available: ReadonlyMap<string, string>,
  options: SnippetWalkOptions,
): { used: Record<string, string>; errors: ErrorDetail[] } {
  const used: Record<string, string> = {};
  const errors: ErrorDetail[] = [];
  const done = new Set<string>();
  const cycles = new Set<string>();

  type Ref = { name: string; line: number; column: number };

  function visit(source: string, path: string[], root: SnippetRoot, entry: Ref | undefined): void {
    const owner = path.at(-1);
    const here = entry === undefined || owner === undefined ? root.field : `snippets/${owner}`;
    for (const dynamic of dynamicReferences(source)) {
      errors.push({
        path: `/${here}`,
        line: dynamic.line,
        column: dynamic.column,
        message: `${here} at line ${dynamic.line}, column ${dynamic.column}: the snippet name in ${JSON.stringify(dynamic.tag)} must be a quoted name, like {% render 'footer' %}; snippets are resolved when the version is saved, not per recipient`,
      });
    }
    for (const ref of snippetReferences(source)) {
      const at = path.indexOf(ref.name);
      if (at >= 0) {
        const cycle = [...path.slice(at), ref.name];
        const key = cycle.join(' -> ');
        if (cycles.has(key)) continue;
        cycles.add(key);
        const where = entry ?? ref;
        const inner =
          entry !== undefined && owner !== undefined
            ? ` (snippet "${owner}" includes "${ref.name}" at line ${ref.line}, column ${ref.column})`
            : '';
        errors.push({
          path: `/${root.field}`,
          line: where.line,
          column: where.column,
          snippet: where.name,
          cycle,
          message: `${root.field} at line ${where.line}, column ${where.column}: snippet include cycle ${key}${inner}; a snippet must not include itself, directly or through other snippets`,
        });
        continue;
      }
      if (done.has(ref.name)) continue;
      const snippet = available.get(ref.name);
      if (snippet === undefined) {
        if (options.reportUnknown) {
          errors.push({
            path: `/${here}`,
            line: ref.line,
            column: ref.column,
            snippet: ref.name,
            message: `${here} at line ${ref.line}, column ${ref.column}: snippet "${ref.name}" does not exist in this workspace; create it with POST /v1/snippets or fix the name`,
          });
        }
        continue;
      }
      used[ref.name] = snippet;
      visit(snippet, [...path, ref.name], root, entry ?? ref);
      done.add(ref.name);
    }
  }

  for (const root of roots) {
    visit(root.source, options.self === undefined ? [] : [options.self], root, undefined);
  }
  return { used, errors };
}

/** `{% render x %}` / `{% include x %}` / `{% layout x %}` with a variable (or nothing) instead of a quoted name; `{% layout none %}` is fine. */
function dynamicReferences(source: string): { tag: string; line: number; column: number }[] {
  const found: { tag: string; line: number; column: number }[] = [];
  const pattern = /\{%-?\s*(?:render|include|layout(?!\s+none\s*-?%\}))\b(?!\s*['"])[^%]*%?\}?/g;
  for (const match of source.matchAll(pattern)) {
    found.push({ tag: match[0], ...positionOf(source, match.index ?? 0) });
  }
  return found;
}
