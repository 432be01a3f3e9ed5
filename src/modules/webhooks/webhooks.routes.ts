import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import {
  WebhookDeliveryListQuery,
  WebhookDeliverySchema,
  WebhookEndpointCreateBody,
  WebhookEndpointListQuery,
  WebhookEndpointPatchBody,
  WebhookEndpointSchema,
  WebhookEndpointWithSecret,
  WebhookPingResult,
  WebhookReplayBody,
  WebhookReplayResult,
} from './webhooks.schemas.js';
import type { WebhookService } from './webhooks.service.js';

export function webhooksRoutes(deps: { webhooks: WebhookService }): FastifyPluginAsyncTypebox {
  const { webhooks } = deps;
  const tags = ['webhooks'];
  return async (app) => {
    app.get(
      '/v1/webhooks/endpoints',
      {
        config: { scope: 'webhooks:read' },
        schema: {
          tags,
          summary: 'List webhook endpoints',
          querystring: WebhookEndpointListQuery,
          response: responses({ 200: PageOf(WebhookEndpointSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return webhooks.list(principalOf(request).workspaceId, { cursor, limit: limit ?? 100 });
      },
    );

    app.post(
      '/v1/webhooks/endpoints',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: 'Create a webhook endpoint',
          description:
            'Answers with the signing secret, shown only here (and by rotate-secret). The URL is refused with ' +
            '400 WEBHOOK_ENDPOINT_INVALID when its host resolves to a private, loopback, link-local or reserved ' +
            'address, unless HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true.',
          body: WebhookEndpointCreateBody,
          response: responses({ 201: WebhookEndpointWithSecret }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await webhooks.create(principalOf(request).workspaceId, request.body)),
    );

    app.get(
      '/v1/webhooks/endpoints/:id',
      {
        config: { scope: 'webhooks:read' },
        schema: {
          tags,
          summary: 'Get a webhook endpoint',
          params: IdParams,
          response: responses({ 200: WebhookEndpointSchema }),
        },
      },
      async (request) => webhooks.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/webhooks/endpoints/:id',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: 'Change a webhook endpoint',
          description:
            'A changed URL is checked like a new one. Disabling keeps pending deliveries until re-enabled.',
          params: IdParams,
          body: WebhookEndpointPatchBody,
          response: responses({ 200: WebhookEndpointSchema }),
        },
      },
      async (request) => webhooks.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/webhooks/endpoints/:id',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: 'Delete a webhook endpoint',
          description: 'Its deliveries go with it.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await webhooks.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/webhooks/endpoints/:id/rotate-secret',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: "Rotate a webhook endpoint's signing secret",
          description: 'Every attempt from now on, pending retries included, is signed with the new secret.',
          params: IdParams,
          response: responses({ 200: WebhookEndpointWithSecret }),
        },
      },
      async (request) => webhooks.rotateSecret(principalOf(request).workspaceId, request.params.id),
    );

    app.post(
      '/v1/webhooks/endpoints/:id/ping',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: 'Send a test event to a webhook endpoint',
          description:
            'POSTs a signed webhook.ping event now and answers 200 with what the endpoint answered; not recorded, not retried.',
          params: IdParams,
          response: responses({ 200: WebhookPingResult }),
        },
      },
      async (request) => webhooks.ping(principalOf(request).workspaceId, request.params.id),
    );

    app.get(
      '/v1/webhooks/endpoints/:id/deliveries',
      {
        config: { scope: 'webhooks:read' },
        schema: {
          tags,
          summary: "A webhook endpoint's delivery log",
          description: 'Newest event first: status, attempts, last response code and error, next attempt.',
          params: IdParams,
          querystring: WebhookDeliveryListQuery,
          response: responses({ 200: PageOf(WebhookDeliverySchema) }),
        },
      },
      async (request) => {
        const { limit, cursor, status } = request.query;
        return webhooks.deliveries(principalOf(request).workspaceId, request.params.id, {
          cursor,
          limit: limit ?? 100,
          status,
        });
      },
    );

    app.post(
      '/v1/webhooks/endpoints/:id/replay',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: 'Re-send the events of a time range to a webhook endpoint',
          description:
            'Makes pending, due now, the stored events recorded in [from, to) that the endpoint subscribes to ' +
            '(delivered and failed ones included; events past retention are gone).',
          params: IdParams,
          body: WebhookReplayBody,
          response: responses({ 200: WebhookReplayResult }),
        },
      },
      async (request) =>
        webhooks.replay(principalOf(request).workspaceId, request.params.id, {
          from: new Date(request.body.from),
          to: new Date(request.body.to),
        }),
    );

    app.post(
      '/v1/webhooks/deliveries/:id/retry',
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags,
          summary: 'Retry a webhook delivery now',
          description: 'Makes the delivery pending again, due now, with a fresh retry schedule.',
          params: IdParams,
          response: responses({ 200: WebhookDeliverySchema }),
        },
      },
      async (request) => webhooks.retryDelivery(principalOf(request).workspaceId, request.params.id),
    );
  };
}
