import { cronError, isTimeZone } from '../../lib/cron.js';
import type { ErrorDetail } from '../../lib/errors.js';
import { isUuid } from '../../lib/ids.js';
import { unstorableText } from '../../lib/storable-text.js';
import { checkEmail } from '../contacts/index.js';
import { type Condition, checkDefinition as checkCondition, conditionReferences } from '../segments/index.js';
import { BANDIT_MAX_WINDOW_HOURS, BANDIT_WINDOW_HOURS, HOLDOUT_MAX_SHARE } from './automation-experiments.js';

/**
 * The automation language: a trigger, entry rules and a graph of nodes, as
 * JSON. Everything that can be checked without the database is checked here,
 * all at once; every error names the failing part by JSON pointer and, inside
 * the graph, the node id. Names of templates, lists and segments are resolved
 * against the workspace separately (automations.service.ts), at publish.
 */

export type PropertyFilter = {
  property: string | string[];
  operator: string;
  value?: string | number | boolean | (string | number | boolean)[];
};

export type Trigger =
  | { type: 'event'; event: string; where?: PropertyFilter[] }
  | { type: 'contact_created' }
  | { type: 'list_subscribed' | 'list_confirmed'; list_id: string }
  | { type: 'segment_entered' | 'segment_exited'; segment_id: string }
  | { type: 'date_attribute'; attribute: string; offset_days?: number; hour?: number; every_year?: boolean }
  | { type: 'engagement'; action: 'opened' | 'clicked'; campaign_id?: string; link_url?: string }
  | { type: 'api' }
  | { type: 'schedule'; cron: string; segment_id: string; timezone?: string };

export type TriggerType = Trigger['type'];

export const TRIGGER_TYPES = [
  'event',
  'contact_created',
  'list_subscribed',
  'list_confirmed',
  'segment_entered',
  'segment_exited',
  'date_attribute',
  'engagement',
  'api',
  'schedule',
] as const satisfies readonly TriggerType[];

export type EntryMode = 'once' | 'once_at_a_time' | 'again_after';
export type Entry = { mode: EntryMode; days?: number };
export const EXIT_REASONS = ['unsubscribed', 'bounced', 'complained'] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

export type Duration = { days?: number; hours?: number; minutes?: number };
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

interface NodeBase {
  id: string;
}

export type SendEmailNode = NodeBase & {
  type: 'send_email';
  template?: string;
  template_id?: string;
  kind?: 'marketing' | 'transactional';
  next: string;
};
export type WaitNode = NodeBase & {
  type: 'wait';
  for?: Duration;
  until?: { weekdays?: Weekday[]; hour: number; minute?: number };
  until_attribute?: { attribute: string; offset_days?: number; hour?: number };
  next: string;
};
export type WaitForNode = NodeBase & {
  type: 'wait_for';
  event?: string;
  where?: PropertyFilter[];
  engagement?: 'opened' | 'clicked';
  timeout: Duration;
  next: string;
  timeout_next: string;
};
export type BranchNode = NodeBase & {
  type: 'branch';
  branches: { condition: Condition; next: string }[];
  else: string;
};
export type RandomSplitNode = NodeBase & {
  type: 'random_split';
  paths: { percent: number; next: string }[];
  /** Thompson sampling instead of fixed percents (which then split only until every path has an outcome). */
  bandit?: { metric: 'opened' | 'clicked' | 'converted'; window_hours?: number };
};
export type UpdateContactNode = NodeBase & {
  type: 'update_contact';
  set_attributes?: Record<string, string | number | boolean | null>;
  unset_attributes?: string[];
  add_tags?: string[];
  remove_tags?: string[];
  add_to_lists?: string[];
  remove_from_lists?: string[];
  status?: 'unsubscribed';
  next: string;
};
export type WebhookNode = NodeBase & {
  type: 'webhook';
  url: string;
  payload?: Record<string, unknown>;
  next: string;
};
export type GoalNode = NodeBase & { type: 'goal' };
export type ExitNode = NodeBase & { type: 'exit' };

export type AutomationNode =
  | SendEmailNode
  | WaitNode
  | WaitForNode
  | BranchNode
  | RandomSplitNode
  | UpdateContactNode
  | WebhookNode
  | GoalNode
  | ExitNode;

export type NodeType = AutomationNode['type'];

/** Who the automation's emails come from; required at publish when the graph sends email. */
export interface Sender {
  from_email: string;
  from_name?: string;
  reply_to?: string;
  transport_id?: string;
}

export interface AutomationDefinition {
  trigger: Trigger;
  sender?: Sender;
  /** A share of contacts kept out as a control group: their runs end at enrolment. */
  holdout?: { share: number };
  entry?: Entry;
  instance_key?: string;
  exit_on?: ExitReason[];
  goal?: { event: string; where?: PropertyFilter[]; node: string };
  start: string;
  nodes: AutomationNode[];
}

export const LIMITS = {
  nodes: 200,
  branches: 10,
  paths: { min: 2, max: 8 },
  waitDays: 365,
  againAfterDays: 3650,
  offsetDays: 3650,
  listItems: 100,
  stringLength: 500,
  urlLength: 2000,
  payloadBytes: 16_384,
  errors: 100,
};

export const NODE_ID = /^[a-z0-9_-]{1,64}$/;
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const TAG = /^.{1,100}$/u;

/** Fields each node type takes, besides id and type. */
const NODE_FIELDS: Record<NodeType, readonly string[]> = {
  send_email: ['template', 'template_id', 'kind', 'next'],
  wait: ['for', 'until', 'until_attribute', 'next'],
  wait_for: ['event', 'where', 'engagement', 'timeout', 'next', 'timeout_next'],
  branch: ['branches', 'else'],
  random_split: ['paths', 'bandit'],
  update_contact: [
    'set_attributes',
    'unset_attributes',
    'add_tags',
    'remove_tags',
    'add_to_lists',
    'remove_from_lists',
    'status',
    'next',
  ],
  webhook: ['url', 'payload', 'next'],
  goal: [],
  exit: [],
};
const NODE_TYPES = Object.keys(NODE_FIELDS) as NodeType[];

const TRIGGER_FIELDS: Record<TriggerType, readonly string[]> = {
  event: ['event', 'where'],
  contact_created: [],
  list_subscribed: ['list_id'],
  list_confirmed: ['list_id'],
  segment_entered: ['segment_id'],
  segment_exited: ['segment_id'],
  date_attribute: ['attribute', 'offset_days', 'hour', 'every_year'],
  engagement: ['action', 'campaign_id', 'link_url'],
  api: [],
  schedule: ['cron', 'segment_id', 'timezone'],
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const quoted = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

/** JSON pointer escaping (RFC 6901). */
export function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

class Checker {
  readonly errors: ErrorDetail[] = [];

  fail(path: string, message: string, extra: Record<string, unknown> = {}): void {
    if (this.errors.length < LIMITS.errors) this.errors.push({ path, message, ...extra });
  }

  unknownKeys(value: Record<string, unknown>, allowed: readonly string[], path: string, node?: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key))
        this.fail(
          `${path}/${escapePointer(key)}`,
          `unknown field "${key}"; allowed here: ${quoted(allowed)}`,
          node ? { node } : {},
        );
    }
  }

  string(value: unknown, path: string, what: string, node?: string, max = LIMITS.stringLength): boolean {
    if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
      this.fail(
        path,
        `${what} must be a non-empty string of at most ${max} characters`,
        node ? { node } : {},
      );
      return false;
    }
    return true;
  }

  uuid(value: unknown, path: string, what: string, node?: string): boolean {
    if (typeof value !== 'string' || !isUuid(value)) {
      this.fail(path, `${what} must be the id (a UUID) of a ${what.replace(/_id$/, '')} of this workspace`, {
        ...(node ? { node } : {}),
      });
      return false;
    }
    return true;
  }

  integer(value: unknown, path: string, min: number, max: number, what: string, node?: string): boolean {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `${what} must be a whole number from ${min} to ${max}`, node ? { node } : {});
      return false;
    }
    return true;
  }

  /** An event name with optional property filters, checked by the segment language (same shape there). */
  eventFilter(value: Record<string, unknown>, path: string, node?: string): void {
    const probe: Record<string, unknown> = { event: value.event };
    // An empty list means no filter here (the segment language wants at least one where it takes a list).
    if (value.where !== undefined && !(Array.isArray(value.where) && value.where.length === 0))
      probe.where = value.where;
    const result = checkCondition(probe, path);
    if (!result.ok)
      for (const e of result.errors)
        this.fail(e.path ?? path, e.message.replace(/^unknown key/, 'unknown field'), node ? { node } : {});
  }

  duration(value: unknown, path: string, what: string, node: string): void {
    if (!isObject(value)) {
      this.fail(path, `${what} must be a duration such as {"days": 1, "hours": 4}`, { node });
      return;
    }
    this.unknownKeys(value, ['days', 'hours', 'minutes'], path, node);
    const limits = { days: LIMITS.waitDays, hours: LIMITS.waitDays * 24, minutes: LIMITS.waitDays * 24 * 60 };
    let total = 0;
    let valid = true;
    for (const unit of ['days', 'hours', 'minutes'] as const) {
      const n = value[unit];
      if (n === undefined) continue;
      if (this.integer(n, `${path}/${unit}`, 0, limits[unit], unit, node))
        total += (n as number) * (unit === 'days' ? 1440 : unit === 'hours' ? 60 : 1);
      else valid = false;
    }
    if (!valid) return;
    if (total === 0)
      this.fail(path, `${what} must be longer than 0: give days, hours or minutes, e.g. {"hours": 4}`, {
        node,
      });
    else if (total > LIMITS.waitDays * 1440)
      this.fail(path, `${what} may be at most ${LIMITS.waitDays} days in total`, { node });
  }

  stringList(value: unknown, path: string, what: string, node: string, item: (v: string) => boolean): void {
    if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.listItems) {
      this.fail(path, `${what} must be a list of 1 to ${LIMITS.listItems} values`, { node });
      return;
    }
    value.forEach((v, i) => {
      if (typeof v !== 'string' || !item(v)) this.fail(`${path}/${i}`, `not a valid ${what} entry`, { node });
    });
  }
}

function checkTrigger(c: Checker, value: unknown, path: string): TriggerType | undefined {
  if (!isObject(value)) {
    c.fail(path, 'trigger must be an object such as {"type": "event", "event": "Order Completed"}');
    return undefined;
  }
  const type = value.type as TriggerType;
  if (!TRIGGER_TYPES.includes(type)) {
    c.fail(
      `${path}/type`,
      `${type === undefined ? 'trigger type is required' : `unknown trigger type ${JSON.stringify(type)}`}; use one of ${quoted(TRIGGER_TYPES)}`,
    );
    return undefined;
  }
  c.unknownKeys(value, ['type', ...TRIGGER_FIELDS[type]], path);
  switch (type) {
    case 'event':
      c.eventFilter(value, path);
      break;
    case 'list_subscribed':
    case 'list_confirmed':
      c.uuid(value.list_id, `${path}/list_id`, 'list_id');
      break;
    case 'segment_entered':
    case 'segment_exited':
      c.uuid(value.segment_id, `${path}/segment_id`, 'segment_id');
      break;
    case 'date_attribute':
      if (
        c.string(value.attribute, `${path}/attribute`, 'attribute') &&
        !ATTRIBUTE_NAME.test(value.attribute as string)
      )
        c.fail(
          `${path}/attribute`,
          'attribute names start with a letter or _ and use letters, digits, _ . - (max 64)',
        );
      if (value.offset_days !== undefined)
        c.integer(
          value.offset_days,
          `${path}/offset_days`,
          -LIMITS.offsetDays,
          LIMITS.offsetDays,
          'offset_days (negative: before the date)',
        );
      if (value.hour !== undefined)
        c.integer(value.hour, `${path}/hour`, 0, 23, "hour (in the contact's time zone)");
      if (value.every_year !== undefined && typeof value.every_year !== 'boolean')
        c.fail(`${path}/every_year`, 'every_year must be true (birthdays, renewals) or false');
      break;
    case 'engagement':
      if (value.action !== 'opened' && value.action !== 'clicked')
        c.fail(`${path}/action`, 'action must be "opened" or "clicked"');
      if (value.campaign_id !== undefined) c.uuid(value.campaign_id, `${path}/campaign_id`, 'campaign_id');
      if (value.link_url !== undefined) {
        if (value.action !== 'clicked')
          c.fail(`${path}/link_url`, 'link_url applies to action "clicked" only');
        else if (c.string(value.link_url, `${path}/link_url`, 'link_url', undefined, LIMITS.urlLength))
          if (!/^https?:\/\//i.test(value.link_url as string))
            c.fail(`${path}/link_url`, 'link_url must be an http(s) URL as it appears in the email');
      }
      break;
    case 'schedule': {
      if (typeof value.cron !== 'string')
        c.fail(`${path}/cron`, 'cron must be a 5-field cron expression such as "0 9 * * mon"');
      else {
        const error = cronError(value.cron);
        if (error) c.fail(`${path}/cron`, `${error}`);
      }
      c.uuid(value.segment_id, `${path}/segment_id`, 'segment_id');
      if (value.timezone !== undefined && (typeof value.timezone !== 'string' || !isTimeZone(value.timezone)))
        c.fail(`${path}/timezone`, 'timezone must be an IANA time zone such as "Europe/Berlin"');
      break;
    }
  }
  return type;
}

function checkEntry(c: Checker, value: unknown, path: string): void {
  if (!isObject(value)) {
    c.fail(path, 'entry must be an object such as {"mode": "once_at_a_time"}');
    return;
  }
  c.unknownKeys(value, ['mode', 'days'], path);
  const modes = ['once', 'once_at_a_time', 'again_after'];
  if (!modes.includes(value.mode as string)) {
    c.fail(`${path}/mode`, `entry mode must be one of ${quoted(modes)}`);
    return;
  }
  if (value.mode === 'again_after')
    c.integer(
      value.days,
      `${path}/days`,
      1,
      LIMITS.againAfterDays,
      'days (how long before a contact may enter again)',
    );
  else if (value.days !== undefined) c.fail(`${path}/days`, 'days applies to mode "again_after" only');
}

function checkSender(c: Checker, value: unknown, path: string): void {
  if (!isObject(value)) {
    c.fail(path, 'sender must be an object such as {"from_email": "news@shop.example", "from_name": "Shop"}');
    return;
  }
  c.unknownKeys(value, ['from_email', 'from_name', 'reply_to', 'transport_id'], path);
  for (const key of ['from_email', 'reply_to'] as const) {
    const v = value[key];
    if (v === undefined && key === 'reply_to') continue;
    if (typeof v !== 'string') {
      c.fail(`${path}/${key}`, `${key} must be an email address such as news@shop.example`);
      continue;
    }
    const checked = checkEmail(v, `${path}/${key}`);
    if ('error' in checked) c.fail(`${path}/${key}`, `${key}: ${checked.error.message}`);
  }
  if (value.from_name !== undefined)
    c.string(value.from_name, `${path}/from_name`, 'from_name', undefined, 200);
  if (value.transport_id !== undefined) c.uuid(value.transport_id, `${path}/transport_id`, 'transport_id');
}

function checkHoldout(c: Checker, value: unknown, path: string): void {
  if (!isObject(value)) {
    c.fail(path, 'holdout must be an object such as {"share": 0.1}');
    return;
  }
  c.unknownKeys(value, ['share'], path);
  const share = value.share;
  if (typeof share !== 'number' || !Number.isFinite(share) || share < 0 || share > HOLDOUT_MAX_SHARE)
    c.fail(
      `${path}/share`,
      `share must be a number from 0 to ${HOLDOUT_MAX_SHARE}: the part of the contacts kept out as a control group (0.1: one in ten)`,
    );
}

function checkWebhookUrl(c: Checker, value: unknown, path: string, node: string): void {
  if (!c.string(value, path, 'url', node, LIMITS.urlLength)) return;
  let url: URL;
  try {
    url = new URL(value as string);
  } catch {
    c.fail(path, 'url must be an absolute URL such as https://hooks.example.com/herald', { node });
    return;
  }
  const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol === 'https:' || (url.protocol === 'http:' && local)) {
    if (url.username || url.password)
      c.fail(path, 'url may not carry a user name or password; the engine signs each request instead', {
        node,
      });
    return;
  }
  c.fail(path, 'url must use https (plain http only to 127.0.0.1 or localhost)', { node });
}

/** Edges of a node: [field pointer relative to the node, target]. */
export function edgesOf(node: AutomationNode): [string, string][] {
  switch (node.type) {
    case 'branch':
      return [
        ...node.branches.map((b, i): [string, string] => [`/branches/${i}/next`, b.next]),
        ['/else', node.else],
      ];
    case 'random_split':
      return node.paths.map((p, i): [string, string] => [`/paths/${i}/next`, p.next]);
    case 'wait_for':
      return [
        ['/next', node.next],
        ['/timeout_next', node.timeout_next],
      ];
    case 'goal':
    case 'exit':
      return [];
    default:
      return [['/next', node.next]];
  }
}

function checkNode(c: Checker, value: unknown, path: string): AutomationNode | undefined {
  if (!isObject(value)) {
    c.fail(path, 'a node must be an object such as {"id": "welcome", "type": "send_email", ...}');
    return undefined;
  }
  const id = typeof value.id === 'string' && NODE_ID.test(value.id) ? value.id : undefined;
  if (!id)
    c.fail(`${path}/id`, 'node id must be 1 to 64 characters of a-z, 0-9, "_" and "-", such as "wait_4h"');
  const node = id ?? (typeof value.id === 'string' ? value.id : undefined);
  const at = node ? { node } : {};
  const type = value.type as NodeType;
  if (!NODE_TYPES.includes(type)) {
    c.fail(
      `${path}/type`,
      `${type === undefined ? 'node type is required' : `unknown node type ${JSON.stringify(type)}`}; use one of ${quoted(NODE_TYPES)}`,
      at,
    );
    return undefined;
  }
  c.unknownKeys(value, ['id', 'type', ...NODE_FIELDS[type]], path, node);
  const n = node ?? '';
  let edgesOk = true;
  const edge = (field: string) => {
    const target = value[field];
    if (typeof target !== 'string' || target === '') {
      c.fail(`${path}/${field}`, `${field} must name the id of the node that comes next`, at);
      edgesOk = false;
    }
  };
  switch (type) {
    case 'send_email': {
      const byName = value.template !== undefined;
      const byId = value.template_id !== undefined;
      if (byName === byId)
        c.fail(path, 'give exactly one of template (a template name of this workspace) or template_id', at);
      else if (byName) c.string(value.template, `${path}/template`, 'template', n, 200);
      else c.uuid(value.template_id, `${path}/template_id`, 'template_id', n);
      if (value.kind !== undefined && value.kind !== 'marketing' && value.kind !== 'transactional')
        c.fail(
          `${path}/kind`,
          'kind must be "marketing" (default: needs consent, skips unsubscribed) or "transactional"',
          at,
        );
      edge('next');
      break;
    }
    case 'wait': {
      const given = (['for', 'until', 'until_attribute'] as const).filter((k) => value[k] !== undefined);
      if (given.length !== 1) {
        c.fail(
          path,
          given.length === 0
            ? 'a wait needs one of "for" (a duration), "until" (a weekday and time) or "until_attribute" (a date attribute)'
            : `a wait takes exactly one of "for", "until", "until_attribute"; this one has ${quoted(given)}`,
          at,
        );
      }
      if (value.for !== undefined) c.duration(value.for, `${path}/for`, 'for', n);
      if (value.until !== undefined) {
        const u = value.until;
        const p = `${path}/until`;
        if (!isObject(u)) c.fail(p, 'until must be an object such as {"weekdays": ["mon"], "hour": 9}', at);
        else {
          c.unknownKeys(u, ['weekdays', 'hour', 'minute'], p, n);
          if (u.weekdays !== undefined) {
            if (
              !Array.isArray(u.weekdays) ||
              u.weekdays.length === 0 ||
              u.weekdays.some((d) => !WEEKDAYS.includes(d)) ||
              new Set(u.weekdays).size !== u.weekdays.length
            )
              c.fail(
                `${p}/weekdays`,
                `weekdays must be a list of distinct days out of ${quoted(WEEKDAYS)}`,
                at,
              );
          }
          c.integer(u.hour, `${p}/hour`, 0, 23, "hour (in the contact's time zone)", n);
          if (u.minute !== undefined) c.integer(u.minute, `${p}/minute`, 0, 59, 'minute', n);
        }
      }
      if (value.until_attribute !== undefined) {
        const u = value.until_attribute;
        const p = `${path}/until_attribute`;
        if (!isObject(u))
          c.fail(
            p,
            'until_attribute must be an object such as {"attribute": "renewal_date", "offset_days": -7}',
            at,
          );
        else {
          c.unknownKeys(u, ['attribute', 'offset_days', 'hour'], p, n);
          if (
            c.string(u.attribute, `${p}/attribute`, 'attribute', n) &&
            !ATTRIBUTE_NAME.test(u.attribute as string)
          )
            c.fail(
              `${p}/attribute`,
              'attribute names start with a letter or _ and use letters, digits, _ . - (max 64)',
              at,
            );
          if (u.offset_days !== undefined)
            c.integer(
              u.offset_days,
              `${p}/offset_days`,
              -LIMITS.offsetDays,
              LIMITS.offsetDays,
              'offset_days (negative: before the date)',
              n,
            );
          if (u.hour !== undefined)
            c.integer(u.hour, `${p}/hour`, 0, 23, "hour (in the contact's time zone)", n);
        }
      }
      edge('next');
      break;
    }
    case 'wait_for': {
      const byEvent = value.event !== undefined;
      const byEngagement = value.engagement !== undefined;
      if (byEvent === byEngagement)
        c.fail(
          path,
          'a wait_for waits for one thing: give "event" (with optional "where") or "engagement" ("opened" or "clicked")',
          at,
        );
      else if (byEvent) c.eventFilter(value, path, n);
      else {
        if (value.engagement !== 'opened' && value.engagement !== 'clicked')
          c.fail(
            `${path}/engagement`,
            'engagement must be "opened" or "clicked" (of the previous email of this automation)',
            at,
          );
        if (value.where !== undefined) c.fail(`${path}/where`, 'where applies to "event" only', at);
      }
      c.duration(value.timeout, `${path}/timeout`, 'timeout', n);
      edge('next');
      edge('timeout_next');
      break;
    }
    case 'branch': {
      const branches = value.branches;
      if (!Array.isArray(branches) || branches.length === 0 || branches.length > LIMITS.branches) {
        c.fail(
          `${path}/branches`,
          `branches must be a list of 1 to ${LIMITS.branches} {"condition": ..., "next": ...}`,
          at,
        );
        edgesOk = false;
      } else {
        branches.forEach((b, i) => {
          const p = `${path}/branches/${i}`;
          if (!isObject(b)) {
            c.fail(p, 'a branch is an object: {"condition": {...}, "next": "node_id"}', at);
            edgesOk = false;
            return;
          }
          c.unknownKeys(b, ['condition', 'next'], p, n);
          const result = checkCondition(b.condition, `${p}/condition`);
          if (!result.ok) for (const e of result.errors) c.fail(e.path ?? `${p}/condition`, e.message, at);
          if (typeof b.next !== 'string' || b.next === '') {
            c.fail(`${p}/next`, 'next must name the id of the node this branch leads to', at);
            edgesOk = false;
          }
        });
      }
      edge('else');
      break;
    }
    case 'random_split': {
      const paths = value.paths;
      if (!Array.isArray(paths) || paths.length < LIMITS.paths.min || paths.length > LIMITS.paths.max) {
        c.fail(
          `${path}/paths`,
          `paths must be a list of ${LIMITS.paths.min} to ${LIMITS.paths.max} {"percent": 50, "next": ...}`,
          at,
        );
        edgesOk = false;
      } else {
        let sum = 0;
        let whole = true;
        paths.forEach((p, i) => {
          const at2 = `${path}/paths/${i}`;
          if (!isObject(p)) {
            c.fail(at2, 'a path is an object: {"percent": 50, "next": "node_id"}', at);
            edgesOk = false;
            whole = false;
            return;
          }
          c.unknownKeys(p, ['percent', 'next'], at2, n);
          if (c.integer(p.percent, `${at2}/percent`, 1, 99, 'percent', n)) sum += p.percent as number;
          else whole = false;
          if (typeof p.next !== 'string' || p.next === '') {
            c.fail(`${at2}/next`, 'next must name the id of the node this path leads to', at);
            edgesOk = false;
          }
        });
        if (whole && sum !== 100)
          c.fail(`${path}/paths`, `the percents of the paths add up to ${sum}; they must add up to 100`, at);
      }
      if (value.bandit !== undefined) {
        const b = value.bandit;
        if (!isObject(b))
          c.fail(
            `${path}/bandit`,
            'bandit must be {"metric": "opened" | "clicked" | "converted", "window_hours": 24}',
            at,
          );
        else {
          c.unknownKeys(b, ['metric', 'window_hours'], `${path}/bandit`, n);
          if (!['opened', 'clicked', 'converted'].includes(b.metric as string))
            c.fail(
              `${path}/bandit/metric`,
              'metric must be "opened" or "clicked" (of the first email on the path, by a person) or "converted" (a conversion of the contact)',
              at,
            );
          if (b.window_hours !== undefined)
            c.integer(
              b.window_hours,
              `${path}/bandit/window_hours`,
              1,
              BANDIT_MAX_WINDOW_HOURS,
              'window_hours (how long an outcome is awaited, default 24)',
              n,
            );
        }
      }
      break;
    }
    case 'update_contact': {
      const actions = NODE_FIELDS.update_contact.filter((k) => k !== 'next' && value[k] !== undefined);
      if (actions.length === 0)
        c.fail(
          path,
          `an update_contact node needs at least one of ${quoted(NODE_FIELDS.update_contact.filter((k) => k !== 'next'))}`,
          at,
        );
      if (value.set_attributes !== undefined) {
        const s = value.set_attributes;
        const p = `${path}/set_attributes`;
        if (!isObject(s) || Object.keys(s).length === 0)
          c.fail(
            p,
            'set_attributes must be an object of attribute names and values, such as {"plan": "pro"}',
            at,
          );
        else
          for (const [key, v] of Object.entries(s)) {
            const kp = `${p}/${escapePointer(key)}`;
            if (!ATTRIBUTE_NAME.test(key))
              c.fail(
                kp,
                'attribute names start with a letter or _ and use letters, digits, _ . - (max 64)',
                at,
              );
            else if (
              !(
                v === null ||
                typeof v === 'boolean' ||
                (typeof v === 'number' && Number.isFinite(v)) ||
                (typeof v === 'string' && v.length <= LIMITS.stringLength)
              )
            )
              c.fail(
                kp,
                `a value is a string of at most ${LIMITS.stringLength} characters, a number, true/false or null`,
                at,
              );
          }
      }
      if (value.unset_attributes !== undefined)
        c.stringList(value.unset_attributes, `${path}/unset_attributes`, 'attribute name', n, (v) =>
          ATTRIBUTE_NAME.test(v),
        );
      for (const key of ['add_tags', 'remove_tags'] as const)
        if (value[key] !== undefined)
          c.stringList(value[key], `${path}/${key}`, 'tag', n, (v) => TAG.test(v));
      for (const key of ['add_to_lists', 'remove_from_lists'] as const)
        if (value[key] !== undefined)
          c.stringList(value[key], `${path}/${key}`, 'list id (a UUID)', n, isUuid);
      if (value.status !== undefined && value.status !== 'unsubscribed')
        c.fail(
          `${path}/status`,
          'status may only be set to "unsubscribed" (other statuses come from bounces, complaints and the contact)',
          at,
        );
      edge('next');
      break;
    }
    case 'webhook':
      checkWebhookUrl(c, value.url, `${path}/url`, n);
      if (value.payload !== undefined) {
        if (!isObject(value.payload)) c.fail(`${path}/payload`, 'payload must be a JSON object', at);
        else if (JSON.stringify(value.payload).length > LIMITS.payloadBytes)
          c.fail(`${path}/payload`, `payload may be at most ${LIMITS.payloadBytes} characters of JSON`, at);
      }
      edge('next');
      break;
    case 'goal':
    case 'exit':
      break;
  }
  if (!id || !edgesOk) return undefined;
  return value as unknown as AutomationNode;
}

/** Nodes whose stay takes time: a loop through one of them pauses every round. */
const PAUSING: readonly NodeType[] = ['wait', 'wait_for'];

/** Cycles that pass through no wait or wait_for node, each as its node ids (first id repeated at the end). */
export function instantCycles(nodes: ReadonlyMap<string, AutomationNode>): string[][] {
  const color = new Map<string, 'grey' | 'black'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    color.set(id, 'grey');
    stack.push(id);
    const node = nodes.get(id);
    if (node && !PAUSING.includes(node.type)) {
      for (const [, target] of edgesOf(node)) {
        const next = nodes.get(target);
        if (!next || PAUSING.includes(next.type)) continue;
        const state = color.get(target);
        if (state === 'grey') {
          const cycle = [...stack.slice(stack.indexOf(target)), target];
          const key = [...new Set(cycle)].sort().join(' ');
          if (!seen.has(key)) {
            seen.add(key);
            cycles.push(cycle);
          }
        } else if (state === undefined) visit(target);
      }
    }
    stack.pop();
    color.set(id, 'black');
  };
  for (const id of nodes.keys()) if (!color.has(id)) visit(id);
  return cycles;
}

function checkGraph(
  c: Checker,
  def: Record<string, unknown>,
  nodes: AutomationNode[],
  prefix: string,
  allIds: Set<string>,
): void {
  const byId = new Map<string, AutomationNode>();
  const index = new Map<string, number>();
  (def.nodes as unknown[]).forEach((raw, i) => {
    if (isObject(raw) && typeof raw.id === 'string' && !index.has(raw.id)) index.set(raw.id, i);
  });
  for (const node of nodes) byId.set(node.id, node);
  const nodePath = (id: string) => `${prefix}/nodes/${index.get(id) ?? 0}`;
  const goalNodeId = isObject(def.goal) && typeof def.goal.node === 'string' ? def.goal.node : undefined;
  const ids = quoted([...allIds].slice(0, 20));

  if (typeof def.start === 'string') {
    const start = byId.get(def.start);
    if (!allIds.has(def.start))
      c.fail(`${prefix}/start`, `start names "${def.start}", which is not a node; node ids are ${ids}`);
    else if (start?.type === 'goal')
      c.fail(
        `${prefix}/start`,
        'start may not be a goal node: contacts reach goal nodes only by performing goal.event',
      );
  }
  if (goalNodeId !== undefined && allIds.has(goalNodeId)) {
    const target = byId.get(goalNodeId);
    if (target && target.type !== 'goal')
      c.fail(
        `${prefix}/goal/node`,
        `goal.node must name a node of type "goal"; "${goalNodeId}" is a ${target.type} node`,
      );
  } else if (goalNodeId !== undefined)
    c.fail(
      `${prefix}/goal/node`,
      `goal.node names "${goalNodeId}", which is not a node; node ids are ${ids}`,
    );

  for (const node of nodes) {
    for (const [field, target] of edgesOf(node)) {
      const path = `${nodePath(node.id)}${field}`;
      const to = byId.get(target);
      if (!allIds.has(target))
        c.fail(
          path,
          `node "${node.id}": ${field.slice(1)} names "${target}", which is not a node; node ids are ${ids}`,
          {
            node: node.id,
          },
        );
      else if (to?.type === 'goal')
        c.fail(
          path,
          `node "${node.id}": ${field.slice(1)} leads to goal node "${target}"; contacts reach a goal node only by performing goal.event, so point it elsewhere (an exit node, say)`,
          {
            node: node.id,
          },
        );
    }
  }
  for (const node of nodes) {
    if (node.type === 'goal' && goalNodeId !== node.id)
      c.fail(
        nodePath(node.id),
        `goal node "${node.id}" is not goal.node; give the automation a goal {"event": ..., "node": "${node.id}"} or remove the node`,
        {
          node: node.id,
        },
      );
  }

  // Reachability from start (and the goal node, which goal.event leads to).
  const reached = new Set<string>();
  const pending = [def.start, goalNodeId].filter(
    (id): id is string => typeof id === 'string' && byId.has(id),
  );
  while (pending.length > 0) {
    const id = pending.pop() as string;
    if (reached.has(id)) continue;
    reached.add(id);
    const node = byId.get(id);
    if (node) for (const [, target] of edgesOf(node)) if (byId.has(target)) pending.push(target);
  }
  for (const node of nodes) {
    if (!reached.has(node.id) && !(node.type === 'goal' && goalNodeId !== node.id))
      c.fail(
        nodePath(node.id),
        `node "${node.id}" cannot be reached from start; connect it with a next from another node, or remove it`,
        {
          node: node.id,
        },
      );
  }

  for (const cycle of instantCycles(byId)) {
    const first = cycle[0] as string;
    c.fail(
      nodePath(first),
      `the nodes ${cycle.map((id) => `"${id}"`).join(' -> ')} form a loop without a wait: a contact would go round it at once, endlessly; add a wait or wait_for node to the loop, or point one of its edges out of it`,
      { node: first, cycle },
    );
  }

  // A wait_for engagement is about the automation's previous email: one must come before it on every path.
  const engagementWaits = nodes.filter((n) => n.type === 'wait_for' && n.engagement !== undefined);
  if (engagementWaits.length > 0 && typeof def.start === 'string' && byId.has(def.start)) {
    const withoutEmail = new Set<string>();
    const todo = [def.start];
    while (todo.length > 0) {
      const id = todo.pop() as string;
      if (withoutEmail.has(id)) continue;
      withoutEmail.add(id);
      const node = byId.get(id);
      if (node && node.type !== 'send_email')
        for (const [, t] of edgesOf(node)) if (byId.has(t)) todo.push(t);
    }
    for (const node of engagementWaits)
      if (withoutEmail.has(node.id))
        c.fail(
          `${nodePath(node.id)}/engagement`,
          `node "${node.id}" waits for an ${(node as WaitForNode).engagement} of the previous email, but a path from start reaches it without a send_email node before it`,
          {
            node: node.id,
          },
        );
  }
}

export type DefinitionCheck =
  | { ok: true; definition: AutomationDefinition }
  | { ok: false; errors: ErrorDetail[] };

/**
 * Checks an automation definition's structure, values and graph, and
 * returns every problem at once. `pathPrefix` is where the definition sits in
 * the request body (/definition).
 */
export function checkAutomationDefinition(raw: unknown, pathPrefix = ''): DefinitionCheck {
  const c = new Checker();
  const unstorable = unstorableText(raw, pathPrefix);
  if (unstorable) return { ok: false, errors: [unstorable] };
  if (!isObject(raw)) {
    return {
      ok: false,
      errors: [{ path: pathPrefix, message: 'a definition is an object with trigger, start and nodes' }],
    };
  }
  c.unknownKeys(
    raw,
    ['trigger', 'sender', 'holdout', 'entry', 'instance_key', 'exit_on', 'goal', 'start', 'nodes'],
    pathPrefix,
  );
  const triggerType = checkTrigger(c, raw.trigger, `${pathPrefix}/trigger`);
  if (raw.sender !== undefined) checkSender(c, raw.sender, `${pathPrefix}/sender`);
  if (raw.holdout !== undefined) checkHoldout(c, raw.holdout, `${pathPrefix}/holdout`);
  if (raw.entry !== undefined) checkEntry(c, raw.entry, `${pathPrefix}/entry`);
  if (raw.instance_key !== undefined) {
    if (
      c.string(raw.instance_key, `${pathPrefix}/instance_key`, 'instance_key', undefined, 200) &&
      triggerType !== undefined &&
      triggerType !== 'event'
    )
      c.fail(
        `${pathPrefix}/instance_key`,
        `instance_key (one run per value of an event property, such as a cart id) needs an "event" trigger; this trigger is "${triggerType}": remove instance_key`,
      );
  }
  if (raw.exit_on !== undefined) {
    const e = raw.exit_on;
    if (!Array.isArray(e) || e.some((r) => !EXIT_REASONS.includes(r)) || new Set(e).size !== e.length)
      c.fail(
        `${pathPrefix}/exit_on`,
        `exit_on must be a list of distinct reasons out of ${quoted(EXIT_REASONS)} (default: all three)`,
      );
  }
  if (raw.goal !== undefined) {
    const g = raw.goal;
    const p = `${pathPrefix}/goal`;
    if (!isObject(g))
      c.fail(p, 'goal must be an object such as {"event": "Order Completed", "node": "purchased"}');
    else {
      c.unknownKeys(g, ['event', 'where', 'node'], p);
      c.eventFilter(g, p);
      if (typeof g.node !== 'string' || g.node === '')
        c.fail(`${p}/node`, 'goal.node must name the goal node contacts move to when they perform the event');
    }
  }
  if (typeof raw.start !== 'string' || raw.start === '')
    c.fail(`${pathPrefix}/start`, 'start must name the id of the first node');

  const rawNodes = raw.nodes;
  if (!Array.isArray(rawNodes) || rawNodes.length === 0) {
    c.fail(`${pathPrefix}/nodes`, 'nodes must be a list of at least one node');
    return { ok: false, errors: c.errors };
  }
  if (rawNodes.length > LIMITS.nodes) {
    c.fail(
      `${pathPrefix}/nodes`,
      `an automation may have at most ${LIMITS.nodes} nodes; this one has ${rawNodes.length}`,
    );
    return { ok: false, errors: c.errors };
  }
  const nodes: AutomationNode[] = [];
  const allIds = new Set<string>();
  rawNodes.forEach((raw, i) => {
    const path = `${pathPrefix}/nodes/${i}`;
    if (isObject(raw) && typeof raw.id === 'string') {
      if (allIds.has(raw.id))
        c.fail(`${path}/id`, `node id "${raw.id}" is used by an earlier node; ids must be unique`, {
          node: raw.id,
        });
      allIds.add(raw.id);
    }
    const node = checkNode(c, raw, path);
    if (node) nodes.push(node);
  });
  checkGraph(c, raw, nodes, pathPrefix, allIds);
  return c.errors.length > 0
    ? { ok: false, errors: c.errors }
    : { ok: true, definition: raw as unknown as AutomationDefinition };
}

/** The definition with every default written out, as a published version stores it. */
export function withDefaults(definition: AutomationDefinition): AutomationDefinition {
  return {
    ...definition,
    entry: definition.entry ?? { mode: 'once_at_a_time' },
    exit_on: definition.exit_on ?? [...EXIT_REASONS],
    nodes: definition.nodes.map((node) =>
      node.type === 'send_email'
        ? { ...node, kind: node.kind ?? 'marketing' }
        : node.type === 'random_split' && node.bandit
          ? {
              ...node,
              bandit: { ...node.bandit, window_hours: node.bandit.window_hours ?? BANDIT_WINDOW_HOURS },
            }
          : node,
    ),
  };
}

export interface Mention {
  id: string;
  path: string;
  node?: string;
}

/** What a definition names in the workspace, with the JSON pointer (and node) of each mention. */
export function definitionReferences(definition: AutomationDefinition, pathPrefix = '') {
  const found = {
    templates: [] as { node: string; path: string; name?: string; id?: string }[],
    lists: [] as Mention[],
    segments: [] as Mention[],
    campaigns: [] as Mention[],
    transports: [] as Mention[],
  };
  if (definition.sender?.transport_id)
    found.transports.push({ id: definition.sender.transport_id, path: `${pathPrefix}/sender/transport_id` });
  const t = definition.trigger;
  const tp = `${pathPrefix}/trigger`;
  if (t.type === 'list_subscribed' || t.type === 'list_confirmed')
    found.lists.push({ id: t.list_id, path: `${tp}/list_id` });
  if (t.type === 'segment_entered' || t.type === 'segment_exited' || t.type === 'schedule')
    found.segments.push({ id: t.segment_id, path: `${tp}/segment_id` });
  if (t.type === 'engagement' && t.campaign_id)
    found.campaigns.push({ id: t.campaign_id, path: `${tp}/campaign_id` });
  definition.nodes.forEach((node, i) => {
    const np = `${pathPrefix}/nodes/${i}`;
    if (node.type === 'send_email') {
      if (node.template !== undefined)
        found.templates.push({ node: node.id, path: `${np}/template`, name: node.template });
      else if (node.template_id !== undefined)
        found.templates.push({ node: node.id, path: `${np}/template_id`, id: node.template_id });
    }
    if (node.type === 'update_contact') {
      for (const key of ['add_to_lists', 'remove_from_lists'] as const)
        node[key]?.forEach((id, j) => {
          found.lists.push({ id, path: `${np}/${key}/${j}`, node: node.id });
        });
    }
    if (node.type === 'branch') {
      node.branches.forEach((b, j) => {
        const refs = conditionReferences(b.condition, `${np}/branches/${j}/condition`);
        for (const key of ['lists', 'segments', 'campaigns'] as const)
          for (const r of refs[key]) found[key].push({ ...r, node: node.id });
      });
    }
  });
  return found;
}
