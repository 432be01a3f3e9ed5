import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { EventType } from '../../db/index.js';
import type { ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { unstorableJson } from '../../lib/storable-text.js';
import { EVENT_SCHEMAS } from './events.schemas.js';

/** One event as Herald stores it, after validation and clock correction. */
export interface NormalizedEvent {
  type: EventType;
  /** track: event; page/screen: name; identify: null. */
  name: string | null;
  userId: string | null;
  anonymousId: string | null;
  messageId: string;
  occurredAt: Date;
  /** track/page/screen: properties; identify: traits. */
  properties: Record<string, unknown>;
  context: Record<string, unknown> | null;
}

export interface NormalizeOptions {
  receivedAt: Date;
  /** Events older than this are refused (retention). */
  oldestAllowed: Date;
  retentionDays: number;
  /** Batch-level fields merged into every event. */
  batch?: { context?: Record<string, unknown> | undefined; sentAt?: string | undefined } | undefined;
  /** JSON pointer of the event in the request, for error paths. */
  path: string;
}

export const EVENT_MAX_BYTES = 32 * 1024;
const FUTURE_LIMIT_MS = 24 * 3_600_000;
const TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];
/** Written by Herald itself (segment membership changes); never accepted from the API. */
export const RESERVED_EVENT_NAMES = new Set(['segment.entered', 'segment.exited']);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
const validators = new Map<EventType, ValidateFunction>(
  TYPES.map((type) => [type, ajv.compile(EVENT_SCHEMAS[type] as object)]),
);

function describe(path: string, errors: ErrorObject[]): ErrorDetail[] {
  return errors
    .filter((e) => e.keyword !== 'anyOf')
    .map((error) => {
      const at = `${path}${error.instancePath}`;
      if (error.keyword === 'additionalProperties') {
        const field = String(error.params.additionalProperty);
        return { path: `${at}/${field}`, message: `unknown field "${field}"` };
      }
      if (error.keyword === 'required') {
        const field = String(error.params.missingProperty);
        return { path: `${at}/${field}`, message: `"${field}" is required` };
      }
      return { path: at, message: error.message ?? 'is invalid' };
    });
}

function parseTime(value: string | undefined, path: string, errors: ErrorDetail[]): Date | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const ms = ISO_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    errors.push({
      path,
      message: `"${value.slice(0, 64)}" is not an ISO 8601 date-time with a time zone, such as 2026-01-31T09:00:00Z`,
    });
    return undefined;
  }
  return new Date(ms);
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return String(value);
}

/**
 * Validates one Segment-shaped call and turns it into what is stored. `type`
 * is the route's type (/v1/track) or the event's own `type` field (batch).
 * When `timestamp` is absent the event happened at `originalTimestamp`
 * corrected by the sender's clock skew (receivedAt - sentAt), as Segment does,
 * else when it was received.
 */
export function normalizeEvent(
  raw: unknown,
  routeType: EventType | undefined,
  options: NormalizeOptions,
): { ok: true; event: NormalizedEvent } | { ok: false; errors: ErrorDetail[] } {
  const { path } = options;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, errors: [{ path, message: 'an event must be a JSON object' }] };
  }
  const input = raw as Record<string, unknown>;
  const type = routeType ?? (input.type as EventType);
  if (!routeType && !TYPES.includes(type)) {
    const given = input.type === undefined ? 'no type' : `type ${JSON.stringify(input.type)}`;
    return {
      ok: false,
      errors: [
        {
          path: `${path}/type`,
          message: `${given}: Herald accepts track, identify, page and screen (group and alias are not supported)`,
        },
      ],
    };
  }
  let json: string;
  try {
    json = JSON.stringify(input);
  } catch {
    return { ok: false, errors: [{ path, message: 'the event nests too deep to be read' }] };
  }
  const unstorable = unstorableJson(json);
  if (unstorable) return { ok: false, errors: [{ path, message: `the event ${unstorable}` }] };
  const size = Buffer.byteLength(json);
  if (size > EVENT_MAX_BYTES) {
    return {
      ok: false,
      errors: [{ path, message: `the event is ${size} bytes; one event may have at most 32 KB` }],
    };
  }
  const validate = validators.get(type) as ValidateFunction;
  if (!validate(input)) return { ok: false, errors: describe(path, validate.errors ?? []) };

  const errors: ErrorDetail[] = [];
  const userId = text(input.userId);
  const anonymousId = text(input.anonymousId);
  if (!userId && !anonymousId) {
    errors.push({ path: `${path}/userId`, message: 'give userId or anonymousId (or both)' });
  }
  const name = type === 'identify' ? null : text(type === 'track' ? input.event : input.name);
  if (type === 'track' && name && RESERVED_EVENT_NAMES.has(name)) {
    errors.push({
      path: `${path}/event`,
      message: `"${name}" is reserved for the events Herald records itself; choose another name`,
    });
  }
  const timestamp = parseTime(input.timestamp as string | undefined, `${path}/timestamp`, errors);
  const original = parseTime(
    input.originalTimestamp as string | undefined,
    `${path}/originalTimestamp`,
    errors,
  );
  const sentAt = parseTime(
    (input.sentAt as string | undefined) ?? options.batch?.sentAt,
    input.sentAt === undefined ? '/sentAt' : `${path}/sentAt`,
    errors,
  );
  if (errors.length > 0) return { ok: false, errors };

  const received = options.receivedAt.getTime();
  let occurred = received;
  if (timestamp) occurred = timestamp.getTime();
  else if (original)
    occurred = sentAt ? received - (sentAt.getTime() - original.getTime()) : original.getTime();
  const field = timestamp ? 'timestamp' : 'originalTimestamp';
  if (occurred > received + FUTURE_LIMIT_MS) {
    errors.push({
      path: `${path}/${field}`,
      message: `${new Date(occurred).toISOString()} is more than a day in the future; check the sender's clock`,
    });
  } else if (occurred < options.oldestAllowed.getTime()) {
    errors.push({
      path: `${path}/${field}`,
      message: `${new Date(occurred).toISOString()} is older than the event retention of ${options.retentionDays} days (HERALD_EVENT_RETENTION_DAYS)`,
    });
  }
  if (errors.length > 0) return { ok: false, errors };

  const ownContext = (input.context as Record<string, unknown> | undefined) ?? undefined;
  const context =
    options.batch?.context || ownContext
      ? { ...(options.batch?.context ?? {}), ...(ownContext ?? {}) }
      : null;
  const properties =
    type === 'identify'
      ? ((input.traits as Record<string, unknown> | undefined) ?? {})
      : ((input.properties as Record<string, unknown> | undefined) ?? {});
  if (type !== 'identify' && type !== 'track' && input.category !== undefined) {
    properties.category ??= input.category;
  }
  return {
    ok: true,
    event: {
      type,
      name,
      userId,
      anonymousId,
      messageId: (input.messageId as string | undefined) ?? `herald-${uuidv7(received)}`,
      occurredAt: new Date(occurred),
      properties,
      context,
    },
  };
}
