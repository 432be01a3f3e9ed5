import { stringify } from 'csv-stringify/sync';
import type { Contact } from '../contacts/index.js';

export type ExportFormat = 'csv' | 'ndjson';

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
};

/**
 * The built-in columns, in order. `id`, `created_at` and `updated_at` are
 * read-only: the CSV import ignores them, so an export can be imported again
 * unchanged.
 */
export const BUILTIN_COLUMNS = [
  'id',
  'email',
  'external_id',
  'status',
  'tags',
  'timezone',
  'locale',
  'do_not_sell',
  'created_at',
  'updated_at',
] as const;

const BUILTIN = new Set<string>(BUILTIN_COLUMNS);

/** Separator of tags in one cell; tags can never contain it (see checkTags). */
export const TAG_SEPARATOR = ';';

/**
 * Column name of an attribute. An attribute may share its name with a
 * built-in column (an attribute called `email`); its column is then
 * `attributes.<name>` so the header never holds the same name twice.
 */
export function attributeColumn(key: string): string {
  return BUILTIN.has(key) ? `attributes.${key}` : key;
}

export function csvHeader(attributeKeys: readonly string[]): string {
  return stringify([[...BUILTIN_COLUMNS, ...attributeKeys.map(attributeColumn)]]);
}

/** One CSV record per contact; csv-stringify quotes cells holding commas, quotes or line breaks. */
export function csvRecords(contacts: readonly Contact[], attributeKeys: readonly string[]): string {
  return stringify(
    contacts.map((contact) => [
      contact.id,
      contact.email,
      contact.external_id ?? '',
      contact.status,
      contact.tags.join(TAG_SEPARATOR),
      contact.timezone ?? '',
      contact.locale ?? '',
      String(contact.do_not_sell),
      contact.created_at.toISOString(),
      contact.updated_at.toISOString(),
      ...attributeKeys.map((key) => attributeCell(contact.attributes[key])),
    ]),
  );
}

/** Strings as they are, numbers and booleans as text, objects and arrays as JSON. */
export function attributeCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * One JSON object per line with the same fields as the API's Contact
 * (`engagement` when the caller attached it).
 */
export function ndjsonRecords(contacts: readonly (Contact & { engagement?: unknown })[]): string {
  let out = '';
  for (const contact of contacts) {
    out += `${JSON.stringify({
      id: contact.id,
      email: contact.email,
      external_id: contact.external_id,
      status: contact.status,
      attributes: contact.attributes,
      tags: contact.tags,
      timezone: contact.timezone,
      locale: contact.locale,
      tracking_consent: contact.tracking_consent,
      do_not_sell: contact.do_not_sell,
      created_at: contact.created_at.toISOString(),
      updated_at: contact.updated_at.toISOString(),
      ...(contact.engagement === undefined ? {} : { engagement: contact.engagement }),
    })}\n`;
  }
  return out;
}
