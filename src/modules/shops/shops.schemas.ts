import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

export const ShopPlatformSchema = Type.Union([Type.Literal('shopify'), Type.Literal('woocommerce')], {
  description: 'shopify or woocommerce.',
});

const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Unique per workspace, regardless of case.',
});
const ShopUrl = Type.String({
  minLength: 1,
  maxLength: 500,
  description: 'The shop address, e.g. https://example.myshopify.com or https://shop.example.com.',
});
const Secret = Type.String({
  minLength: 8,
  maxLength: 500,
  description:
    "The webhook signing secret: Shopify: the app's client secret (or the key shown under Settings > Notifications > Webhooks for webhooks made in the store admin); WooCommerce: the webhook's Secret. Stored encrypted, never returned.",
});
const Currency = Type.String({
  minLength: 3,
  maxLength: 3,
  description: 'ISO 4217 code used when a payload names no currency (default USD).',
});
const ConsentList = Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
  description:
    'Customers whose shop marketing consent says subscribed join this list (under its opt-in rule; an earlier unsubscribe stands). null (default): the shop never subscribes anybody.',
});

export const ShopConnectionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    platform: ShopPlatformSchema,
    name: Type.String(),
    shop_url: Type.String(),
    default_currency: Type.String(),
    consent_list_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    webhook_url: Type.String({
      description:
        "Paste into the shop's webhook settings (HERALD_PUBLIC_URL must be reachable from the shop).",
    }),
    topics: Type.Array(Type.String(), { description: 'The webhook topics to subscribe this URL to.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'ShopConnection' },
);

export const ShopConnectionCreateBody = Type.Object(
  {
    platform: ShopPlatformSchema,
    name: Name,
    shop_url: ShopUrl,
    webhook_secret: Secret,
    default_currency: Type.Optional(Currency),
    consent_list_id: Type.Optional(ConsentList),
  },
  { additionalProperties: false },
);

export const ShopConnectionPatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    shop_url: Type.Optional(ShopUrl),
    webhook_secret: Type.Optional(Secret),
    default_currency: Type.Optional(Currency),
    consent_list_id: Type.Optional(ConsentList),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ShopListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const ShopDeliverySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    delivery_id: Type.String({
      description: "The shop's delivery id (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID).",
    }),
    event_id: Type.Union([Type.String(), Type.Null()], { description: 'X-Shopify-Event-Id, when sent.' }),
    topic: Type.String(),
    outcome: Type.Union([Type.Literal('applied'), Type.Literal('ignored')]),
    detail: Type.Union([Type.String(), Type.Null()], { description: 'What it did, or why it was ignored.' }),
    received_at: Timestamp,
  },
  { title: 'ShopDelivery' },
);

export const ShopWebhookParams = Type.Object(
  { connectionId: Type.String({ maxLength: 100, description: 'The shop connection id.' }) },
  { additionalProperties: false },
);

export const ShopWebhookResult = Type.Object(
  {
    outcome: Type.Union(
      [Type.Literal('applied'), Type.Literal('ignored'), Type.Literal('duplicate'), Type.Literal('ping')],
      {
        description:
          'applied; ignored (a topic or payload Herald does not act on: logged, not retried); duplicate (delivered before: nothing changed); ping (WooCommerce URL test).',
      },
    ),
    detail: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'ShopWebhookResult' },
);
