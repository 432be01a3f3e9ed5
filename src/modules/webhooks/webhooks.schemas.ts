import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-event-types.js';

const EventType = Type.Union(
  WEBHOOK_EVENT_TYPES.map((type) => Type.Literal(type)),
  { description: 'A webhook event type.' },
);

const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description:
    'Where events are POSTed: https:// (http:// only with HERALD_WEBHOOKS_ALLOW_HTTP=true). Its host must resolve to public addresses only, unless HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true.',
});
const EventTypes = Type.Array(EventType, {
  maxItems: WEBHOOK_EVENT_TYPES.length,
  description: 'The event types sent to the endpoint; empty or absent: all of them.',
});
const Description = Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]);
const ShareDoNotSellHelp =
  'CCPA "do not sell or share": true when the endpoint is your own system or a service provider, which then also gets events about contacts flagged do_not_sell. False (the default): the endpoint is a third party and gets no event about a contact that was flagged do_not_sell when the event happened (nor in a replay).';

export const WebhookEndpointSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String(),
    description: Description,
    event_types: Type.Array(Type.String(), { description: 'Subscribed types; empty: all.' }),
    enabled: Type.Boolean(),
    disabled_reason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why Herald disabled the endpoint (it answered 410 Gone); null otherwise.',
    }),
    share_do_not_sell: Type.Boolean({ description: ShareDoNotSellHelp }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'WebhookEndpoint', additionalProperties: false },
);

export const WebhookEndpointWithSecret = Type.Object(
  {
    ...WebhookEndpointSchema.properties,
    secret: Type.String({
      description:
        'The Standard Webhooks signing secret (whsec_ + base64). Shown only now; store it to verify webhook-signature.',
    }),
  },
  { title: 'WebhookEndpointWithSecret', additionalProperties: false },
);

export const WebhookEndpointCreateBody = Type.Object(
  {
    url: Url,
    description: Type.Optional(Description),
    event_types: Type.Optional(EventTypes),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    share_do_not_sell: Type.Optional(Type.Boolean({ default: false, description: ShareDoNotSellHelp })),
  },
  { additionalProperties: false },
);

export const WebhookEndpointPatchBody = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Description),
    event_types: Type.Optional(EventTypes),
    enabled: Type.Optional(
      Type.Boolean({ description: 'Re-enabling resumes the pending deliveries; it clears disabled_reason.' }),
    ),
    share_do_not_sell: Type.Optional(
      Type.Boolean({
        description: `${ShareDoNotSellHelp} Setting it to false drops the pending deliveries of such events.`,
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const WebhookEndpointListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const WebhookDeliverySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    endpoint_id: Type.String({ format: 'uuid' }),
    event_id: Type.String({
      format: 'uuid',
      description: 'Also the webhook-id header: the same on every attempt.',
    }),
    event_type: Type.String(),
    event_created_at: Timestamp,
    contact_id: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    attempts: Type.Integer(),
    last_status_code: Type.Union([Type.Integer(), Type.Null()], {
      description: 'HTTP status of the last attempt; null when it got none (network error, timeout).',
    }),
    last_error: Type.Union([Type.String(), Type.Null()]),
    last_attempt_at: NullableTimestamp,
    next_attempt_at: Type.Union([Timestamp, Type.Null()], { description: 'When pending: the next attempt.' }),
    delivered_at: NullableTimestamp,
  },
  { title: 'WebhookDelivery', additionalProperties: false },
);

export const WebhookDeliveryListQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(
      Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    ),
  },
  { additionalProperties: false },
);

export const WebhookPingResult = Type.Object(
  {
    ok: Type.Boolean({ description: 'The endpoint answered 2xx.' }),
    status_code: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'WebhookPingResult', additionalProperties: false },
);

export const WebhookReplayBody = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: 'Events recorded at or after this time.' }),
    to: Type.String({
      format: 'date-time',
      description: 'Events recorded before this time (at most 90 days after from).',
    }),
  },
  { additionalProperties: false },
);

export const WebhookReplayResult = Type.Object(
  { enqueued: Type.Integer({ description: 'Deliveries made pending.' }) },
  { additionalProperties: false },
);
