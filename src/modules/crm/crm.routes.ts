import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, NullableTimestamp, responses } from '../../http/schemas.js';
import {
  CrmContactsBody,
  CrmContactsResult,
  FieldMappingBody,
  FieldMappingView,
  HubspotConnectionBody,
  HubspotConnectionSchema,
  MailchimpConnectionBody,
  MailchimpConnectionSchema,
  RunSchema,
} from './crm.schemas.js';
import type { CrmService } from './crm.service.js';
import type { CrmMapping } from './crm-mapping.service.js';
import type { MailgunEventsFetcher } from './mailgun-events.js';
import { SENDGRID_METRICS, type SendgridStatsFetcher } from './sendgrid-stats.js';

/** Adds 502: the provider could not be reached or kept failing. */
function withUpstream<T extends Record<number, TSchema>>(ok: T) {
  return { ...responses(ok), 502: Type.Ref('Problem') };
}

export function crmRoutes(deps: {
  crm: CrmService;
  mapping: CrmMapping;
  mailgunEvents: MailgunEventsFetcher;
  sendgridStats: SendgridStatsFetcher;
}): FastifyPluginAsyncTypebox {
  const { crm, mapping, mailgunEvents, sendgridStats } = deps;
  const tags = ['connectors'];
  return async (app) => {
    app.get(
      '/v1/connectors',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: "The workspace's CRM connections (never their keys or tokens)",
          response: responses({
            200: Type.Object({
              data: Type.Array(Type.Union([MailchimpConnectionSchema, HubspotConnectionSchema])),
            }),
          }),
        },
      },
      async (request) => ({ data: await crm.connections(principalOf(request).workspaceId) }),
    );

    app.put(
      '/v1/connectors/mailchimp',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Create or replace the Mailchimp connection',
          description:
            'Checks the API key, the audience and every mapped merge tag with Mailchimp before storing anything: ' +
            'a key Mailchimp refuses gives 400 CONNECTOR_CREDENTIALS_REJECTED, an unknown audience, merge tag, list ' +
            'or a bad mapping 400 CONNECTOR_INVALID (each problem in errors), Mailchimp unreachable 502 CONNECTOR_UNAVAILABLE.',
          body: MailchimpConnectionBody,
          response: withUpstream({ 200: MailchimpConnectionSchema }),
        },
      },
      async (request) => crm.putMailchimp(principalOf(request).workspaceId, request.body),
    );

    app.put(
      '/v1/connectors/hubspot',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Create or replace the HubSpot connection',
          description:
            'Checks the token and every mapped property with HubSpot before storing anything: a token HubSpot refuses ' +
            'gives 400 CONNECTOR_CREDENTIALS_REJECTED, an unknown property or a bad name 400 CONNECTOR_INVALID, ' +
            'HubSpot unreachable 502 CONNECTOR_UNAVAILABLE.',
          body: HubspotConnectionBody,
          response: withUpstream({ 200: HubspotConnectionSchema }),
        },
      },
      async (request) => crm.putHubspot(principalOf(request).workspaceId, request.body),
    );

    const providers = [
      { provider: 'mailchimp', name: 'Mailchimp', kinds: ['import', 'sync'] },
      { provider: 'hubspot', name: 'HubSpot', kinds: ['import', 'sync', 'push'] },
    ] as const;
    for (const { provider, name, kinds } of providers) {
      app.delete(
        `/v1/connectors/${provider}`,
        {
          config: { scope: 'settings:write' },
          schema: {
            tags,
            summary: `Delete the ${name} connection and its run history`,
            description: 'Imported contacts, memberships and suppressions stay.',
            response: responses({ 204: Type.Null() }),
          },
        },
        async (request, reply) => {
          await crm.remove(principalOf(request).workspaceId, provider);
          return reply.code(204).send(null);
        },
      );

      for (const kind of kinds) {
        app.post(
          `/v1/connectors/${provider}/${kind}`,
          {
            config: { scope: 'contacts:write' },
            schema: {
              tags,
              summary:
                kind === 'import'
                  ? `Import every ${name} contact (in the background)`
                  : kind === 'sync'
                    ? `Pull the ${name} contacts changed since the last run now (in the background)`
                    : 'Push Herald contacts changed since the last push to HubSpot now (in the background)',
              description:
                'Returns 202 with the run; poll GET /v1/connectors/runs/{id}. While a run of the connection is unfinished, ' +
                'the request returns that run (200) instead of starting another.' +
                (kind === 'sync' ? ' 409 CONNECTOR_NOT_READY before the first import.' : ''),
              response: responses({ 200: RunSchema, 202: RunSchema }),
            },
          },
          async (request, reply) => {
            const { run, created } = await crm.start(principalOf(request).workspaceId, provider, kind);
            if (!created) return reply.code(200).send(run);
            return reply.code(202).header('location', `/v1/connectors/runs/${run.id}`).send(run);
          },
        );
      }

      app.get(
        `/v1/connectors/${provider}/runs`,
        {
          config: { scope: 'contacts:read' },
          schema: {
            tags,
            summary: `The ${name} connection's runs, newest first`,
            querystring: Type.Object(
              { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
              { additionalProperties: false },
            ),
            response: responses({ 200: Type.Object({ data: Type.Array(RunSchema) }) }),
          },
        },
        async (request) => ({
          data: await crm.runs(principalOf(request).workspaceId, provider, request.query.limit ?? 20),
        }),
      );
    }

    app.get(
      '/v1/connectors/crm/mapping',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'The CRM field mapping (CRM field -> Herald attribute and type)',
          response: responses({ 200: FieldMappingView }),
        },
      },
      async (request) => mapping.get(principalOf(request).workspaceId),
    );

    app.put(
      '/v1/connectors/crm/mapping',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Replace the CRM field mapping',
          description:
            'Every entry is checked against the attribute schema; a bad field name, attribute name, a type that ' +
            'differs from the attribute definition, or two fields mapped to one attribute give 400 INVALID_MAPPING ' +
            '(each in errors) and nothing changes.',
          body: FieldMappingBody,
          response: responses({ 200: FieldMappingView }),
        },
      },
      async (request) => mapping.put(principalOf(request).workspaceId, request.body.fields),
    );

    app.post(
      '/v1/connectors/crm/contacts',
      {
        config: { scope: 'contacts:write' },
        schema: {
          tags,
          summary: 'Upsert contacts from a CRM by external_id (or email), applying the field mapping',
          description:
            'Up to 1000 items. An item with a known external_id updates that contact; otherwise its email finds or ' +
            'creates the contact and records the external_id. Each item gets a result by index: a bad item ' +
            '(unknown field, a value of the wrong type, an invalid email, unknown external_id without email) is ' +
            'reported with its reason while the good ones are applied. 409 CONNECTOR_NOT_READY before a mapping is set.',
          body: CrmContactsBody,
          response: responses({ 200: CrmContactsResult }),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return mapping.upsert(principal.workspaceId, request.body.contacts, {
          source: 'api',
          sourceId: principal.actor.id,
        });
      },
    );

    app.post(
      '/v1/connectors/mailgun/events',
      {
        config: { scope: 'suppressions:write' },
        schema: {
          tags,
          summary: "Read a Mailgun transport's events into bounces and complaints",
          description:
            'Reads GET /v3/{domain}/events of the mailgun transport from begin (to end), oldest first, up to 50 ' +
            'pages of 300, and applies failed (bounces, or delays when temporary), complained and delivered events ' +
            'like the Mailgun webhook does (suppressions, contact statuses); opened, clicked and other events are ' +
            'counted as ignored. Events already recorded are not applied twice. Continue a long window with ' +
            'begin = last_event_at. 400 CONNECTOR_CREDENTIALS_REJECTED when Mailgun refuses the key.',
          body: Type.Object(
            {
              transport_id: Type.String({ format: 'uuid', description: 'A transport of type mailgun.' }),
              begin: Type.String({ format: 'date-time' }),
              end: Type.Optional(Type.String({ format: 'date-time' })),
            },
            { additionalProperties: false },
          ),
          response: withUpstream({
            200: Type.Object({
              pages: Type.Integer(),
              fetched: Type.Integer(),
              bounces: Type.Integer(),
              complaints: Type.Integer(),
              deliveries: Type.Integer(),
              delays: Type.Integer(),
              ignored: Type.Integer(),
              unreadable: Type.Integer(),
              last_event_at: NullableTimestamp,
            }),
          }),
        },
      },
      async (request) => {
        const { transport_id, begin, end } = request.body;
        return mailgunEvents.fetch(principalOf(request).workspaceId, {
          transport_id,
          begin: new Date(begin),
          end: end ? new Date(end) : undefined,
        });
      },
    );

    const Metrics = Type.Object(
      Object.fromEntries(SENDGRID_METRICS.map((name) => [name, Type.Number()])) as Record<
        (typeof SENDGRID_METRICS)[number],
        ReturnType<typeof Type.Number>
      >,
    );
    app.get(
      '/v1/connectors/sendgrid/stats',
      {
        config: { scope: 'analytics:read' },
        schema: {
          tags,
          summary: "Read a SendGrid account's email statistics",
          description:
            "Reads SendGrid's global statistics (GET /v3/stats) with the sendgrid transport's API key, which needs " +
            "SendGrid's Stats read permission: what SendGrid counted per day, week or month (requests, deliveries, " +
            'deferrals, bounces, blocks, spam reports, unsubscribes, opens, clicks), with totals, to set beside ' +
            "Herald's own campaign reports. Dates are SendGrid's (UTC days); at most 366 days at once. " +
            '400 CONNECTOR_CREDENTIALS_REJECTED when SendGrid refuses the key.',
          querystring: Type.Object(
            {
              transport_id: Type.String({ format: 'uuid', description: 'A transport of type sendgrid.' }),
              from: Type.String({ format: 'date', description: 'First day, YYYY-MM-DD.' }),
              to: Type.String({ format: 'date', description: 'Last day, YYYY-MM-DD.' }),
              aggregated_by: Type.Optional(
                Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], {
                  description: 'Period length (default day).',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: withUpstream({
            200: Type.Object({
              aggregated_by: Type.String(),
              periods: Type.Array(Type.Object({ date: Type.String(), metrics: Metrics })),
              totals: Metrics,
            }),
          }),
        },
      },
      async (request) => sendgridStats.fetch(principalOf(request).workspaceId, request.query),
    );

    app.get(
      '/v1/connectors/runs/:id',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'A connector run: status, progress, counts and problems',
          params: IdParams,
          response: responses({ 200: RunSchema }),
        },
      },
      async (request) => crm.run(principalOf(request).workspaceId, request.params.id),
    );
  };
}
