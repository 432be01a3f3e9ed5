import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { uuidv7 } from '../../lib/ids.js';
import type { WebhookEventType } from './webhook-event-types.js';
import { insertOutboxEvents, subscribedTypes } from './webhooks.repository.js';

export interface WebhookEventInput {
  type: WebhookEventType;
  /** The contact the event is about: its id, external_id and email are added as `data.contact`. */
  contactId?: string | null | undefined;
  /** The rest of the payload's `data` (campaign, message, automation ids...). */
  data?: Record<string, unknown> | undefined;
}

/**
 * Records a webhook event in the outbox. Call it with the transaction that
 * makes the change, so the event commits (or rolls back) with it; one
 * statement, which stores nothing when no enabled endpoint of the workspace
 * subscribes to the type.
 */
export async function recordWebhookEvent(
  trx: Db,
  input: WebhookEventInput & { workspaceId: string; at: Date },
): Promise<void> {
  await recordWebhookEvents(trx, input.workspaceId, input.at, [input]);
}

/** Several events of one workspace in one statement (a batch of sends, of tracking hits). */
export async function recordWebhookEvents(
  trx: Db,
  workspaceId: string,
  at: Date,
  events: readonly WebhookEventInput[],
): Promise<void> {
  if (events.length === 0) return;
  await insertOutboxEvents(
    trx,
    workspaceId,
    at,
    events.map((event) => ({
      id: uuidv7(at.getTime()),
      type: event.type,
      contactId: event.contactId ?? null,
      data: event.data ?? {},
    })),
  );
}

export interface WebhookSubscriptions {
  /**
   * Whether an enabled endpoint of the workspace may want this type, from a
   * per-workspace cache of a few seconds. Hot paths (tracking hits, campaign
   * sends) ask first and skip the outbox statement when nobody listens; an
   * endpoint created or changed in another process is seen after the TTL.
   */
  wants(workspaceId: string, type: WebhookEventType): Promise<boolean>;
  /** Forgets the workspace's cached set (this process changed its endpoints). */
  invalidate(workspaceId: string): void;
}

export function createWebhookSubscriptions(deps: {
  db: Db;
  clock: Clock;
  ttlMs: number;
}): WebhookSubscriptions {
  const cache = new Map<string, { types: 'all' | Set<string>; until: number }>();
  return {
    async wants(workspaceId, type) {
      const now = deps.clock.now().getTime();
      let entry = cache.get(workspaceId);
      if (!entry || entry.until <= now) {
        entry = { types: await subscribedTypes(deps.db, workspaceId), until: now + deps.ttlMs };
        // Bounded: a process serving many workspaces keeps the recently used ones.
        if (cache.size >= 10_000) cache.clear();
        cache.set(workspaceId, entry);
      }
      return entry.types === 'all' || entry.types.has(type);
    },
    invalidate(workspaceId) {
      cache.delete(workspaceId);
    },
  };
}
