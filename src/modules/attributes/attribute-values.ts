import type { AttributeType } from '../../db/index.js';
import type { ErrorDetail } from '../../lib/errors.js';

export const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export type Definitions = ReadonlyMap<string, AttributeType>;

export interface CheckedAttributes {
  /** Values to set, converted to their stored form (dates normalized to ISO 8601). */
  set: Record<string, unknown>;
  /** Keys to remove (given as null). */
  remove: string[];
  errors: ErrorDetail[];
}

/**
 * Validates attribute values against the workspace's definitions. Attributes
 * without a definition are accepted as given (the schema is opt-in per
 * attribute); defined ones must match their type. `null` means "remove".
 * `fromText` converts CSV strings ("42", "true", "2026-01-31") to the type.
 */
export function checkAttributes(
  input: Record<string, unknown>,
  definitions: Definitions,
  options: { fromText?: boolean; pathPrefix?: string } = {},
): CheckedAttributes {
  const prefix = options.pathPrefix ?? '/attributes';
  const result: CheckedAttributes = { set: {}, remove: [], errors: [] };
  for (const [name, raw] of Object.entries(input)) {
    const path = `${prefix}/${name}`;
    if (!ATTRIBUTE_NAME.test(name)) {
      result.errors.push({
        path,
        message: `attribute name "${name}" must start with a letter or _ and use only letters, digits, _ . - (max 64)`,
      });
      continue;
    }
    if (raw === null || (options.fromText && raw === '')) {
      result.remove.push(name);
      continue;
    }
    const type = definitions.get(name);
    const converted = type
      ? convert(raw, type, options.fromText ?? false)
      : { ok: true as const, value: raw };
    if (converted.ok) result.set[name] = converted.value;
    else result.errors.push({ path, message: `attribute "${name}" ${converted.message}` });
  }
  return result;
}

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

function convert(raw: unknown, type: AttributeType, fromText: boolean): Converted {
  switch (type) {
    case 'string':
      return typeof raw === 'string' ? { ok: true, value: raw } : { ok: false, message: 'must be a string' };
    case 'number': {
      const value = fromText && typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      return typeof value === 'number' && Number.isFinite(value)
        ? { ok: true, value }
        : { ok: false, message: `must be a number, got ${JSON.stringify(raw)}` };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (fromText && typeof raw === 'string') {
        const text = raw.trim().toLowerCase();
        if (['true', 'yes', '1'].includes(text)) return { ok: true, value: true };
        if (['false', 'no', '0'].includes(text)) return { ok: true, value: false };
      }
      return { ok: false, message: `must be true or false, got ${JSON.stringify(raw)}` };
    }
    case 'date': {
      if (typeof raw !== 'string' || !ISO_DATE.test(raw.trim()) || Number.isNaN(Date.parse(raw.trim()))) {
        return {
          ok: false,
          message: `must be an ISO 8601 date (2026-01-31 or 2026-01-31T09:00:00Z), got ${JSON.stringify(raw)}`,
        };
      }
      const text = raw.trim();
      // A bare date stays a date (no time zone to invent); a date-time is normalized to UTC.
      return { ok: true, value: text.length === 10 ? text : new Date(text).toISOString() };
    }
    case 'json':
      if (fromText && typeof raw === 'string') {
        try {
          return { ok: true, value: JSON.parse(raw) };
        } catch {
          return { ok: false, message: 'must be valid JSON' };
        }
      }
      return { ok: true, value: raw };
  }
}
