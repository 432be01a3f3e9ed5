import { createHmac } from 'node:crypto';
import { PermanentJobError, type TaskRegistry } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';

export const WEBHOOK_TASK = 'automations.webhook';

export interface WebhookJob {
  workspaceId: string;
  url: string;
  /** The JSON body, fixed when the step executed, so every attempt sends the same bytes. */
  body: string;
  /** automation:<run id>:<step>: the receiver's idempotency key. */
  deliveryId: string;
}

/**
 * The `automations.webhook` job: POSTs a webhook node's JSON, signed with the
 * workspace's webhook secret, and lets the job runner retry with its backoff
 * on network errors, timeouts, 408, 429 and 5xx. Any other 4xx will not pass
 * by retrying: the job fails at once.
 *
 * Signature: header `Herald-Signature: t=<unix seconds>,v1=<hex>` where hex
 * is HMAC-SHA256 of `<t>.<body>` under the secret (GET
 * /v1/automations/webhook-secret); `Herald-Delivery` carries the delivery id,
 * the same on every attempt.
 */
export function automationWebhookTasks(deps: {
  clock: Clock;
  secretFor: (workspaceId: string) => string;
  timeoutMs?: number;
}): TaskRegistry {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  return {
    [WEBHOOK_TASK]: async (payload) => {
      const job = payload as WebhookJob;
      if (typeof job?.url !== 'string' || typeof job.body !== 'string' || typeof job.workspaceId !== 'string')
        throw new PermanentJobError(`${WEBHOOK_TASK}: malformed payload`);
      const t = Math.floor(deps.clock.now().getTime() / 1000);
      const signature = createHmac('sha256', deps.secretFor(job.workspaceId))
        .update(`${t}.${job.body}`)
        .digest('hex');
      const response = await fetch(job.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Herald-Automations/1',
          'herald-signature': `t=${t},v1=${signature}`,
          'herald-delivery': job.deliveryId,
        },
        body: job.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      if (response.ok) return;
      const retry = response.status >= 500 || response.status === 408 || response.status === 429;
      const message = `webhook answered HTTP ${response.status}`;
      if (!retry) throw new PermanentJobError(message);
      throw new Error(message);
    },
  };
}
