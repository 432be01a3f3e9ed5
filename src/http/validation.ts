import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Two validators: query strings, path parameters and headers arrive as text,
 * so they are coerced to the schema's types ("limit=10" -> 10); JSON bodies
 * are not, so `"email": 42` or `"tags": "vip"` is refused instead of quietly
 * turned into something the caller did not send. Unknown fields are errors
 * everywhere, never silently dropped.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const common: Options = { removeAdditional: false, useDefaults: true, allErrors: true, strict: false };
  const text = addFormats.default(new Ajv({ ...common, coerceTypes: 'array' }));
  const json = addFormats.default(new Ajv({ ...common, coerceTypes: false }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? json : text).compile(schema as object);
}
