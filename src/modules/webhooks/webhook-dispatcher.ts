import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import type { Resolve } from './address-guard.js';
import { MAX_ATTEMPTS, retryDelayMs } from './retry-schedule.js';
import { signWebhook } from './signature.js';
import { postWebhook } from './webhook-post.js';
import { openWebhookSecret, type SecretCipher } from './webhook-secrets.js';
import * as repo from './webhooks.repository.js';

export const WEBHOOK_USER_AGENT = 'Herald-Webhooks/1';

export interface WebhookDispatcherDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Decrypts endpoint secrets with the workspace data key. */
  cipher: SecretCipher;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Deliveries claimed (and then POSTed concurrently) per round. */
  batchSize: number;
  resolve?: Resolve;
}

export interface WebhookDispatcher {
  /** Claims one batch of due deliveries and attempts them; resolves with how many were attempted. */
  runOnce(): Promise<number>;
  /** Rounds until nothing is due (tests). */
  drain(): Promise<number>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/**
 * The webhook worker loop. Claims due deliveries under a lease (the request
 * timeout plus a margin), POSTs them signed, and records the outcome: 2xx is
 * delivered; 410 Gone fails the delivery and disables the endpoint (the
 * receiver says it is gone for good); anything else (other status, network
 * error, timeout, refused address) is retried after 5 s, 5 min, 30 min, 2 h,
 * 5 h and 10 h (+-20%), then failed. A worker killed mid-request leaves the
 * lease to expire and the delivery is attempted again: at least once.
 */
export function createWebhookDispatcher(deps: WebhookDispatcherDeps): WebhookDispatcher {
  const { db, clock, logger } = deps;
  const leaseMs = deps.timeoutMs + 5_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  async function attempt(delivery: repo.ClaimedDelivery): Promise<void> {
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    let outcome: repo.AttemptOutcome;
    try {
      const secret = await openWebhookSecret(
        deps.cipher,
        delivery.workspace_id,
        delivery.endpoint_id,
        delivery.secret_encrypted,
      );
      const { statusCode } = await postWebhook({
        url: delivery.url,
        body: delivery.payload,
        headers: {
          'content-type': 'application/json',
          'user-agent': WEBHOOK_USER_AGENT,
          'webhook-id': delivery.event_id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(secret, delivery.event_id, timestamp, delivery.payload),
        },
        timeoutMs: deps.timeoutMs,
        allowPrivate: deps.allowPrivate,
        resolve: deps.resolve,
      });
      if (statusCode >= 200 && statusCode < 300) {
        outcome = { status: 'delivered', statusCode, error: null, nextAttemptAt: null };
      } else if (statusCode === 410) {
        outcome = {
          status: 'failed',
          statusCode,
          error: 'endpoint answered 410 Gone: endpoint disabled',
          nextAttemptAt: null,
        };
        await repo.disableEndpointByHerald(
          db,
          delivery.endpoint_id,
          'the endpoint answered 410 Gone',
          clock.now(),
        );
      } else {
        outcome = retryOrFail(delivery.attempts, statusCode, `endpoint answered HTTP ${statusCode}`);
      }
    } catch (error) {
      outcome = retryOrFail(delivery.attempts, null, (error as Error).message.slice(0, 500));
    }
    await repo.recordAttempt(db, delivery, outcome, clock.now());
    if (outcome.status === 'failed') {
      logger.warn(
        {
          delivery_id: delivery.id,
          endpoint_id: delivery.endpoint_id,
          attempts: delivery.attempts,
          error: outcome.error,
        },
        'webhook delivery failed',
      );
    }
  }

  function retryOrFail(attempts: number, statusCode: number | null, error: string): repo.AttemptOutcome {
    const delay = attempts < MAX_ATTEMPTS ? retryDelayMs(attempts) : undefined;
    if (delay === undefined) return { status: 'failed', statusCode, error, nextAttemptAt: null };
    return { status: 'pending', statusCode, error, nextAttemptAt: new Date(clock.now().getTime() + delay) };
  }

  async function runOnce(): Promise<number> {
    const now = clock.now();
    const claimed = await repo.claimDueDeliveries(db, now, new Date(now.getTime() + leaseMs), deps.batchSize);
    await Promise.all(claimed.map((delivery) => attempt(delivery)));
    return claimed.length;
  }

  async function loop(intervalMs: number): Promise<void> {
    if (stopped) return;
    try {
      while (!stopped && (await runOnce()) > 0) {
        // keep going while there is work
      }
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'webhook dispatch round failed');
    }
    if (!stopped) timer = setTimeout(() => (running = loop(intervalMs)), intervalMs);
  }

  return {
    runOnce,
    async drain() {
      let total = 0;
      for (let n = await runOnce(); n > 0; n = await runOnce()) total += n;
      return total;
    },
    start(intervalMs) {
      if (!stopped) return;
      stopped = false;
      running = loop(intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
