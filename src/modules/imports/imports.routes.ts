import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import { DomainError } from '../../lib/errors.js';
import { parseMappingJson } from './csv-rows.js';
import {
  ImportCreateQuery,
  ImportListQuery,
  ImportRowErrorSchema,
  ImportSchema,
  ImportWithErrorsSchema,
} from './imports.schemas.js';
import type { ImportService } from './imports.service.js';

const CSV_TYPES = new Set(['text/csv', 'application/csv']);

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.[Symbol.asyncIterator] === 'function';
}

export function importsRoutes(deps: { imports: ImportService }): FastifyPluginAsyncTypebox {
  const { imports } = deps;
  const tags = ['imports'];
  return async (app) => {
    // The file goes to the service as a stream, so an upload never sits in memory. Encapsulated
    // in this plugin: other routes keep refusing bodies that are not JSON.
    for (const type of [...CSV_TYPES, '*']) {
      app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
    }

    app.post(
      '/v1/imports',
      {
        config: { scope: 'contacts:write' },
        schema: {
          tags,
          summary: 'Import contacts from a CSV file',
          description:
            'Send the file as the raw body with `Content-Type: text/csv`; options go in the query string. ' +
            'Returns 202 at once; the import runs in the background (poll GET /v1/imports/{id}). ' +
            'Columns map by header name (email required; external_id, status, tags, timezone, locale; any other ' +
            'column becomes an attribute). Bad rows are reported with their line number while good rows import. ' +
            'A bad mapping (400 INVALID_MAPPING), an unknown list (404 LIST_NOT_FOUND), a file that is not valid CSV ' +
            '(400 INVALID_CSV) or too large (413) is refused at once and nothing is stored.',
          // No body schema: the body is a CSV stream, not JSON; the service checks it as it streams in.
          consumes: ['text/csv'],
          querystring: ImportCreateQuery,
          response: responses({ 202: ImportSchema }),
        },
      },
      async (request, reply) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        if (!CSV_TYPES.has(type) || !isStream(request.body)) {
          throw new DomainError(
            'UNSUPPORTED_MEDIA_TYPE',
            `send the CSV file as the raw request body with Content-Type: text/csv (got "${type || 'none'}"), e.g. curl --data-binary @contacts.csv -H 'Content-Type: text/csv'`,
          );
        }
        const { mode, list_id, list_status, mapping, filename } = request.query;
        const length = Number(request.headers['content-length']);
        const principal = principalOf(request);
        const created = await imports.receive(
          principal.workspaceId,
          request.body,
          {
            mode,
            listId: list_id,
            listStatus: list_status,
            mapping: parseMappingJson(mapping),
            filename,
            contentLength: Number.isFinite(length) ? length : undefined,
          },
          { source: 'api', sourceId: principal.actor.id },
        );
        return reply.code(202).header('location', `/v1/imports/${created.id}`).send(created);
      },
    );

    app.get(
      '/v1/imports',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'List imports',
          description: 'Newest first.',
          querystring: ImportListQuery,
          response: responses({ 200: PageOf(ImportSchema) }),
        },
      },
      async (request) =>
        imports.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.get(
      '/v1/imports/:id',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'Get an import: status, counts and the first row errors',
          description: 'Counts grow while the import runs, one batch at a time.',
          params: IdParams,
          response: responses({ 200: ImportWithErrorsSchema }),
        },
      },
      async (request) => imports.get(principalOf(request).workspaceId, request.params.id),
    );

    app.get(
      '/v1/imports/:id/errors',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: "List an import's row errors by line",
          description: 'Up to 10,000 errors are stored per import; `failed` counts all of them.',
          params: IdParams,
          querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
          response: responses({ 200: PageOf(ImportRowErrorSchema) }),
        },
      },
      async (request) =>
        imports.errors(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );
  };
}
