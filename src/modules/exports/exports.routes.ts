import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { responses } from '../../http/schemas.js';
import { ContactFilterQuery, parseContactFilter } from '../contacts/index.js';
import type { ExportService } from './exports.service.js';

const ExportContactsQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Enum(['csv', 'ndjson'], {
        default: 'csv',
        description: 'csv (one column per attribute) or ndjson (one Contact object per line).',
      }),
    ),
    ...ContactFilterQuery,
    purpose: Type.Optional(
      Type.Enum(['internal', 'third_party'], {
        default: 'internal',
        description:
          'third_party: the file goes to another company (an ad platform, a data broker, a partner), so contacts ' +
          'flagged do_not_sell (CCPA, Global Privacy Control) are left out.',
      }),
    ),
  },
  { additionalProperties: false },
);

const ExportFile = Type.String({
  description:
    'CSV: id, email, external_id, status, tags (joined with ;), timezone, locale, do_not_sell (true or false), ' +
    'created_at, updated_at, ' +
    'then one column per attribute (attributes.<name> when the name is a built-in column). ' +
    'NDJSON: one Contact per line.',
});

export function exportsRoutes(deps: { exports: ExportService }): FastifyPluginAsyncTypebox {
  const { exports } = deps;
  return async (app) => {
    app.get(
      '/v1/exports/contacts',
      {
        config: { scope: 'contacts:export', audit: 'contacts.export' },
        schema: {
          tags: ['contacts'],
          summary: 'Export contacts as CSV or NDJSON',
          description:
            'Streams every contact matching the filters (the same as GET /v1/contacts) in id order, as a file ' +
            'download. The CSV can be imported again unchanged: the import ignores id, created_at and updated_at.',
          querystring: ExportContactsQuery,
          response: {
            ...responses({}),
            200: {
              description: 'The export file, streamed.',
              content: {
                'text/csv': { schema: ExportFile },
                'application/x-ndjson': { schema: ExportFile },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const { format = 'csv', purpose, ...filter } = request.query;
        const contactFilter = {
          ...parseContactFilter(filter),
          ...(purpose === 'third_party' ? { shareableOnly: true } : {}),
        };
        const file = await exports.contacts(principalOf(request).workspaceId, contactFilter, {
          format,
          // The count only: the rows are personal data.
          onEnd: ({ count, complete }) =>
            request.log.info({ exported: count, format, complete }, 'contacts export finished'),
        });
        return reply
          .type(file.contentType)
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .header('cache-control', 'no-store')
          .send(file.stream);
      },
    );
  };
}
