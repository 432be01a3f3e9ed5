export { isForbiddenAddress } from './address-guard.js';
export { signWebhook } from './signature.js';
export { createWebhookDispatcher, type WebhookDispatcher } from './webhook-dispatcher.js';
export { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook-event-types.js';
export {
  createWebhookSubscriptions,
  recordWebhookEvent,
  recordWebhookEvents,
  type WebhookEventInput,
  type WebhookSubscriptions,
} from './webhook-outbox.js';
export { WEBHOOKS_PURGE_TASK, webhookTasks } from './webhooks.jobs.js';
export { webhooksRoutes } from './webhooks.routes.js';
export { createWebhookService, type WebhookService } from './webhooks.service.js';
