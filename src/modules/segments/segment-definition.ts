import type { ErrorDetail } from '../../lib/errors.js';
import { isUuid } from '../../lib/ids.js';
import { unstorableText } from '../../lib/storable-text.js';

/**
 * The segment language: a JSON tree of conditions. Every node is checked
 * here, and every error names the node by its JSON pointer, so a caller can
 * find the failing part of a large definition. The compiler only ever sees a
 * definition that passed this check.
 */

export const VALUE_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'starts_with',
  'ends_with',
  'in',
  'exists',
  'greater_than',
  'less_than',
  'between',
  'before',
  'after',
  'within_last_days',
  'more_than_days_ago',
  'anniversary_in_days',
] as const;
export type ValueOperator = (typeof VALUE_OPERATORS)[number];

export type Scalar = string | number | boolean;

/** A comparison on one value: an attribute, a built-in field or an event property. */
export interface Comparison {
  operator: ValueOperator;
  /** Absent for exists. A list for in and between. */
  value?: Scalar | Scalar[];
}

export const FIELDS = [
  'email',
  'domain',
  'status',
  'timezone',
  'locale',
  'external_id',
  'created_at',
  'tags',
] as const;
export type Field = (typeof FIELDS)[number];

export const MEMBERSHIP_STATUSES = ['confirmed', 'unconfirmed', 'unsubscribed'] as const;
export type MembershipStatusName = (typeof MEMBERSHIP_STATUSES)[number];
const CONTACT_STATUSES = ['active', 'unsubscribed', 'bounced', 'complained', 'blocked'];

export interface Window {
  within_last_days?: number;
  since?: string;
  until?: string;
}

export interface CountRule {
  operator: 'at_least' | 'at_most' | 'exactly';
  value: number;
}

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | ({ attribute: string | string[] } & Comparison)
  | ({ field: Field } & Comparison)
  | { list: string; status?: MembershipStatusName[] }
  | {
      event: string;
      type?: 'track' | 'page' | 'screen';
      performed?: boolean;
      count?: CountRule;
      window?: Window;
      where?: ({ property: string | string[] } & Comparison)[];
    }
  | ({ score: ScoreName } & ScoreComparison)
  | {
      engagement: 'received' | 'opened' | 'clicked' | 'bounced' | 'never_opened' | 'at_risk';
      campaign?: string;
      window?: Window;
      human_only?: boolean;
      bounce?: 'hard' | 'soft' | 'any';
    }
  | {
      conversion: {
        event?: string;
        window?: Window;
        count?: CountRule;
        currency?: string;
        revenue?: { operator: RevenueOperator; value: string | number | (string | number)[] };
      };
    }
  | { segment: string }
  | { sample: { percent: number; seed?: string } };

/**
 * Numbers the engagement refresh stores per contact (contact_engagement):
 * the engagement score and the predicted open and click probabilities.
 */
export const SCORES = ['engagement', 'open_probability', 'click_probability'] as const;
export type ScoreName = (typeof SCORES)[number];
export const SCORE_OPERATORS = ['greater_than', 'less_than', 'between', 'exists'] as const;
export interface ScoreComparison {
  operator: (typeof SCORE_OPERATORS)[number];
  /** A number; [low, high] for between; absent for exists. */
  value?: number | [number, number];
}

export const REVENUE_OPERATORS = [
  'greater_than',
  'less_than',
  'at_least',
  'at_most',
  'equals',
  'between',
] as const;
export type RevenueOperator = (typeof REVENUE_OPERATORS)[number];

export const LIMITS = {
  depth: 12,
  nodes: 200,
  /** Conditions that read another table (events, lists, engagement, scores, conversions), after nested segments are inlined. */
  subqueries: 40,
  stringLength: 500,
  listItems: 1000,
  pathLength: 10,
  days: 36500,
};

const KINDS = [
  'all',
  'any',
  'not',
  'attribute',
  'field',
  'list',
  'event',
  'engagement',
  'score',
  'conversion',
  'segment',
  'sample',
];
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const DECIMAL = /^-?\d{1,18}(?:\.\d{1,6})?$/;
const CURRENCY = /^[A-Z]{3}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** The normalized, sortable form Herald stores dates in: 2026-01-31T00:00:00.000Z. */
export function dateKey(value: string): string | undefined {
  if (DATE_ONLY.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value
      ? undefined
      : `${value}T00:00:00.000Z`;
  }
  if (!DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
const list = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

interface Walk {
  errors: ErrorDetail[];
  nodes: number;
  subqueries: number;
}

function fail(walk: Walk, path: string, message: string): void {
  if (walk.errors.length < 50) walk.errors.push({ path, message });
}

function unknownKeys(walk: Walk, node: Record<string, unknown>, allowed: string[], path: string): void {
  for (const key of Object.keys(node)) {
    if (!allowed.includes(key))
      fail(walk, `${path}/${escapePointer(key)}`, `unknown key "${key}"; allowed here: ${list(allowed)}`);
  }
}

/** JSON pointer escaping (RFC 6901). */
function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function checkString(walk: Walk, value: unknown, path: string, what: string): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.stringLength) {
    fail(walk, path, `${what} must be a string of 1 to ${LIMITS.stringLength} characters`);
    return false;
  }
  return true;
}

function checkDays(walk: Walk, value: unknown, path: string, min = 1): value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > LIMITS.days) {
    fail(walk, path, `must be a whole number of days from ${min} to ${LIMITS.days}`);
    return false;
  }
  return true;
}

function checkPath(walk: Walk, value: unknown, path: string, what: string): void {
  if (typeof value === 'string') {
    checkString(walk, value, path, what);
    return;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.pathLength) {
    fail(
      walk,
      path,
      `${what} must be a name, or a path: a list of 1 to ${LIMITS.pathLength} keys, e.g. ["address", "city"]`,
    );
    return;
  }
  value.forEach((key, i) => {
    if (typeof key !== 'string' || key.length === 0 || key.length > 200)
      fail(
        walk,
        `${path}/${i}`,
        'each key of a path must be a string of 1 to 200 characters (array positions as "0", "1", ...)',
      );
  });
}

export function checkWindow(walk: Walk, value: unknown, path: string): void {
  if (!isObject(value)) {
    fail(
      walk,
      path,
      'window must be an object: {"within_last_days": 30}, {"since": "2026-01-01"} or {"since": ..., "until": ...}',
    );
    return;
  }
  unknownKeys(walk, value, ['within_last_days', 'since', 'until'], path);
  if (value.within_last_days !== undefined) {
    checkDays(walk, value.within_last_days, `${path}/within_last_days`);
    if (value.since !== undefined || value.until !== undefined)
      fail(walk, path, 'give either within_last_days or since/until, not both');
  } else if (value.since === undefined && value.until === undefined) {
    fail(walk, path, 'give within_last_days, since or until');
  }
  for (const key of ['since', 'until'] as const) {
    if (value[key] === undefined) continue;
    if (typeof value[key] !== 'string' || !dateKey(value[key] as string))
      fail(
        walk,
        `${path}/${key}`,
        `${key} must be an ISO 8601 date (2026-01-31) or date-time with a time zone`,
      );
  }
  if (typeof value.since === 'string' && typeof value.until === 'string') {
    const since = dateKey(value.since);
    const until = dateKey(value.until);
    if (since && until && since >= until) fail(walk, `${path}/until`, 'until must be after since');
  }
}

function checkCount(walk: Walk, value: unknown, path: string): void {
  if (!isObject(value)) {
    fail(walk, path, 'count must be an object such as {"operator": "at_least", "value": 3}');
    return;
  }
  unknownKeys(walk, value, ['operator', 'value'], path);
  if (!['at_least', 'at_most', 'exactly'].includes(value.operator as string))
    fail(walk, `${path}/operator`, 'count operator must be one of "at_least", "at_most", "exactly"');
  if (
    typeof value.value !== 'number' ||
    !Number.isInteger(value.value) ||
    value.value < 0 ||
    value.value > 1_000_000
  )
    fail(walk, `${path}/value`, 'count value must be a whole number from 0 to 1000000');
  else if (value.operator === 'at_least' && value.value === 0)
    fail(
      walk,
      `${path}/value`,
      'at least 0 times is always true; use at_least 1, or leave the condition out',
    );
}

type ValueKind = 'string' | 'number' | 'date' | 'boolean' | 'any';

/** Operators each built-in field takes, and the kind of value they compare. */
const FIELD_RULES: Record<Field, { operators: readonly ValueOperator[]; kind: ValueKind }> = {
  email: {
    operators: ['equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'in'],
    kind: 'string',
  },
  domain: {
    operators: ['equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'in'],
    kind: 'string',
  },
  status: { operators: ['equals', 'not_equals', 'in'], kind: 'string' },
  timezone: {
    operators: ['equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'in', 'exists'],
    kind: 'string',
  },
  locale: {
    operators: ['equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'in', 'exists'],
    kind: 'string',
  },
  external_id: {
    operators: ['equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'in', 'exists'],
    kind: 'string',
  },
  created_at: {
    operators: [
      'before',
      'after',
      'between',
      'within_last_days',
      'more_than_days_ago',
      'anniversary_in_days',
    ],
    kind: 'date',
  },
  tags: { operators: ['contains', 'in', 'exists'], kind: 'string' },
};

/** Checks operator and value of a comparison; `kind` narrows the values a built-in field accepts. */
function checkComparison(
  walk: Walk,
  node: Record<string, unknown>,
  path: string,
  kind: ValueKind,
  field?: Field,
): void {
  const operator = node.operator as ValueOperator;
  const allowed = field ? FIELD_RULES[field].operators : VALUE_OPERATORS;
  if (!allowed.includes(operator)) {
    fail(
      walk,
      `${path}/operator`,
      `${operator === undefined ? 'operator is required' : `unknown operator ${JSON.stringify(operator)}`}${field ? ` for ${field}` : ''}; use one of ${list(allowed)}`,
    );
    return;
  }
  const value = node.value;
  const at = `${path}/value`;
  const stringValue = (v: unknown, where = at) => {
    if (typeof v !== 'string' || v.length > LIMITS.stringLength) {
      fail(walk, where, `${operator} needs a string of at most ${LIMITS.stringLength} characters`);
      return false;
    }
    return true;
  };
  switch (operator) {
    case 'exists':
      if (value !== undefined) fail(walk, at, 'exists takes no value');
      return;
    case 'equals':
    case 'not_equals':
      if (kind === 'string' || kind === 'date') {
        if (stringValue(value) && field === 'status' && !CONTACT_STATUSES.includes(value as string))
          fail(walk, at, `status is one of ${list(CONTACT_STATUSES)}`);
      } else if (!isScalar(value) || (typeof value === 'string' && value.length > LIMITS.stringLength))
        fail(
          walk,
          at,
          `${operator} needs a string, number or boolean (use exists to test for a value at all)`,
        );
      return;
    case 'contains':
      if (field === 'tags' || kind === 'string') stringValue(value);
      else if (!isScalar(value) || (typeof value === 'string' && value.length > LIMITS.stringLength))
        fail(walk, at, 'contains needs a string (text that contains it) or a value (a list that holds it)');
      return;
    case 'starts_with':
    case 'ends_with':
      if (stringValue(value) && value === '') fail(walk, at, `${operator} needs a non-empty string`);
      return;
    case 'in': {
      if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.listItems) {
        fail(walk, at, `in needs a list of 1 to ${LIMITS.listItems} values`);
        return;
      }
      value.forEach((v, i) => {
        if (kind === 'string' ? typeof v !== 'string' : !isScalar(v)) {
          fail(
            walk,
            `${at}/${i}`,
            kind === 'string' ? 'must be a string' : 'must be a string, number or boolean',
          );
        } else if (typeof v === 'string' && v.length > LIMITS.stringLength)
          fail(walk, `${at}/${i}`, `must be at most ${LIMITS.stringLength} characters`);
        else if (field === 'status' && !CONTACT_STATUSES.includes(v as string))
          fail(walk, `${at}/${i}`, `status is one of ${list(CONTACT_STATUSES)}`);
      });
      return;
    }
    case 'greater_than':
    case 'less_than':
      if (typeof value !== 'number' || !Number.isFinite(value))
        fail(walk, at, `${operator} compares numbers; give a number (use before/after for dates)`);
      return;
    case 'between': {
      if (!Array.isArray(value) || value.length !== 2) {
        fail(walk, at, 'between needs [low, high]: two numbers, or two ISO 8601 dates');
        return;
      }
      const [low, high] = value as unknown[];
      if (
        kind !== 'date' &&
        typeof low === 'number' &&
        typeof high === 'number' &&
        Number.isFinite(low) &&
        Number.isFinite(high)
      ) {
        if (low > high) fail(walk, at, 'between needs low <= high');
        return;
      }
      const a = typeof low === 'string' ? dateKey(low) : undefined;
      const b = typeof high === 'string' ? dateKey(high) : undefined;
      if (!a || !b)
        fail(
          walk,
          at,
          `between needs [low, high]: ${kind === 'date' ? '' : 'two numbers, or '}two ISO 8601 dates`,
        );
      else if (a > b) fail(walk, at, 'between needs low <= high');
      return;
    }
    case 'before':
    case 'after':
      if (typeof value !== 'string' || !dateKey(value))
        fail(walk, at, `${operator} needs an ISO 8601 date (2026-01-31) or date-time with a time zone`);
      return;
    case 'within_last_days':
    case 'more_than_days_ago':
      checkDays(walk, value, at);
      return;
    case 'anniversary_in_days':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 365)
        fail(walk, at, 'anniversary_in_days needs a whole number of days from 0 (today) to 365');
      return;
  }
}

function checkUuid(walk: Walk, value: unknown, path: string, what: string): void {
  if (typeof value !== 'string' || !isUuid(value))
    fail(walk, path, `${what} must be the id (a UUID) of a ${what} of this workspace`);
}

/** A score comparison: numbers only; a probability lies in [0, 1]. */
function checkScoreComparison(
  walk: Walk,
  node: Record<string, unknown>,
  path: string,
  probability: boolean,
): void {
  const operator = node.operator as (typeof SCORE_OPERATORS)[number];
  if (!SCORE_OPERATORS.includes(operator)) {
    fail(
      walk,
      `${path}/operator`,
      `${operator === undefined ? 'operator is required' : `unknown operator ${JSON.stringify(operator)}`} for a score; use one of ${list(SCORE_OPERATORS)}`,
    );
    return;
  }
  const at = `${path}/value`;
  const what = probability ? 'a probability from 0 to 1' : 'a number';
  const fits = (v: unknown): v is number =>
    typeof v === 'number' && Number.isFinite(v) && (!probability || (v >= 0 && v <= 1));
  if (operator === 'exists') {
    if (node.value !== undefined) fail(walk, at, 'exists takes no value');
  } else if (operator === 'between') {
    const value = node.value;
    if (!Array.isArray(value) || value.length !== 2 || !fits(value[0]) || !fits(value[1]))
      fail(walk, at, `between needs [low, high], each ${what}`);
    else if ((value[0] as number) > (value[1] as number)) fail(walk, at, 'between needs low <= high');
  } else if (!fits(node.value)) {
    fail(walk, at, `${operator} needs ${what}`);
  }
}

function checkNode(walk: Walk, node: unknown, path: string, depth: number): void {
  walk.nodes++;
  if (walk.nodes > LIMITS.nodes) {
    if (walk.nodes === LIMITS.nodes + 1)
      fail(walk, path, `a definition may have at most ${LIMITS.nodes} conditions`);
    return;
  }
  if (depth > LIMITS.depth) {
    fail(walk, path, `conditions may nest at most ${LIMITS.depth} levels deep`);
    return;
  }
  if (!isObject(node)) {
    fail(walk, path, 'a condition must be a JSON object');
    return;
  }
  const kinds = KINDS.filter((k) => k in node);
  if (kinds.length !== 1) {
    fail(
      walk,
      path,
      kinds.length === 0
        ? `a condition needs exactly one of ${list(KINDS)}`
        : `a condition has exactly one of ${list(KINDS)}; this one has ${list(kinds)}: nest them in "all" or "any"`,
    );
    return;
  }
  const kind = kinds[0] as string;
  switch (kind) {
    case 'all':
    case 'any': {
      unknownKeys(walk, node, [kind], path);
      const children = node[kind];
      if (!Array.isArray(children) || children.length === 0) {
        fail(walk, `${path}/${kind}`, `${kind} needs a list of at least one condition`);
        return;
      }
      children.forEach((child, i) => {
        checkNode(walk, child, `${path}/${kind}/${i}`, depth + 1);
      });
      return;
    }
    case 'not':
      unknownKeys(walk, node, ['not'], path);
      checkNode(walk, node.not, `${path}/not`, depth + 1);
      return;
    case 'attribute':
      unknownKeys(walk, node, ['attribute', 'operator', 'value'], path);
      checkPath(walk, node.attribute, `${path}/attribute`, 'attribute');
      if (typeof node.attribute === 'string' && !ATTRIBUTE_NAME.test(node.attribute))
        fail(
          walk,
          `${path}/attribute`,
          'attribute names start with a letter or _ and use letters, digits, _ . - (max 64)',
        );
      checkComparison(walk, node, path, 'any');
      return;
    case 'field': {
      unknownKeys(walk, node, ['field', 'operator', 'value'], path);
      const field = node.field as Field;
      if (!FIELDS.includes(field)) {
        fail(
          walk,
          `${path}/field`,
          `unknown field ${JSON.stringify(node.field)}; use one of ${list(FIELDS)} (or "attribute" for custom attributes)`,
        );
        return;
      }
      checkComparison(walk, node, path, FIELD_RULES[field].kind, field);
      return;
    }
    case 'list':
      walk.subqueries++;
      unknownKeys(walk, node, ['list', 'status'], path);
      checkUuid(walk, node.list, `${path}/list`, 'list');
      if (node.status !== undefined) {
        const statuses = node.status;
        if (
          !Array.isArray(statuses) ||
          statuses.length === 0 ||
          statuses.some((s) => !MEMBERSHIP_STATUSES.includes(s))
        )
          fail(
            walk,
            `${path}/status`,
            `status must be a list of ${list(MEMBERSHIP_STATUSES)} (default: confirmed and unconfirmed)`,
          );
      }
      return;
    case 'event': {
      walk.subqueries++;
      unknownKeys(walk, node, ['event', 'type', 'performed', 'count', 'window', 'where'], path);
      checkString(walk, node.event, `${path}/event`, 'event');
      if (node.type !== undefined && !['track', 'page', 'screen'].includes(node.type as string))
        fail(walk, `${path}/type`, 'type must be "track" (default), "page" or "screen"');
      if (node.performed !== undefined && typeof node.performed !== 'boolean')
        fail(walk, `${path}/performed`, 'performed must be true or false');
      if (node.performed === false && node.count !== undefined)
        fail(
          walk,
          `${path}/count`,
          'give performed: false or a count, not both (not performed is count exactly 0)',
        );
      if (node.count !== undefined) checkCount(walk, node.count, `${path}/count`);
      if (node.window !== undefined) checkWindow(walk, node.window, `${path}/window`);
      if (node.where !== undefined) {
        if (!Array.isArray(node.where) || node.where.length === 0 || node.where.length > 20) {
          fail(walk, `${path}/where`, 'where must be a list of 1 to 20 property filters');
        } else {
          node.where.forEach((filter, i) => {
            const at = `${path}/where/${i}`;
            if (!isObject(filter)) {
              fail(
                walk,
                at,
                'a property filter is an object: {"property": "total", "operator": "greater_than", "value": 100}',
              );
              return;
            }
            unknownKeys(walk, filter, ['property', 'operator', 'value'], at);
            checkPath(walk, filter.property, `${at}/property`, 'property');
            checkComparison(walk, filter, at, 'any');
          });
        }
      }
      return;
    }
    case 'engagement': {
      walk.subqueries += node.engagement === 'never_opened' ? 2 : 1;
      unknownKeys(walk, node, ['engagement', 'campaign', 'window', 'human_only', 'bounce'], path);
      const kinds = ['received', 'opened', 'clicked', 'bounced', 'never_opened', 'at_risk'];
      if (!kinds.includes(node.engagement as string)) {
        fail(walk, `${path}/engagement`, `engagement must be one of ${list(kinds)}`);
        return;
      }
      if (node.engagement === 'at_risk') {
        for (const key of ['campaign', 'window'] as const)
          if (node[key] !== undefined)
            fail(
              walk,
              `${path}/${key}`,
              `at_risk takes no ${key}: it is engaged within 180 days but silent for 60, or unlikely to open (below 0.1)`,
            );
      }
      if (node.campaign !== undefined && node.campaign !== 'any')
        checkUuid(walk, node.campaign, `${path}/campaign`, 'campaign');
      if (node.window !== undefined) checkWindow(walk, node.window, `${path}/window`);
      if (node.human_only !== undefined) {
        if (typeof node.human_only !== 'boolean')
          fail(walk, `${path}/human_only`, 'human_only must be true or false');
        else if (!['opened', 'clicked', 'never_opened'].includes(node.engagement as string))
          fail(walk, `${path}/human_only`, 'human_only applies to opened, clicked and never_opened');
      }
      if (node.bounce !== undefined) {
        if (node.engagement !== 'bounced')
          fail(walk, `${path}/bounce`, 'bounce applies to engagement "bounced"');
        else if (!['hard', 'soft', 'any'].includes(node.bounce as string))
          fail(walk, `${path}/bounce`, 'bounce must be "hard", "soft" or "any"');
      }
      return;
    }
    case 'score': {
      walk.subqueries++;
      unknownKeys(walk, node, ['score', 'operator', 'value'], path);
      if (!SCORES.includes(node.score as ScoreName)) {
        fail(walk, `${path}/score`, `score must be one of ${list(SCORES)}`);
        return;
      }
      checkScoreComparison(walk, node, path, node.score !== 'engagement');
      return;
    }
    case 'conversion': {
      walk.subqueries++;
      unknownKeys(walk, node, ['conversion'], path);
      const c = node.conversion;
      const at = `${path}/conversion`;
      if (!isObject(c)) {
        fail(
          walk,
          at,
          'conversion must be an object: {"count": {...}, "revenue": {...}, "currency": "EUR", "window": {...}, "event": "purchase"}',
        );
        return;
      }
      unknownKeys(walk, c, ['event', 'window', 'count', 'currency', 'revenue'], at);
      if (c.event !== undefined) checkString(walk, c.event, `${at}/event`, 'event');
      if (c.window !== undefined) checkWindow(walk, c.window, `${at}/window`);
      if (c.count !== undefined) checkCount(walk, c.count, `${at}/count`);
      if (c.currency !== undefined && (typeof c.currency !== 'string' || !CURRENCY.test(c.currency)))
        fail(walk, `${at}/currency`, 'currency must be an ISO 4217 code such as EUR');
      if (c.revenue !== undefined) {
        const r = c.revenue;
        if (!isObject(r)) {
          fail(
            walk,
            `${at}/revenue`,
            'revenue must be an object such as {"operator": "at_least", "value": "100.00"}',
          );
        } else {
          unknownKeys(walk, r, ['operator', 'value'], `${at}/revenue`);
          if (!REVENUE_OPERATORS.includes(r.operator as RevenueOperator))
            fail(
              walk,
              `${at}/revenue/operator`,
              `revenue operator must be one of ${list(REVENUE_OPERATORS)}`,
            );
          const amounts = r.operator === 'between' ? r.value : [r.value];
          const amount = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);
          if (!Array.isArray(amounts) || amounts.length !== (r.operator === 'between' ? 2 : 1)) {
            fail(
              walk,
              `${at}/revenue/value`,
              r.operator === 'between' ? 'between needs [low, high] amounts' : 'give one amount',
            );
          } else if (
            amounts.some((v) => typeof amount(v) !== 'string' || !DECIMAL.test(amount(v) as string))
          ) {
            fail(
              walk,
              `${at}/revenue/value`,
              'amounts are decimals with at most 6 decimal places, such as "49.90"',
            );
          } else if (r.operator === 'between' && compareDecimal(String(amounts[0]), String(amounts[1])) > 0) {
            fail(walk, `${at}/revenue/value`, 'between needs low <= high');
          }
          if (c.currency === undefined)
            fail(walk, `${at}/currency`, 'revenue totals are per currency: give currency');
        }
      }
      return;
    }
    case 'segment':
      unknownKeys(walk, node, ['segment'], path);
      checkUuid(walk, node.segment, `${path}/segment`, 'segment');
      return;
    case 'sample': {
      unknownKeys(walk, node, ['sample'], path);
      const s = node.sample;
      if (!isObject(s)) {
        fail(walk, `${path}/sample`, 'sample must be an object such as {"percent": 10, "seed": "spring"}');
        return;
      }
      unknownKeys(walk, s, ['percent', 'seed'], `${path}/sample`);
      const p = s.percent;
      if (typeof p !== 'number' || !(p > 0 && p <= 100) || Math.round(p * 100) !== p * 100)
        fail(
          walk,
          `${path}/sample/percent`,
          'percent must be a number above 0 and at most 100, with at most 2 decimals',
        );
      if (s.seed !== undefined && (typeof s.seed !== 'string' || s.seed.length > 100))
        fail(walk, `${path}/sample/seed`, 'seed must be a string of at most 100 characters');
      return;
    }
  }
}

/** Compares two decimal strings exactly (no floating point). */
export function compareDecimal(a: string, b: string): number {
  const scaled = (v: string) => {
    const negative = v.startsWith('-');
    const [whole = '0', fraction = ''] = (negative ? v.slice(1) : v).split('.');
    const n = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
    return negative ? -n : n;
  };
  const d = scaled(a) - scaled(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export type DefinitionCheck = { ok: true; definition: Condition } | { ok: false; errors: ErrorDetail[] };

/**
 * Checks a definition's structure, operators and values. `pathPrefix` is
 * where the definition sits in the request body (/definition).
 */
export function checkDefinition(raw: unknown, pathPrefix = ''): DefinitionCheck {
  const walk: Walk = { errors: [], nodes: 0, subqueries: 0 };
  const unstorable = unstorableText(raw, pathPrefix);
  if (unstorable) return { ok: false, errors: [unstorable] };
  checkNode(walk, raw, pathPrefix, 1);
  if (walk.errors.length === 0 && walk.subqueries > LIMITS.subqueries) {
    fail(
      walk,
      pathPrefix,
      `a definition may have at most ${LIMITS.subqueries} list, event, engagement, score and conversion conditions`,
    );
  }
  return walk.errors.length > 0
    ? { ok: false, errors: walk.errors }
    : { ok: true, definition: raw as Condition };
}

/** Ids a definition names, with the JSON pointer of each mention. */
export function references(definition: Condition, pathPrefix = '') {
  const found = {
    segments: [] as { id: string; path: string }[],
    lists: [] as { id: string; path: string }[],
    campaigns: [] as { id: string; path: string }[],
  };
  const visit = (node: Condition, path: string) => {
    if ('all' in node)
      node.all.forEach((c, i) => {
        visit(c, `${path}/all/${i}`);
      });
    else if ('any' in node)
      node.any.forEach((c, i) => {
        visit(c, `${path}/any/${i}`);
      });
    else if ('not' in node) visit(node.not, `${path}/not`);
    else if ('segment' in node) found.segments.push({ id: node.segment, path: `${path}/segment` });
    else if ('list' in node) found.lists.push({ id: node.list, path: `${path}/list` });
    else if ('engagement' in node && node.campaign && node.campaign !== 'any')
      found.campaigns.push({ id: node.campaign, path: `${path}/campaign` });
  };
  visit(definition, pathPrefix);
  return found;
}

/** Counts the conditions that read other tables once nested segments are inlined, to keep the query bounded. */
export function countSubqueries(definition: Condition, segments: ReadonlyMap<string, Condition>): number {
  const visit = (node: Condition, depth: number): number => {
    if (depth > 50) return Number.POSITIVE_INFINITY;
    if ('all' in node) return node.all.reduce((n, c) => n + visit(c, depth + 1), 0);
    if ('any' in node) return node.any.reduce((n, c) => n + visit(c, depth + 1), 0);
    if ('not' in node) return visit(node.not, depth + 1);
    if ('segment' in node) {
      const inner = segments.get(node.segment);
      return inner ? visit(inner, depth + 1) : 0;
    }
    if ('engagement' in node) return node.engagement === 'never_opened' ? 2 : 1;
    if ('list' in node || 'event' in node || 'score' in node || 'conversion' in node) return 1;
    return 0;
  };
  return visit(definition, 0);
}

/** Operators that make sense per attribute type of the workspace's attribute schema. */
const TYPE_OPERATORS: Record<string, readonly ValueOperator[]> = {
  string: ['equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'in', 'exists'],
  number: ['equals', 'not_equals', 'in', 'exists', 'greater_than', 'less_than', 'between'],
  boolean: ['equals', 'not_equals', 'exists'],
  date: [
    'equals',
    'not_equals',
    'in',
    'exists',
    'before',
    'after',
    'between',
    'within_last_days',
    'more_than_days_ago',
    'anniversary_in_days',
  ],
};

/**
 * Conditions on defined attributes whose operator or value does not fit the
 * attribute's type ("age greater_than 'x'", "plan before 2026-01-01"). The
 * language itself stays type-free (an operator and its value say how to
 * compare), so this is checked when a definition is saved, against the
 * schema of that moment.
 */
export function checkAttributeTypes(
  definition: Condition,
  types: ReadonlyMap<string, string>,
  pathPrefix = '',
  /** Sensitive attributes: stored encrypted, so only their presence can be tested. */
  sensitive: ReadonlySet<string> = new Set(),
): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const visit = (node: Condition, path: string) => {
    if ('all' in node)
      node.all.forEach((c, i) => {
        visit(c, `${path}/all/${i}`);
      });
    else if ('any' in node)
      node.any.forEach((c, i) => {
        visit(c, `${path}/any/${i}`);
      });
    else if ('not' in node) visit(node.not, `${path}/not`);
    else if ('attribute' in node && typeof node.attribute === 'string') {
      if (sensitive.has(node.attribute) && node.operator !== 'exists') {
        errors.push({
          path: `${path}/operator`,
          message: `attribute "${node.attribute}" is sensitive: its values are stored encrypted and cannot be compared; only exists (or not exists) applies`,
        });
        return;
      }
      const type = types.get(node.attribute);
      const allowed = type ? TYPE_OPERATORS[type] : undefined;
      if (!type || !allowed) return;
      if (!allowed.includes(node.operator)) {
        errors.push({
          path: `${path}/operator`,
          message: `attribute "${node.attribute}" is a ${type}; ${node.operator} does not apply (use one of ${list(allowed)})`,
        });
        return;
      }
      const values = Array.isArray(node.value) ? node.value : node.value === undefined ? [] : [node.value];
      const fits = (v: Scalar) =>
        type === 'number'
          ? typeof v === 'number'
          : type === 'boolean'
            ? typeof v === 'boolean'
            : type === 'date'
              ? typeof v === 'number' || (typeof v === 'string' && dateKey(v) !== undefined)
              : typeof v === 'string';
      if (values.some((v) => !fits(v))) {
        errors.push({
          path: `${path}/value`,
          message: `attribute "${node.attribute}" is a ${type}; give ${type === 'date' ? 'ISO 8601 dates' : `${type} values`}`,
        });
      }
    }
  };
  visit(definition, pathPrefix);
  return errors;
}
