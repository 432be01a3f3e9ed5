import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isUuid } from '../lib/ids.js';
import type { AuditLog, AuditTarget } from '../modules/audit/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The audit log action of this route (`campaign.send`), or false for routes
     * that are not audited (high-volume ingestion). Absent: writes get an action
     * derived from method and URL; reads (GET, and POST under a `:read` scope)
     * are not audited. A read that hands out data (an export) names its action.
     */
    audit?: string | false;
  }
}

/** Largest response body parsed to find a created object's id. */
const MAX_PARSED_RESPONSE = 1_000_000;

/**
 * Writes an audit log entry for every successful (2xx) authenticated write,
 * and for reads whose route names an action, before the response is sent. A
 * failure to write the entry fails the request (500): a change must not go
 * unrecorded silently. The change itself has been committed by then; the
 * client learns that something went wrong and the error is logged.
 */
export const auditTrailPlugin = fp<{ audit: Pick<AuditLog, 'record'> }>(
  async (app: FastifyInstance, { audit }) => {
    app.addHook('onSend', async (request, reply, payload) => {
      const principal = request.principal;
      const route = request.routeOptions.url;
      const configured = request.routeOptions.config.audit;
      if (!principal || !route || configured === false) return payload;
      // HEAD and OPTIONS hand out nothing, even on an export's URL.
      if (request.method === 'HEAD' || request.method === 'OPTIONS') return payload;
      // A POST under a read scope (a preview, a validation, a simulation) changes nothing.
      const isRead =
        request.method === 'GET' || request.routeOptions.config.scope?.endsWith(':read') === true;
      if (isRead && typeof configured !== 'string') return payload;
      if (reply.statusCode < 200 || reply.statusCode >= 300) return payload;

      const derived = describeRoute(request.method, route);
      const action = typeof configured === 'string' ? configured : derived.action;
      const target = targetOf(request, derived.targetType, action, payload);
      try {
        await audit.record({
          workspaceId: principal.workspaceId,
          actor: { type: principal.actor.type, id: principal.actor.id },
          action,
          target,
          ip: request.ip,
          requestId: request.id,
          details: detailsOf(request),
        });
      } catch (error) {
        // A stream nobody will read (an export) is closed rather than left open.
        (payload as { destroy?: () => void } | null)?.destroy?.();
        throw error;
      }
      return payload;
    });
  },
  { name: 'herald-audit-trail' },
);

/**
 * The action and target type of a route from its method and URL pattern:
 * POST /v1/templates -> template.create, PATCH /v1/templates/:id ->
 * template.update, DELETE /v1/api-keys/:id -> api_key.delete, POST
 * /v1/campaigns/:id/send -> campaign.send (a final word that is not a plural
 * noun is the verb), POST /v1/lists/:id/members -> list.members.create.
 */
export function describeRoute(method: string, url: string): { action: string; targetType: string } {
  const literals = url
    .replace(/^\/v1\//, '/')
    .split('/')
    .filter((segment) => segment !== '' && !segment.startsWith(':'))
    .map((segment) => segment.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase());
  const [first = 'unknown', ...rest] = literals;
  const targetType = singular(first);
  const last = rest.at(-1);
  if (method === 'POST' && last !== undefined && !last.endsWith('s')) {
    return { action: [targetType, ...rest].join('.'), targetType };
  }
  const verb = method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : 'update';
  return { action: [targetType, ...rest, verb].join('.'), targetType };
}

function singular(word: string): string {
  if (word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

/**
 * The target: the route's `:id` (or an attribute's `:name`); for a create, the
 * id of the object in the response. Other parameters (an address in
 * /v1/suppressions/:email, a token) are never recorded: they may be personal.
 */
function targetOf(request: FastifyRequest, type: string, action: string, payload: unknown): AuditTarget {
  const params = (request.params ?? {}) as Record<string, unknown>;
  if (typeof params.id === 'string') return { type, id: params.id };
  if (typeof params.name === 'string' && type === 'attribute') return { type, id: params.name };
  if (action.endsWith('.create') && typeof payload === 'string' && payload.length < MAX_PARSED_RESPONSE) {
    try {
      const body = JSON.parse(payload) as { id?: unknown };
      if (typeof body.id === 'string' && isUuid(body.id)) return { type, id: body.id };
    } catch {
      // Not JSON: no id to record.
    }
  }
  return { type, id: null };
}

/** The names of the body fields the request set (only names the route's schema defines), never values. */
function detailsOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const schema = request.routeOptions.schema?.body as { properties?: Record<string, unknown> } | undefined;
  const known = schema?.properties;
  if (!known) return {};
  const fields = Object.keys(body)
    .filter((key) => Object.hasOwn(known, key))
    .sort();
  return fields.length > 0 ? { fields } : {};
}
