import { sql } from 'kysely';
import type { Db, NewRow, Row } from '../../db/index.js';

export type WebhookEndpointRow = Row<'webhook_endpoints'>;
export type WebhookDeliveryRow = Row<'webhook_deliveries'>;

/** One event for the outbox; `id` is a UUIDv7 taken at the change, so events sort by it. */
export interface OutboxEvent {
  id: string;
  type: string;
  contactId: string | null;
  data: Record<string, unknown>;
}

/**
 * The outbox write, in ONE statement inside the caller's transaction: stores
 * the events some enabled endpoint of the workspace subscribes to (with the
 * contact's id, external_id and email looked up in the same statement) and a
 * pending delivery per matching endpoint. Events nobody subscribes to are not
 * stored. Reads `contacts` (a read-only exception to the module rule: the
 * payload must carry the contact as it was when the change committed).
 *
 * CCPA "do not sell or share": an event about a contact flagged do_not_sell
 * gets deliveries only to endpoints with share_do_not_sell (the business's own
 * systems and service providers); when no such endpoint subscribes, the event
 * is not stored at all. Filtering here, at the write, rather than at delivery:
 * the rule is about the contact as it was when the event happened (the same
 * statement already reads the contact for the payload, in the change's
 * transaction), no delivery row ever exists for a third party that must not
 * get the event (so a retry, a manual retry or a re-enabled endpoint cannot
 * send it), the dispatcher's hot claim query stays as it is, and an event
 * about a contact erased since is still decided correctly.
 */
export async function insertOutboxEvents(
  db: Db,
  workspaceId: string,
  at: Date,
  events: readonly OutboxEvent[],
): Promise<number> {
  if (events.length === 0) return 0;
  // Most workspaces have no endpoint: a trivial lookup first spares them the outbox statement,
  // which costs far more to plan (it runs inside contact, enrolment and send transactions).
  const listening = await db
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('enabled', '=', true)
    .limit(1)
    .executeTakeFirst();
  if (!listening) return 0;
  const input = JSON.stringify(
    events.map((event) => ({
      id: event.id,
      type: event.type,
      contact_id: event.contactId,
      data: event.data,
    })),
  );
  const result = await sql`
    WITH input AS (
      SELECT (e->>'id')::uuid AS id, e->>'type' AS type, (e->>'contact_id')::uuid AS contact_id,
             e->'data' AS data
        FROM jsonb_array_elements(${input}::jsonb) AS e
    ), flagged AS (
      SELECT i.*, COALESCE((SELECT c.do_not_sell FROM contacts c
                             WHERE c.workspace_id = ${workspaceId} AND c.id = i.contact_id), false) AS do_not_sell
        FROM input i
    ), wanted AS (
      SELECT f.* FROM flagged f
       WHERE EXISTS (
         SELECT 1 FROM webhook_endpoints w
          WHERE w.workspace_id = ${workspaceId} AND w.enabled
            AND (cardinality(w.event_types) = 0 OR f.type = ANY (w.event_types))
            AND (w.share_do_not_sell OR NOT f.do_not_sell))
    ), inserted AS (
      INSERT INTO webhook_events (id, workspace_id, type, contact_id, contact_do_not_sell, payload, created_at)
      SELECT w.id, ${workspaceId}, w.type, w.contact_id, w.do_not_sell,
             jsonb_build_object(
               'type', w.type,
               'timestamp', ${at.toISOString()}::text,
               'data', CASE WHEN w.contact_id IS NULL THEN w.data ELSE jsonb_build_object('contact',
                 (SELECT jsonb_build_object('id', c.id, 'external_id', c.external_id, 'email', c.email)
                    FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.id = w.contact_id)) || w.data END
             )::text,
             ${at}
        FROM wanted w
      RETURNING id, type, contact_id, contact_do_not_sell
    )
    INSERT INTO webhook_deliveries
      (id, workspace_id, endpoint_id, event_id, contact_id, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT gen_random_uuid(), ${workspaceId}, e.id, i.id, i.contact_id, 'pending', 0, ${at}, ${at}, ${at}
      FROM inserted i
      JOIN webhook_endpoints e
        ON e.workspace_id = ${workspaceId} AND e.enabled
       AND (cardinality(e.event_types) = 0 OR i.type = ANY (e.event_types))
       AND (e.share_do_not_sell OR NOT i.contact_do_not_sell)
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** The event types the workspace's enabled endpoints subscribe to; `all` when one takes every type. */
export async function subscribedTypes(db: Db, workspaceId: string): Promise<'all' | Set<string>> {
  const rows = await db
    .selectFrom('webhook_endpoints')
    .select('event_types')
    .where('workspace_id', '=', workspaceId)
    .where('enabled', '=', true)
    .execute();
  const types = new Set<string>();
  for (const row of rows) {
    if (row.event_types.length === 0) return 'all';
    for (const type of row.event_types) types.add(type);
  }
  return types;
}

export async function insertEndpoint(db: Db, row: NewRow<'webhook_endpoints'>): Promise<WebhookEndpointRow> {
  return db.insertInto('webhook_endpoints').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findEndpoint(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function listEndpoints(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<WebhookEndpointRow[]> {
  let query = db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function updateEndpoint(
  db: Db,
  workspaceId: string,
  id: string,
  changes: Partial<
    Pick<
      WebhookEndpointRow,
      | 'url'
      | 'description'
      | 'event_types'
      | 'enabled'
      | 'disabled_reason'
      | 'secret_encrypted'
      | 'share_do_not_sell'
      | 'updated_at'
    >
  >,
): Promise<WebhookEndpointRow | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteEndpoint(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('webhook_endpoints')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export interface DeliveryView extends WebhookDeliveryRow {
  event_type: string;
  event_created_at: Date;
}

/** An endpoint's deliveries, newest event first, after the cursor's event id. */
export async function listDeliveries(
  db: Db,
  workspaceId: string,
  endpointId: string,
  page: { before: string | undefined; limit: number; status: string | undefined },
): Promise<DeliveryView[]> {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['e.type as event_type', 'e.created_at as event_created_at'])
    .where('d.workspace_id', '=', workspaceId)
    .where('d.endpoint_id', '=', endpointId);
  if (page.before) query = query.where('d.event_id', '<', page.before);
  if (page.status) query = query.where('d.status', '=', page.status as WebhookDeliveryRow['status']);
  return query
    .orderBy('d.event_id', 'desc')
    .limit(page.limit + 1)
    .execute();
}

export async function findDelivery(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<DeliveryView | undefined> {
  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['e.type as event_type', 'e.created_at as event_created_at'])
    .where('d.workspace_id', '=', workspaceId)
    .where('d.id', '=', id)
    .executeTakeFirst();
}

/** Makes a delivery pending again with a fresh retry schedule. */
export async function resetDelivery(
  db: Db,
  workspaceId: string,
  id: string,
  now: Date,
): Promise<DeliveryView | undefined> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      locked_until: null,
      delivered_at: null,
      updated_at: now,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
  return findDelivery(db, workspaceId, id);
}

/**
 * Re-enqueues to an endpoint the stored events of its workspace in [from, to)
 * that it subscribes to: existing deliveries become pending again with a
 * fresh schedule, events recorded for other endpoints get a new delivery.
 * An endpoint without share_do_not_sell gets no event about a do-not-sell contact.
 */
export async function replayEvents(
  db: Db,
  endpoint: WebhookEndpointRow,
  range: { from: Date; to: Date },
  now: Date,
): Promise<number> {
  const result = await sql`
    INSERT INTO webhook_deliveries
      (id, workspace_id, endpoint_id, event_id, contact_id, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT gen_random_uuid(), ev.workspace_id, ${endpoint.id}, ev.id, ev.contact_id, 'pending', 0, ${now}, ${now}, ${now}
      FROM webhook_events ev
     WHERE ev.workspace_id = ${endpoint.workspace_id}
       AND ev.created_at >= ${range.from} AND ev.created_at < ${range.to}
       AND (cardinality(${endpoint.event_types}::text[]) = 0 OR ev.type = ANY (${endpoint.event_types}::text[]))
       -- A third party gets no event about a contact flagged do_not_sell then or since.
       AND (${endpoint.share_do_not_sell}::boolean OR NOT ev.contact_do_not_sell)
       AND (${endpoint.share_do_not_sell}::boolean OR ev.contact_id IS NULL OR NOT EXISTS (
         SELECT 1 FROM contacts c WHERE c.workspace_id = ev.workspace_id AND c.id = ev.contact_id AND c.do_not_sell))
    ON CONFLICT (endpoint_id, event_id) DO UPDATE
       SET status = 'pending', attempts = 0, next_attempt_at = ${now}, locked_until = NULL,
           delivered_at = NULL, updated_at = ${now}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface ClaimedDelivery {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number;
  url: string;
  secret_encrypted: string;
  payload: string;
}

/**
 * Claims due deliveries (SKIP LOCKED, so workers share them) and leases them
 * until `leaseUntil`: a worker that dies mid-request leaves the lease to
 * expire and the delivery is attempted again. A contact's delivery waits
 * while an earlier event of the same contact to the same endpoint is still
 * pending, so one contact's events reach an endpoint in order.
 */
export async function claimDueDeliveries(
  db: Db,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<ClaimedDelivery[]> {
  const result = await sql<ClaimedDelivery>`
    WITH due AS (
      SELECT d.id FROM webhook_deliveries d
        JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
       WHERE d.status = 'pending' AND d.next_attempt_at <= ${now}
         AND (d.locked_until IS NULL OR d.locked_until <= ${now})
         AND (d.contact_id IS NULL OR NOT EXISTS (
           SELECT 1 FROM webhook_deliveries p
            WHERE p.endpoint_id = d.endpoint_id AND p.contact_id = d.contact_id
              AND p.status = 'pending' AND p.event_id < d.event_id))
       ORDER BY d.next_attempt_at, d.event_id
       LIMIT ${limit}
       FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
      UPDATE webhook_deliveries d
         SET locked_until = ${leaseUntil}, attempts = d.attempts + 1, last_attempt_at = ${now}, updated_at = ${now}
        FROM due WHERE d.id = due.id
      RETURNING d.id, d.workspace_id, d.endpoint_id, d.event_id, d.attempts
    )
    SELECT c.id, c.workspace_id, c.endpoint_id, c.event_id, c.attempts, e.url, e.secret_encrypted, ev.payload
      FROM claimed c
      JOIN webhook_endpoints e ON e.id = c.endpoint_id
      JOIN webhook_events ev ON ev.id = c.event_id
     ORDER BY ev.id
  `.execute(db);
  return result.rows;
}

export interface AttemptOutcome {
  status: 'pending' | 'delivered' | 'failed';
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: Date | null;
}

/** Records an attempt's outcome; only while this attempt still holds the lease (attempts unchanged). */
export async function recordAttempt(
  db: Db,
  delivery: { id: string; attempts: number },
  outcome: AttemptOutcome,
  now: Date,
): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: outcome.status,
      last_status_code: outcome.statusCode,
      last_error: outcome.error,
      next_attempt_at: outcome.nextAttemptAt,
      locked_until: null,
      delivered_at: outcome.status === 'delivered' ? now : null,
      updated_at: now,
    })
    .where('id', '=', delivery.id)
    .where('attempts', '=', delivery.attempts)
    .where('status', '=', 'pending')
    .execute();
}

export async function disableEndpointByHerald(db: Db, endpointId: string, reason: string, now: Date) {
  await db
    .updateTable('webhook_endpoints')
    .set({ enabled: false, disabled_reason: reason, updated_at: now })
    .where('id', '=', endpointId)
    .execute();
}

/**
 * An endpoint no longer takes do-not-sell contacts' events: its deliveries of
 * such events not made yet are dropped (delivered and failed ones stay, as history).
 */
export async function dropPendingDoNotSell(db: Db, workspaceId: string, endpointId: string): Promise<number> {
  const result = await sql`
    DELETE FROM webhook_deliveries d
     USING webhook_events ev
     WHERE d.workspace_id = ${workspaceId} AND d.endpoint_id = ${endpointId} AND d.status = 'pending'
       AND ev.id = d.event_id AND ev.contact_do_not_sell
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Deletes events older than `before` none of whose deliveries is still pending. */
export async function purgeEvents(db: Db, before: Date): Promise<number> {
  const result = await sql`
    DELETE FROM webhook_events ev
     WHERE ev.created_at < ${before}
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.status = 'pending')
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
