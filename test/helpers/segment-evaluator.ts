import { createHash } from 'node:crypto';
import {
  anniversaryDays,
  asciiLower,
  revenueHolds,
  windowBounds,
} from '../../src/modules/segments/segment-compiler.js';
import {
  type Comparison,
  type Condition,
  type CountRule,
  compareDecimal,
  dateKey,
  type Scalar,
  type Window,
} from '../../src/modules/segments/segment-definition.js';

/**
 * The segment language evaluated in memory, written from the README's
 * definitions independently of the SQL: the property tests compare it with
 * what the compiled queries return on the same data.
 */

export interface WorldContact {
  id: string;
  email: string;
  status: string;
  attributes: Record<string, unknown>;
  tags: string[];
  timezone: string | null;
  locale: string | null;
  external_id: string | null;
  created_at: Date;
}

export interface World {
  contacts: WorldContact[];
  memberships: { list_id: string; contact_id: string; status: string }[];
  events: {
    contact_id: string | null;
    type: string;
    name: string | null;
    occurred_at: Date;
    properties: Record<string, unknown>;
  }[];
  sends: {
    campaign_id: string;
    contact_id: string;
    status: string;
    error: string | null;
    finished_at: Date | null;
  }[];
  hits: {
    campaign_id: string | null;
    contact_id: string;
    kind: string;
    occurred_at: Date;
    classification: string;
  }[];
  conversions: {
    contact_id: string | null;
    event: string | null;
    currency: string | null;
    revenue: string | null;
    occurred_at: Date;
  }[];
  /** Rows of contact_engagement (engagement refresh results); a contact may have none. */
  engagement: {
    contact_id: string;
    score: number;
    p_open: number | null;
    p_click: number | null;
    last_engaged_at: Date | null;
  }[];
  segments: ReadonlyMap<string, Condition>;
}

const DAY_MS = 86_400_000;

/** jsonb_extract_path: object keys, array positions as integers in text (negative from the end). */
function extract(value: unknown, path: string[]): unknown {
  let current: unknown = value;
  for (const key of path) {
    if (Array.isArray(current)) {
      if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(key)) return undefined;
      const n = Number.parseInt(key.trim(), 10);
      if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 31 - 1) return undefined;
      const index = n < 0 ? current.length + n : n;
      if (index < 0 || index >= current.length) return undefined;
      current = current[index];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return current;
}

function scalarEqual(a: unknown, b: Scalar): boolean {
  return typeof a === typeof b && a === b;
}

function storedDate(x: unknown): string | undefined {
  if (typeof x !== 'string') return undefined;
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(x)) return `${x}T00:00:00.000Z`;
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$/.test(x)) return x;
  return undefined;
}

/** A comparison on a JSON value; `x` undefined when absent. */
function jsonHolds(x: unknown, cmp: Comparison, now: Date): boolean {
  const v = cmp.value;
  switch (cmp.operator) {
    case 'equals':
      return x !== undefined && scalarEqual(x, v as Scalar);
    case 'not_equals':
      return !(x !== undefined && scalarEqual(x, v as Scalar));
    case 'in':
      return x !== undefined && (v as Scalar[]).some((item) => scalarEqual(x, item));
    case 'exists':
      return x !== undefined && x !== null;
    case 'contains': {
      const element = Array.isArray(x) && x.some((item) => scalarEqual(item, v as Scalar));
      if (typeof v !== 'string') return element;
      return (typeof x === 'string' && asciiLower(x).includes(asciiLower(v))) || element;
    }
    case 'starts_with':
      return typeof x === 'string' && asciiLower(x).startsWith(asciiLower(v as string));
    case 'ends_with':
      return typeof x === 'string' && asciiLower(x).endsWith(asciiLower(v as string));
    case 'greater_than':
      return typeof x === 'number' && x > (v as number);
    case 'less_than':
      return typeof x === 'number' && x < (v as number);
    case 'between': {
      const [low, high] = v as Scalar[];
      if (typeof low === 'number') return typeof x === 'number' && low <= x && x <= (high as number);
      const key = storedDate(x);
      return (
        key !== undefined &&
        (dateKey(low as string) as string) <= key &&
        key <= (dateKey(high as string) as string)
      );
    }
    case 'before': {
      const key = storedDate(x);
      return key !== undefined && key < (dateKey(v as string) as string);
    }
    case 'after': {
      const key = storedDate(x);
      return key !== undefined && key > (dateKey(v as string) as string);
    }
    case 'within_last_days': {
      const key = storedDate(x);
      const from = new Date(now.getTime() - (v as number) * DAY_MS).toISOString();
      return key !== undefined && from <= key && key <= now.toISOString();
    }
    case 'more_than_days_ago': {
      const key = storedDate(x);
      return key !== undefined && key < new Date(now.getTime() - (v as number) * DAY_MS).toISOString();
    }
    case 'anniversary_in_days': {
      const key = storedDate(x);
      return key !== undefined && anniversaryDays(now, v as number).includes(key.slice(5, 10));
    }
  }
}

function textHolds(x: string | null, cmp: Comparison, lowerValues: boolean): boolean {
  const norm = (s: string) => (lowerValues ? asciiLower(s) : s);
  const v = cmp.value as string;
  switch (cmp.operator) {
    case 'equals':
      return x !== null && x === norm(v);
    case 'not_equals':
      return !(x !== null && x === norm(v));
    case 'in':
      return x !== null && (cmp.value as string[]).map(norm).includes(x);
    case 'exists':
      return x !== null;
    case 'contains':
      return x !== null && asciiLower(x).includes(asciiLower(v));
    case 'starts_with':
      return x !== null && asciiLower(x).startsWith(asciiLower(v));
    case 'ends_with':
      return x !== null && asciiLower(x).endsWith(asciiLower(v));
    default:
      throw new Error(`operator ${cmp.operator} on text`);
  }
}

function dateHolds(at: Date, cmp: Comparison, now: Date): boolean {
  const t = at.getTime();
  const v = cmp.value;
  const ms = (s: string) => Date.parse(dateKey(s) as string);
  switch (cmp.operator) {
    case 'before':
      return t < ms(v as string);
    case 'after':
      return t > ms(v as string);
    case 'between': {
      const [a, b] = v as string[];
      return ms(a as string) <= t && t <= ms(b as string);
    }
    case 'within_last_days':
      return now.getTime() - (v as number) * DAY_MS <= t && t <= now.getTime();
    case 'more_than_days_ago':
      return t < now.getTime() - (v as number) * DAY_MS;
    case 'anniversary_in_days':
      return anniversaryDays(now, v as number).includes(at.toISOString().slice(5, 10));
    default:
      throw new Error(`operator ${cmp.operator} on a date`);
  }
}

function inWindow(at: Date | null, window: Window | undefined, now: Date): boolean {
  const { since, until } = windowBounds(window, now);
  if (!since && !until) return true;
  if (!at) return false;
  return (!since || at >= since) && (!until || at < until);
}

function countHolds(n: number, rule: CountRule): boolean {
  if (rule.operator === 'at_least') return n >= rule.value;
  if (rule.operator === 'at_most') return n <= rule.value;
  return n === rule.value;
}

function sumDecimals(values: string[]): string {
  let total = 0n;
  for (const v of values) {
    const negative = v.startsWith('-');
    const [whole = '0', fraction = ''] = (negative ? v.slice(1) : v).split('.');
    const n = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
    total += negative ? -n : n;
  }
  const negative = total < 0n;
  const abs = negative ? -total : total;
  return `${negative ? '-' : ''}${abs / 1_000_000n}.${String(abs % 1_000_000n).padStart(6, '0')}`;
}

export function evaluateSegment(definition: Condition, world: World, now: Date): Set<string> {
  const matches = (node: Condition, c: WorldContact, depth: number): boolean => {
    if (depth > 60) throw new Error('segment cycle');
    if ('all' in node) return node.all.every((child) => matches(child, c, depth + 1));
    if ('any' in node) return node.any.some((child) => matches(child, c, depth + 1));
    if ('not' in node) return !matches(node.not, c, depth + 1);
    if ('attribute' in node) {
      const path = typeof node.attribute === 'string' ? [node.attribute] : node.attribute;
      return jsonHolds(extract(c.attributes, path), node, now);
    }
    if ('field' in node) {
      const emailKey = c.email.toLowerCase();
      switch (node.field) {
        case 'email':
          return textHolds(emailKey, node, true);
        case 'domain':
          return textHolds(emailKey.slice(emailKey.lastIndexOf('@') + 1), node, true);
        case 'status':
          return textHolds(c.status, node, false);
        case 'timezone':
          return textHolds(c.timezone, node, false);
        case 'locale':
          return textHolds(c.locale, node, false);
        case 'external_id':
          return textHolds(c.external_id, node, false);
        case 'created_at':
          return dateHolds(c.created_at, node, now);
        case 'tags':
          if (node.operator === 'contains') return c.tags.includes(node.value as string);
          if (node.operator === 'in') return (node.value as string[]).some((t) => c.tags.includes(t));
          return c.tags.length > 0;
      }
    }
    if ('sample' in node) {
      const hex = createHash('md5')
        .update(c.id + (node.sample.seed ?? ''))
        .digest('hex')
        .slice(0, 8);
      return Number.parseInt(hex, 16) % 10000 < Math.round(node.sample.percent * 100);
    }
    if ('segment' in node) {
      const inner = world.segments.get(node.segment);
      if (!inner) throw new Error(`unknown segment ${node.segment}`);
      return matches(inner, c, depth + 1);
    }
    if ('list' in node) {
      const statuses: string[] = node.status ?? ['confirmed', 'unconfirmed'];
      return world.memberships.some(
        (m) => m.list_id === node.list && m.contact_id === c.id && statuses.includes(m.status),
      );
    }
    if ('event' in node) {
      const rule: CountRule =
        node.performed === false
          ? { operator: 'exactly', value: 0 }
          : (node.count ?? { operator: 'at_least', value: 1 });
      const n = world.events.filter(
        (e) =>
          e.contact_id === c.id &&
          e.type === (node.type ?? 'track') &&
          e.name === node.event &&
          inWindow(e.occurred_at, node.window, now) &&
          (node.where ?? []).every((f) =>
            jsonHolds(
              extract(e.properties, typeof f.property === 'string' ? [f.property] : f.property),
              f,
              now,
            ),
          ),
      ).length;
      return countHolds(n, rule);
    }
    if ('score' in node) {
      // README: a contact without computed engagement (or without a model) has no value.
      const row = world.engagement.find((e) => e.contact_id === c.id);
      const column = {
        engagement: 'score',
        open_probability: 'p_open',
        click_probability: 'p_click',
      } as const;
      const x = row ? row[column[node.score]] : null;
      if (node.operator === 'exists') return x !== null;
      if (x === null) return false;
      if (node.operator === 'greater_than') return x > (node.value as number);
      if (node.operator === 'less_than') return x < (node.value as number);
      const [low, high] = node.value as [number, number];
      return low <= x && x <= high;
    }
    if ('engagement' in node && node.engagement === 'at_risk') {
      // README: engaged in the last 180 days, and either not in the last 60 or an open probability below 0.1.
      const row = world.engagement.find((e) => e.contact_id === c.id);
      const last = row?.last_engaged_at?.getTime();
      if (last === undefined || last < now.getTime() - 180 * DAY_MS) return false;
      return last < now.getTime() - 60 * DAY_MS || (row?.p_open != null && row.p_open < 0.1);
    }
    if ('engagement' in node) {
      const campaign = node.campaign && node.campaign !== 'any' ? node.campaign : undefined;
      const sent = (status: string, extra: (error: string | null) => boolean) =>
        world.sends.some(
          (s) =>
            s.contact_id === c.id &&
            s.status === status &&
            (!campaign || s.campaign_id === campaign) &&
            inWindow(s.finished_at, node.window, now) &&
            extra(s.error),
        );
      const hit = (kind: string) =>
        world.hits.some(
          (h) =>
            h.contact_id === c.id &&
            h.kind === kind &&
            (campaign ? h.campaign_id === campaign : h.campaign_id !== null) &&
            inWindow(h.occurred_at, node.window, now) &&
            (!node.human_only || h.classification === 'human' || h.classification === 'proxy'),
        );
      switch (node.engagement) {
        case 'received':
          return sent('sent', () => true);
        case 'bounced': {
          const bounce = node.bounce ?? 'any';
          const hard = (e: string | null) => e?.startsWith('permanent') ?? false;
          const soft = (e: string | null) =>
            (e?.startsWith('temporary') || e?.startsWith('connection')) ?? false;
          return sent('failed', (e) =>
            bounce === 'hard' ? hard(e) : bounce === 'soft' ? soft(e) : hard(e) || soft(e),
          );
        }
        case 'opened':
          return hit('open');
        case 'clicked':
          return hit('click');
        case 'never_opened':
          return sent('sent', () => true) && !hit('open');
      }
    }
    if ('conversion' in node) {
      const spec = node.conversion;
      const rows = world.conversions.filter(
        (r) =>
          r.contact_id === c.id &&
          (spec.event === undefined || r.event === spec.event) &&
          (spec.currency === undefined || r.currency === spec.currency) &&
          inWindow(r.occurred_at, spec.window, now),
      );
      const count: CountRule | undefined =
        spec.count ?? (spec.revenue ? undefined : { operator: 'at_least', value: 1 });
      const total = sumDecimals(rows.map((r) => r.revenue).filter((r): r is string => r !== null));
      const amounts = spec.revenue
        ? (Array.isArray(spec.revenue.value) ? spec.revenue.value : [spec.revenue.value]).map(String)
        : [];
      return (
        (!count || countHolds(rows.length, count)) &&
        (!spec.revenue || revenueHolds(total, spec.revenue.operator, amounts))
      );
    }
    throw new Error('unknown condition');
  };
  return new Set(world.contacts.filter((c) => matches(definition, c, 0)).map((c) => c.id));
}

export { compareDecimal };
