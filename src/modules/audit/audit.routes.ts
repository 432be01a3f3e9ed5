import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { PageOf, responses } from '../../http/schemas.js';
import { DomainError } from '../../lib/errors.js';
import { AuditEntrySchema, AuditExportQuery, AuditLogQuery } from './audit.schemas.js';
import type { AuditFilter, AuditLog } from './audit.service.js';

const tags = ['audit'];

interface FilterQuery {
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** The query's filters, checked beyond what the schema can say (from before to). */
function parseFilter(query: FilterQuery): AuditFilter {
  const [actorType, ...actorRest] = query.actor?.split(':') ?? [];
  const [targetType, ...targetRest] = query.target?.split(':') ?? [];
  const from = query.from === undefined ? undefined : new Date(query.from);
  const to = query.to === undefined ? undefined : new Date(query.to);
  if (from && to && from.getTime() >= to.getTime()) {
    throw new DomainError('VALIDATION_FAILED', '"from" must be earlier than "to"', [
      { path: '/from', message: 'not before to' },
    ]);
  }
  return {
    action: query.action,
    actorType: actorType as AuditFilter['actorType'],
    actorId: actorRest.length > 0 ? actorRest.join(':') : undefined,
    targetType,
    targetId: targetRest.length > 0 ? targetRest.join(':') : undefined,
    from,
    to,
  };
}

export function auditRoutes(deps: { audit: AuditLog }): FastifyPluginAsyncTypebox {
  const { audit } = deps;
  return async (app) => {
    app.get(
      '/v1/audit-log',
      {
        config: { scope: 'audit:read' },
        schema: {
          tags,
          summary: 'List audit log entries',
          description:
            'Every change made through the API (and the CLI key commands) in this workspace, oldest first ' +
            '(seq order), with its actor, target, request id and hash chain.',
          querystring: AuditLogQuery,
          response: responses({ 200: PageOf(AuditEntrySchema) }),
        },
      },
      async (request) => {
        const { limit = 100, cursor, ...filter } = request.query;
        return audit.list(principalOf(request).workspaceId, parseFilter(filter), { cursor, limit });
      },
    );

    app.get(
      '/v1/audit-log/export',
      {
        config: { scope: 'audit:read', audit: 'audit_log.export' },
        schema: {
          tags,
          summary: 'Export audit log entries as NDJSON',
          description: 'Streams every matching entry in seq order, one AuditEntry (as listed) per line.',
          querystring: AuditExportQuery,
          response: {
            ...responses({}),
            200: {
              description: 'One JSON entry per line, streamed.',
              content: { 'application/x-ndjson': { schema: Type.String() } },
            },
          },
        },
      },
      async (request, reply) => {
        const workspaceId = principalOf(request).workspaceId;
        const stream = audit.exportNdjson(workspaceId, parseFilter(request.query));
        return reply
          .type('application/x-ndjson; charset=utf-8')
          .header('content-disposition', 'attachment; filename="audit-log.ndjson"')
          .header('cache-control', 'no-store')
          .send(stream);
      },
    );
  };
}
