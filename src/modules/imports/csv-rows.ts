import { CsvError, type Options as CsvParseOptions } from 'csv-parse';
import type { ContactStatus, ImportMode } from '../../db/index.js';
import { DomainError } from '../../lib/errors.js';
import { ATTRIBUTE_NAME, checkAttributes, type Definitions } from '../attributes/index.js';
import {
  applyHygienePolicy,
  checkEmail,
  checkLocale,
  checkTags,
  checkTimezone,
  type HygienePolicy,
  type HygieneWarning,
  inspectEmail,
} from '../contacts/index.js';

/**
 * Pure CSV import rules: header mapping, per-row validation and line
 * counting. No I/O here, so every rule is unit-tested without a database.
 */

export const IMPORT_FIELDS = [
  'email',
  'external_id',
  'status',
  'tags',
  'timezone',
  'locale',
  'do_not_sell',
] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];

export type ColumnTarget =
  | { kind: 'field'; field: ImportField }
  | { kind: 'attribute'; name: string }
  | { kind: 'ignore' };

export interface ColumnPlan {
  header: string[];
  columns: ColumnTarget[];
  /** Column -> target as a user would write it in `mapping`; shown in the import resource. */
  resolved: Record<string, string | null>;
}

/** A column -> target mapping as given by the caller (`null` ignores a column). */
export type Mapping = Record<string, string | null>;

const CONTACT_STATUSES: readonly ContactStatus[] = [
  'active',
  'unsubscribed',
  'bounced',
  'complained',
  'blocked',
];

// Spellings of the built-in fields that exports from other tools use (Mailchimp: "Email Address").
const FIELD_ALIASES: Record<string, ImportField> = {
  email: 'email',
  'e-mail': 'email',
  email_address: 'email',
  'email address': 'email',
  'e-mail address': 'email',
  external_id: 'external_id',
  'external id': 'external_id',
  status: 'status',
  tags: 'tags',
  timezone: 'timezone',
  time_zone: 'timezone',
  locale: 'locale',
  do_not_sell: 'do_not_sell',
  'do not sell': 'do_not_sell',
};

/** The CCPA do-not-sell flag as spreadsheets write it (case-insensitive). */
const DO_NOT_SELL_VALUES = new Map<string, boolean>([
  ['true', true],
  ['false', false],
  ['1', true],
  ['0', false],
  ['yes', true],
  ['no', false],
]);

const EXPORT_READ_ONLY = new Set(['id', 'created_at', 'updated_at']);

const TARGET_HELP = `use one of ${IMPORT_FIELDS.join(', ')}, attributes.<name>, or null to ignore the column`;

function mappingError(message: string, column: string): DomainError {
  return new DomainError('INVALID_MAPPING', message, [{ path: `/mapping/${column}`, message }]);
}

/** Parses one mapping target; throws INVALID_MAPPING naming the column when it is not a known target. */
export function parseTarget(column: string, target: unknown): ColumnTarget {
  if (target === null) return { kind: 'ignore' };
  if (typeof target !== 'string') {
    throw mappingError(`mapping for column "${column}" must be a string or null: ${TARGET_HELP}`, column);
  }
  if ((IMPORT_FIELDS as readonly string[]).includes(target)) {
    return { kind: 'field', field: target as ImportField };
  }
  if (target.startsWith('attributes.')) {
    const name = target.slice('attributes.'.length);
    if (ATTRIBUTE_NAME.test(name)) return { kind: 'attribute', name };
    throw mappingError(
      `mapping for column "${column}" names attribute "${name}", which is not a valid attribute name: ` +
        'start with a letter or _ and use only letters, digits, _ . - (max 64)',
      column,
    );
  }
  throw mappingError(`mapping for column "${column}" has unknown target "${target}": ${TARGET_HELP}`, column);
}

/**
 * Checks the shape of a caller's mapping before any byte of the file is read:
 * an object of column -> target. Columns are checked against the header later.
 */
export function checkMapping(mapping: unknown): Mapping | undefined {
  if (mapping === undefined) return undefined;
  if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping)) {
    throw new DomainError(
      'INVALID_MAPPING',
      'mapping must be a JSON object of "CSV column": "field", e.g. {"E-Mail": "email", "Plan": "attributes.plan"}',
      [{ path: '/mapping', message: 'must be a JSON object' }],
    );
  }
  for (const [column, target] of Object.entries(mapping)) parseTarget(column, target);
  return mapping as Mapping;
}

/** Parses the `mapping` query parameter (URL-decoded JSON). */
export function parseMappingJson(text: string | undefined): Mapping | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DomainError(
      'INVALID_MAPPING',
      `mapping is not valid JSON (${(error as Error).message}); send a URL-encoded JSON object such as {"E-Mail":"email"}`,
      [{ path: '/mapping', message: 'not valid JSON' }],
    );
  }
  return checkMapping(parsed);
}

/** An attribute name for a column header that is not one: "First Name" -> "first_name". */
export function attributeNameFor(column: string): string | undefined {
  if (ATTRIBUTE_NAME.test(column)) return column;
  let slug = column
    .trim()
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (slug === '') return undefined;
  if (!/^[a-z_]/.test(slug)) slug = `_${slug}`;
  slug = slug.slice(0, 64);
  return ATTRIBUTE_NAME.test(slug) ? slug : undefined;
}

function describeTarget(target: ColumnTarget): string | null {
  if (target.kind === 'ignore') return null;
  return target.kind === 'field' ? target.field : `attributes.${target.name}`;
}

/**
 * Decides what each column of the header feeds. By default columns map by
 * name (case-insensitive, trimmed): email, external_id, status, tags,
 * timezone, locale, do_not_sell; any other column becomes an attribute of that name
 * (slugged when it is not a valid attribute name, e.g. "First Name" ->
 * first_name); columns with an empty header are ignored. An explicit mapping
 * overrides the default for the columns it names. Refuses with
 * INVALID_MAPPING when a mapped column is not in the header, when no column
 * feeds email, or when two columns feed the same target.
 */
export function resolveMapping(header: string[], mapping?: Mapping, mode: ImportMode = 'upsert'): ColumnPlan {
  const columnsFound = header.map((h) => JSON.stringify(h)).join(', ');
  const explicit = new Map<number, ColumnTarget>();
  for (const [column, target] of Object.entries(mapping ?? {})) {
    let index = header.indexOf(column);
    if (index < 0) {
      const wanted = column.trim().toLowerCase();
      index = header.findIndex((h) => h.trim().toLowerCase() === wanted);
    }
    if (index < 0) {
      throw mappingError(
        `mapping names column "${column}", which is not in the CSV header; columns found: ${columnsFound}`,
        column,
      );
    }
    explicit.set(index, parseTarget(column, target));
  }

  const seenHeader = new Map<string, number>();
  const columns = header.map((raw, index): ColumnTarget => {
    const given = explicit.get(index);
    if (given) return given;
    const name = raw.trim();
    if (name === '') return { kind: 'ignore' };
    const key = name.toLowerCase();
    if (seenHeader.has(key)) {
      throw mappingError(
        `column "${name}" appears twice in the header; rename one, or ignore one with mapping {"${name}": null}`,
        name,
      );
    }
    seenHeader.set(key, index);
    const field = FIELD_ALIASES[key];
    if (field) return { kind: 'field', field };
    // Herald's own export writes these read-only columns; they are not attributes.
    if (EXPORT_READ_ONLY.has(key)) return { kind: 'ignore' };
    // Only email is read in unsubscribe and block modes, so other headers need not be attribute names.
    if (mode === 'unsubscribe' || mode === 'block') return { kind: 'ignore' };
    // The export names an attribute "attributes.<name>" when it collides with a built-in column.
    const prefixed = /^attributes\.(.+)$/.exec(name)?.[1];
    const attribute = prefixed && ATTRIBUTE_NAME.test(prefixed) ? prefixed : attributeNameFor(name);
    if (!attribute) {
      throw mappingError(
        `column "${name}" cannot be an attribute name; map it with mapping {"${name}": "attributes.<name>"} or ignore it with {"${name}": null}`,
        name,
      );
    }
    return { kind: 'attribute', name: attribute };
  });

  const owner = new Map<string, string>();
  columns.forEach((target, index) => {
    const described = describeTarget(target);
    if (described === null) return;
    const column = header[index] ?? '';
    const previous = owner.get(described);
    if (previous !== undefined) {
      throw mappingError(
        `columns "${previous}" and "${column}" both map to ${described}; map one of them elsewhere or to null`,
        column,
      );
    }
    owner.set(described, column);
  });
  if (!owner.has('email')) {
    throw new DomainError(
      'INVALID_MAPPING',
      `the CSV has no email column: name a column "email", or map one with mapping {"<column>": "email"}; columns found: ${columnsFound}`,
      [{ path: '/mapping', message: 'no column maps to email' }],
    );
  }
  const resolved: Record<string, string | null> = {};
  columns.forEach((target, index) => {
    const column = header[index] ?? '';
    if (column.trim() !== '' || target.kind !== 'ignore') resolved[column] = describeTarget(target);
  });
  return { header, columns, resolved };
}

/** A validated row, ready to merge. `null` means "not given: leave the stored value". */
export interface ImportRow {
  line: number;
  email: string;
  /** Lower-cased email: two rows with the same key are the same contact. */
  key: string;
  externalId: string | null;
  status: ContactStatus | null;
  attributes: Record<string, unknown> | null;
  tags: string[] | null;
  timezone: string | null;
  locale: string | null;
  /** CCPA do not sell or share; null: not given. */
  doNotSell: boolean | null;
}

/**
 * A good row, with the hygiene warnings of its email when there are some (the
 * row imports; the warnings are stored by line next to the row errors).
 */
export type RowCheck =
  | { ok: true; row: ImportRow; warnings?: HygieneWarning[] }
  | { ok: false; reason: string };

/** True for a record that holds no data at all (a blank line or a line of empty cells). */
export function isBlank(cells: string[]): boolean {
  return cells.every((cell) => cell.trim() === '');
}

/**
 * Validates one data row with the same rules as the API. Empty cells leave
 * the field unset. Every problem of the row is reported in one reason.
 * In unsubscribe and block modes only the email is read.
 */
export function checkRow(
  cells: string[],
  line: number,
  plan: ColumnPlan,
  definitions: Definitions,
  mode: ImportMode,
  hygiene?: HygienePolicy,
): RowCheck {
  if (cells.length !== plan.columns.length) {
    return {
      ok: false,
      reason: `has ${cells.length} ${cells.length === 1 ? 'column' : 'columns'} but the header has ${plan.columns.length}; quote fields that contain commas or line breaks`,
    };
  }
  const problems: string[] = [];
  let email: string | undefined;
  const row: ImportRow = {
    line,
    email: '',
    key: '',
    externalId: null,
    status: null,
    attributes: null,
    tags: null,
    timezone: null,
    locale: null,
    doNotSell: null,
  };
  const attributeValues: Record<string, unknown> = {};
  const emailOnly = mode === 'unsubscribe' || mode === 'block';
  let warnings: HygieneWarning[] = [];
  plan.columns.forEach((target, index) => {
    if (target.kind === 'ignore') return;
    const raw = cells[index] ?? '';
    if (raw.includes('\u0000')) {
      problems.push(`column "${plan.header[index]}" contains a NUL character`);
      return;
    }
    const value = raw.trim();
    if (target.kind === 'field' && target.field === 'email') {
      const checked = checkEmail(value);
      if ('error' in checked) {
        problems.push(checked.error.message);
        return;
      }
      email = checked.email;
      // Unsubscribing or blocking an address is always allowed, whatever it looks like.
      if (hygiene && !emailOnly) {
        const verdict = applyHygienePolicy(inspectEmail(email), hygiene);
        if (verdict.error) problems.push(verdict.error.message);
        warnings = verdict.warnings;
      }
      return;
    }
    if (emailOnly || value === '') return;
    if (target.kind === 'attribute') {
      attributeValues[target.name] = value;
      return;
    }
    switch (target.field) {
      case 'external_id':
        if (value.length > 255) problems.push('external_id is longer than 255 characters');
        else row.externalId = value;
        break;
      case 'status': {
        const status = value.toLowerCase();
        if ((CONTACT_STATUSES as readonly string[]).includes(status)) row.status = status as ContactStatus;
        else problems.push(`invalid status "${value}": use ${CONTACT_STATUSES.join(', ')}`);
        break;
      }
      case 'tags': {
        const parts = value.split(/[;,]/).filter((part) => part.trim() !== '');
        const checked = checkTags(parts);
        if (checked.errors.length > 0) problems.push(...checked.errors.map((e) => e.message));
        else if (checked.tags.length > 100) problems.push('has more than 100 tags');
        else row.tags = checked.tags;
        break;
      }
      case 'timezone': {
        const timezone = checkTimezone(value);
        if (timezone) row.timezone = timezone;
        else problems.push(`"${value}" is not an IANA time zone such as Europe/Berlin`);
        break;
      }
      case 'locale': {
        const locale = checkLocale(value);
        if (locale) row.locale = locale;
        else problems.push(`"${value}" is not a BCP 47 locale such as en-US`);
        break;
      }
      case 'do_not_sell': {
        const flag = DO_NOT_SELL_VALUES.get(value.toLowerCase());
        if (flag !== undefined) row.doNotSell = flag;
        else problems.push(`invalid do_not_sell "${value}": use true, false, 1, 0, yes or no`);
        break;
      }
    }
  });
  if (Object.keys(attributeValues).length > 0) {
    const checked = checkAttributes(attributeValues, definitions, { fromText: true });
    if (checked.errors.length > 0) problems.push(...checked.errors.map((e) => e.message));
    else row.attributes = checked.set;
  }
  if (problems.length > 0 || email === undefined) {
    return { ok: false, reason: problems.join('; ') || 'invalid email: email is empty' };
  }
  row.email = email;
  row.key = email.toLowerCase();
  return warnings.length > 0 ? { ok: true, row, warnings } : { ok: true, row };
}

/** Largest record accepted; a longer one nearly always means a quote that is never closed. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** csv-parse options shared by the upload check and the import run, so both see the same records. */
export function csvOptions(): CsvParseOptions {
  return {
    bom: true,
    info: true,
    // Column counts are checked per row, so a short or long row is a row error, not a failed import.
    relax_column_count: true,
    // A stray quote inside an unquoted field (O"Brien) is taken literally, as spreadsheets write it.
    relax_quotes: true,
    // Blank lines come through as records so every record starts where the previous one ended.
    skip_empty_lines: false,
    max_record_size: MAX_RECORD_BYTES,
  };
}

/** Turns a csv-parse error into INVALID_CSV naming the line where the broken record starts. */
export function csvError(error: unknown, line: number): DomainError | undefined {
  if (!(error instanceof CsvError)) return undefined;
  const reason =
    error.code === 'CSV_QUOTE_NOT_CLOSED'
      ? 'a quoted field that starts here is never closed; check for a missing closing quote (")'
      : error.code === 'CSV_MAX_RECORD_SIZE'
        ? `the row is longer than ${MAX_RECORD_BYTES / 1024 / 1024} MiB; check for a quote (") that is never closed`
        : `the file is not valid CSV here (${error.message})`;
  return new DomainError('INVALID_CSV', `line ${line}: ${reason}`, [
    { path: `/line/${line}`, message: reason },
  ]);
}

/**
 * Counts line breaks in a byte stream so a record's line number can be found
 * from its byte offset (csv-parse's own line count is off for CRLF inside
 * quoted fields). Keeps only the offsets not yet asked about, so memory stays
 * flat. \n, \r\n and a lone \r each end a line.
 */
export class LineCounter {
  private starts: number[] = [];
  private head = 0;
  private line = 1;
  private offset = 0;
  private pendingCr = false;

  feed(chunk: Buffer): void {
    const base = this.offset;
    const length = chunk.length;
    if (this.pendingCr && length > 0) {
      // A \r at the end of the previous chunk: the line break is \r\n if this chunk starts with \n.
      if (chunk[0] !== 10) this.starts.push(base);
      this.pendingCr = false;
    }
    // Buffer.indexOf is a native memchr: far faster than a byte loop on large files.
    const from = this.starts.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.starts.push(base + i + 1);
    let loneCr = false;
    for (let i = chunk.indexOf(13); i !== -1; i = chunk.indexOf(13, i + 1)) {
      if (i + 1 === length) this.pendingCr = true;
      else if (chunk[i + 1] !== 10) {
        this.starts.push(base + i + 1);
        loneCr = true;
      }
    }
    if (loneCr) {
      const tail = this.starts.splice(from).sort((a, b) => a - b);
      for (const start of tail) this.starts.push(start);
    }
    this.offset += length;
  }

  /** Ends the input: a trailing \r ends a line. */
  end(): void {
    if (this.pendingCr) this.starts.push(this.offset);
    this.pendingCr = false;
  }

  /** The 1-based line of the byte at `offset`; offsets must be asked in increasing order. */
  lineAt(offset: number): number {
    while (this.head < this.starts.length && (this.starts[this.head] as number) <= offset) {
      this.head++;
      this.line++;
    }
    if (this.head > 4096) {
      this.starts = this.starts.slice(this.head);
      this.head = 0;
    }
    return this.line;
  }
}
