import type { TaskRegistry } from '../../jobs/index.js';
import type { WebhookService } from './webhooks.service.js';

export const WEBHOOKS_PURGE_TASK = 'webhooks.purge';

/** `webhooks.purge` {}: deletes webhook events past HERALD_WEBHOOKS_RETENTION_DAYS (hourly). */
export function webhookTasks(deps: { webhooks: Pick<WebhookService, 'purge'> }): TaskRegistry {
  return {
    [WEBHOOKS_PURGE_TASK]: async () => {
      await deps.webhooks.purge();
    },
  };
}
