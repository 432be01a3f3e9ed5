import fc from 'fast-check';

/**
 * fast-check arbitraries for the JSON schemas of Herald's OpenAPI document:
 * mostly values the schema accepts (so requests get past validation into the
 * handlers, where bugs live), mixed with hostile values (wrong types, control
 * characters, lone surrogates, injection strings, huge and deep values).
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** Strings that have broken parsers, SQL builders, templating and storage elsewhere. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202e',
  "' OR 1=1 --",
  '"; DROP TABLE contacts; --',
  '%00',
  '%',
  '_',
  '\\',
  '{{ contact.email }}',
  '{% for i in (1..100000000) %}x{% endfor %}',
  '{% include "../../etc/passwd" %}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  'javascript:alert(1)',
  '__proto__',
  'constructor',
  'NaN',
  '-1',
  '1e400',
  '9999999999999999999999',
  '2026-02-30T25:61:00Z',
  '0000-00-00',
  'not-an-email',
  'a@b',
  '@example.com',
  'a..b@example.com',
  '"quoted"@example.com',
  'ünïcödé@exämple.de',
  'x@[127.0.0.1]',
  'a'.repeat(5000),
  '😀'.repeat(300),
  'line\r\nBcc: victim@example.com',
];

const hostileString = fc.constantFrom(...HOSTILE_STRINGS);

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    -0.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    [],
    {},
    { __proto__: { admin: true } },
    { constructor: { prototype: { polluted: true } } },
    deepNest(200),
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

function deepNest(depth: number): unknown {
  let value: unknown = 'deep';
  for (let i = 0; i < depth; i++) value = { a: [value] };
  return value;
}

const SAMPLE_FORMATS: Record<string, fc.Arbitrary<string>> = {
  email: fc.oneof(fc.emailAddress(), fc.constantFrom('fuzz@example.com', 'Fuzz.Person+tag@Example.COM')),
  uuid: fc.uuid(),
  'date-time': fc
    .date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
  date: fc
    .date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString().slice(0, 10)),
  uri: fc.webUrl(),
};

/**
 * A value for `schema`: more often one the schema accepts throughout (so the
 * request reaches the handler), otherwise one with hostile values mixed in at
 * any depth. `ids` are real object ids, offered wherever an id is expected.
 */
export function arbitraryFor(schema: JsonSchema | undefined, ids: KnownIds = {}): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: generate(schema, { hostile: false, ids, name: '', depth: 0 }) },
    { weight: 2, arbitrary: generate(schema, { hostile: true, ids, name: '', depth: 0 }) },
  );
}

/** Real object ids by kind (`contact`, `list`, `template`, ...). */
export type KnownIds = Readonly<Record<string, string>>;

/** The ids a property probably wants, by its name (`list_ids`, `exclude_lists`, `template_id`). */
export function idsFor(name: string, ids: KnownIds): string[] {
  const kinds = Object.keys(ids).filter((kind) => name.toLowerCase().includes(kind));
  return (kinds.length > 0 ? kinds : Object.keys(ids)).map((kind) => ids[kind] as string);
}

interface Context {
  hostile: boolean;
  ids: KnownIds;
  /** The property name the value is for: `email`, `list_ids` and the like say more than the schema. */
  name: string;
  depth: number;
}

function generate(schema: JsonSchema | undefined, context: Context): fc.Arbitrary<unknown> {
  if (!schema || context.depth > 6) return context.hostile ? hostileValue : fc.constant(null);
  const valid = validish(schema, { ...context, depth: context.depth + 1 });
  return context.hostile
    ? fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: hostileValue })
    : valid;
}

function validish(schema: JsonSchema, context: Context): fc.Arbitrary<unknown> {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0)
    return fc.oneof(...alternatives.map((s) => generate(s, context)));
  if (schema.allOf?.[0]) return generate(schema.allOf[0], context);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return stringFor(schema, context);
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? -1_000_000, -(2 ** 31)),
        max: Math.min(schema.maximum ?? 1_000_000, 2 ** 31),
      });
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1e9,
        max: schema.maximum ?? 1e9,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(generate(schema.items, context), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, 4)),
      });
    case 'object':
      return objectFor(schema, context);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringFor(schema: JsonSchema, context: Context): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? 10_000;
  // Mapped into the length bounds rather than filtered: a filter that rarely passes stalls generation.
  const fit = (s: string) => s.slice(0, maxLength).padEnd(minLength, 'a');
  const byName = /email/i.test(context.name)
    ? SAMPLE_FORMATS.email
    : /(^|_)ids?$|lists$|^segments?$|^templates?$|^contacts?$/.test(context.name) &&
        Object.keys(context.ids).length > 0
      ? fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...idsFor(context.name, context.ids)) },
          { weight: 1, arbitrary: fc.uuid() },
        )
      : /url$/i.test(context.name)
        ? SAMPLE_FORMATS.uri
        : undefined;
  const formatted = byName ?? (schema.format ? SAMPLE_FORMATS[schema.format] : undefined);
  if (formatted) return formatted.map(fit);
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern), { size: 'small' });
    } catch {
      // A pattern JavaScript cannot compile: fall through to plain strings.
    }
  }
  const upTo = Math.max(minLength, Math.min(maxLength, 40));
  return fc.oneof(
    fc.string({ minLength, maxLength: upTo }),
    fc.string({ minLength, maxLength: upTo, unit: 'grapheme' }),
    fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/).map(fit),
  );
}

function objectFor(schema: JsonSchema, context: Context): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties))
    record[name] = generate(property, { ...context, name });
  const known = fc.record(record, { requiredKeys: [...required].filter((k) => k in record) });
  const extra =
    schema.additionalProperties === false || !context.hostile
      ? fc.constant({})
      : fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), hostileString), hostileValue, { maxKeys: 3 });
  return fc.tuple(known, extra).map(([k, e]) => ({ ...(e as object), ...(k as object) }));
}
