import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import type { ShopWebhooks } from './shop-webhooks.js';
import {
  ShopConnectionCreateBody,
  ShopConnectionPatchBody,
  ShopConnectionSchema,
  ShopDeliverySchema,
  ShopListQuery,
  ShopWebhookParams,
  ShopWebhookResult,
} from './shops.schemas.js';
import type { ShopService } from './shops.service.js';

/** Shop connections: `/v1/connectors/shops` (settings scopes). */
export function shopsRoutes(deps: { shops: ShopService }): FastifyPluginAsyncTypebox {
  const { shops } = deps;
  const tags = ['shops'];
  return async (app) => {
    app.get(
      '/v1/connectors/shops',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'List shop connections',
          querystring: ShopListQuery,
          response: responses({ 200: PageOf(ShopConnectionSchema) }),
        },
      },
      async (request) =>
        shops.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/connectors/shops',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Connect a Shopify or WooCommerce store',
          description:
            'Returns the webhook_url to paste into the shop and the topics to subscribe it to. The webhook_secret is stored ' +
            'encrypted and never returned. Bad fields: 400 SHOP_CONNECTION_INVALID naming each; a name in use: 409.',
          body: ShopConnectionCreateBody,
          response: responses({ 201: ShopConnectionSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await shops.create(principalOf(request).workspaceId, request.body)),
    );

    app.get(
      '/v1/connectors/shops/:id',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'Get a shop connection',
          params: IdParams,
          response: responses({ 200: ShopConnectionSchema }),
        },
      },
      async (request) => shops.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/connectors/shops/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Change a shop connection',
          description:
            'Only the fields given change. A new webhook_secret takes effect for the next webhook.',
          params: IdParams,
          body: ShopConnectionPatchBody,
          response: responses({ 200: ShopConnectionSchema }),
        },
      },
      async (request) => shops.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/connectors/shops/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Delete a shop connection',
          description:
            'Its webhook URL stops working (404) and its delivery log goes. Contacts, events and conversions it recorded stay.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await shops.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/connectors/shops/:id/deliveries',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: "A shop connection's webhook deliveries",
          description:
            'Accepted webhooks, newest first: what each applied, or why it was ignored (unknown topic, no email address...). ' +
            'Refused requests (bad signature, malformed body) are not logged: they were answered 401 or 400. ' +
            'Deliveries are kept 30 days.',
          params: IdParams,
          querystring: ShopListQuery,
          response: responses({ 200: PageOf(ShopDeliverySchema) }),
        },
      },
      async (request) =>
        shops.deliveries(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );
  };
}

/**
 * The public receiving endpoints. The body is read raw: the signature covers
 * its exact bytes. Rate-limited per connection (a shop sends from many addresses).
 */
export function shopWebhookRoutes(deps: {
  webhooks: ShopWebhooks;
  bodyLimit: number;
  rateLimitPerMinute: number;
}): FastifyPluginAsyncTypebox {
  const { webhooks } = deps;
  const tags = ['shops'];
  const response = {
    200: ShopWebhookResult,
    400: Type.Ref('Problem'),
    401: Type.Ref('Problem'),
    404: Type.Ref('Problem'),
    413: Type.Ref('Problem'),
    429: Type.Ref('Problem'),
  };
  const config = {
    public: true,
    rateLimit: {
      max: deps.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) =>
        `shop-hook:${(request.params as { connectionId?: string }).connectionId ?? ''}`,
    },
  } as const;
  const header = (request: FastifyRequest, name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const rawOf = (body: unknown) => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_request, body, done) =>
      done(null, body),
    );

    app.post(
      '/hooks/shopify/:connectionId',
      {
        config,
        schema: {
          tags,
          summary: 'Shopify webhooks',
          description:
            'Checks X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body with the connection secret): missing or wrong: 401, ' +
            'nothing stored. Topic from X-Shopify-Topic; duplicates by X-Shopify-Webhook-Id and X-Shopify-Event-Id. A malformed ' +
            'body: 400. A topic Herald does not act on: 200 ignored (logged). An order is one conversion (revenue = its total ' +
            'net of refunds; refunds/create lowers the revenue, never the count); orders/cancelled, or any order webhook with ' +
            'cancelled_at, deletes its conversion (Order Cancelled event), once, and a cancel that comes first keeps the order ' +
            'from ever being counted.',
          params: ShopWebhookParams,
          response,
        },
      },
      async (request) =>
        webhooks.receive(
          'shopify',
          request.params.connectionId,
          {
            signature: header(request, 'x-shopify-hmac-sha256'),
            topic: header(request, 'x-shopify-topic'),
            deliveryId: header(request, 'x-shopify-webhook-id'),
            eventId: header(request, 'x-shopify-event-id'),
          },
          rawOf(request.body),
        ),
    );

    app.post(
      '/hooks/woocommerce/:connectionId',
      {
        config,
        schema: {
          tags,
          summary: 'WooCommerce webhooks',
          description:
            'Checks X-WC-Webhook-Signature (base64 HMAC-SHA256 of the raw body with the webhook secret): missing or wrong: 401, ' +
            'nothing stored. Topic from X-WC-Webhook-Topic; duplicates by X-WC-Webhook-Delivery-ID. The unsigned ping ' +
            'WooCommerce sends when a webhook is saved (webhook_id=N) is answered 200 ping. An order in processing, on-hold or ' +
            'completed is one conversion (revenue = its total net of its refunds); status cancelled, failed after it was ' +
            'counted, or order.deleted (body {"id": N}) deletes its conversion (Order Cancelled event), once, and the order ' +
            'is never counted again.',
          params: ShopWebhookParams,
          response,
        },
      },
      async (request) =>
        webhooks.receive(
          'woocommerce',
          request.params.connectionId,
          {
            signature: header(request, 'x-wc-webhook-signature'),
            topic: header(request, 'x-wc-webhook-topic'),
            deliveryId: header(request, 'x-wc-webhook-delivery-id'),
            eventId: undefined,
          },
          rawOf(request.body),
        ),
    );
  };
}
