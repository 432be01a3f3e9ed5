/**
 * The event types a webhook endpoint can subscribe to. Payloads follow the
 * Standard Webhooks convention `{ type, timestamp, data }`; `data.contact`
 * (id, external_id, email) is added for events about a contact.
 */
export const WEBHOOK_EVENT_TYPES = [
  'contact.created',
  'contact.updated',
  'contact.unsubscribed',
  'message.sent',
  'message.delivered',
  'message.opened',
  'message.clicked',
  'message.bounced',
  'message.complained',
  'conversion.created',
  'conversion.updated',
  'conversion.deleted',
  'automation.entered',
  'automation.completed',
  'segment.entered',
  'segment.exited',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The type of the test ping (POST /v1/webhooks/endpoints/{id}/ping); never recorded in the outbox. */
export const PING_EVENT_TYPE = 'webhook.ping';

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}
