import { Drop, Liquid, toValue, toValueSync } from 'liquidjs';

/**
 * Liquid's value semantics as liquidjs 10.x implements them, for the compiled
 * renderer (liquid-compiled.ts). liquidjs exports the pieces it can
 * (`toValue`, `toValueSync`, filters, Context); what it keeps private is
 * copied here line for line, without its generators. The differential tests
 * in liquid-compiled.test.ts hold these to liquidjs's own output.
 */

/** liquidjs's `stringify`: what `{{ }}` writes. Arrays are joined without a separator, nil is empty. */
export function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = toValue(value);
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => stringify(x)).join('');
  return String(v);
}

/**
 * liquidjs drives every value that crosses one of its generator boundaries
 * (a property read, a filter's result) to completion when it is an iterator:
 * generator filters (`map`, `sort`, `where`) and generator methods of drops
 * return one.
 */
export function settle(value: unknown): unknown {
  return typeof value === 'object' &&
    value !== null &&
    typeof (value as Iterator<unknown>).next === 'function'
    ? toValueSync(value)
    : value;
}

/** Only false and nil are falsy (liquidjs without `jsTruthy`); an empty string is truthy. */
export function isFalsy(value: unknown): boolean {
  const v = toValue(value);
  return v === false || v === undefined || v === null;
}

function isObject(value: unknown): value is object {
  return value !== null && (typeof value === 'object' || typeof value === 'function');
}

/** What a `for` loop iterates: arrays as they are, a non-empty string as one item, objects as [key, value] pairs. */
export function toEnumerable(value: unknown): unknown[] {
  const v = toValue(value);
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && v.length > 0) return [v];
  if (isObject(v) && Symbol.iterator in v) return Array.from(v as Iterable<unknown>);
  if (isObject(v)) return Object.keys(v).map((key) => [key, (v as Record<string, unknown>)[key]]);
  return [];
}

/** `(low..high)`: liquidjs's `range(+low, +high + 1)`. */
export function range(start: number, stop: number): number[] {
  const items: number[] = [];
  for (let i = start; i < stop; i++) items.push(i);
  return items;
}

interface Comparable {
  equals(other: unknown): unknown;
  gt(other: unknown): unknown;
  geq(other: unknown): unknown;
  lt(other: unknown): unknown;
  leq(other: unknown): unknown;
}

/** nil, empty, blank (and any drop with these methods) compare themselves. */
function isComparable(value: unknown): value is Comparable {
  if (!value) return false;
  const v = value as Partial<Record<keyof Comparable, unknown>>;
  return (
    typeof v.equals === 'function' &&
    typeof v.gt === 'function' &&
    typeof v.geq === 'function' &&
    typeof v.lt === 'function' &&
    typeof v.leq === 'function'
  );
}

export function equals(lhs: unknown, rhs: unknown): boolean {
  if (isComparable(lhs)) return toValueSync(lhs.equals(rhs)) as boolean;
  if (isComparable(rhs)) return toValueSync(rhs.equals(lhs)) as boolean;
  const l = toValue(lhs);
  const r = toValue(rhs);
  if (Array.isArray(l)) return Array.isArray(r) && arrayEquals(l, r);
  return l === r;
}

function arrayEquals(lhs: unknown[], rhs: unknown[]): boolean {
  if (lhs.length !== rhs.length) return false;
  for (let i = 0; i < lhs.length; i++) if (!equals(lhs[i], rhs[i])) return false;
  return true;
}

function arrayIncludes(items: unknown[], item: unknown): boolean {
  for (const value of items) if (equals(value, item)) return true;
  return false;
}

// JavaScript's own relational operators on whatever the values are, as liquidjs compares them (typed as numbers for TypeScript only).
type Relation = (l: number, r: number) => boolean;
const relations: Record<'>' | '<' | '>=' | '<=', [Relation, keyof Comparable, keyof Comparable]> = {
  '>': [(l, r) => l > r, 'gt', 'lt'],
  '<': [(l, r) => l < r, 'lt', 'gt'],
  '>=': [(l, r) => l >= r, 'geq', 'leq'],
  '<=': [(l, r) => l <= r, 'leq', 'geq'],
};

const BINARY_OPERATORS = ['==', '!=', '>', '<', '>=', '<=', 'contains', 'and', 'or'] as const;
export type BinaryOperator = (typeof BINARY_OPERATORS)[number];

export function isBinaryOperator(operator: string): operator is BinaryOperator {
  return (BINARY_OPERATORS as readonly string[]).includes(operator);
}

/** liquidjs's `defaultOperators`, without generators. Both operands are already evaluated: Liquid does not short-circuit. */
export function binaryOperator(operator: BinaryOperator): (l: unknown, r: unknown) => boolean {
  switch (operator) {
    case '==':
      return equals;
    case '!=':
      return (l, r) => !equals(l, r);
    case 'contains':
      return contains;
    case 'and':
      return (l, r) => !isFalsy(l) && !isFalsy(r);
    case 'or':
      return (l, r) => !isFalsy(l) || !isFalsy(r);
    default: {
      const [relation, method, mirrored] = relations[operator];
      return (l, r) => {
        if (isComparable(l)) return toValueSync(l[method](r)) as boolean;
        if (isComparable(r)) return toValueSync(r[mirrored](l)) as boolean;
        return relation(toValue(l) as number, toValue(r) as number);
      };
    }
  }
}

function contains(lhs: unknown, rhs: unknown): boolean {
  const l = toValue(lhs);
  if (Array.isArray(l)) return arrayIncludes(l, rhs);
  const indexOf = (l as { indexOf?: unknown } | null | undefined)?.indexOf;
  if (typeof indexOf === 'function') return (indexOf.call(l, toValue(rhs)) as number) > -1;
  return false;
}

export type ForloopDropClass = new (
  length: number,
  collection: string,
  variable: string | undefined,
) => Drop & {
  next(): void;
};

let forloopDropClass: ForloopDropClass | undefined;

/**
 * liquidjs does not export its `forloop` drop; compiled loops use that very
 * class, taken once from a loop liquidjs renders, so `{{ forloop }}` and every
 * `forloop.x` behave exactly as in liquidjs.
 */
export function forloopDrop(): ForloopDropClass {
  if (forloopDropClass) return forloopDropClass;
  const probe = new Liquid();
  let drop: unknown;
  probe.registerFilter('take_forloop', (value: unknown) => {
    drop = value;
    return '';
  });
  probe.parseAndRenderSync('{% for x in (1..1) %}{{ forloop | take_forloop }}{% endfor %}');
  if (!(drop instanceof Drop)) throw new Error('liquidjs no longer gives loops a forloop drop');
  forloopDropClass = drop.constructor as ForloopDropClass;
  return forloopDropClass;
}
