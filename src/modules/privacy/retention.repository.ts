import { sql } from 'kysely';
import type { Db, Row } from '../../db/index.js';

/**
 * SQL of the retention policy: per-workspace settings and one batch of
 * deletion per kind of data. Like erasure, it writes other modules' tables
 * directly, set-based; each batch is its own statement, so a large backlog
 * never holds one long transaction (or PGlite's one session) for long.
 */

export type RetentionRow = Row<'privacy_retention'>;

export const RETENTION_KINDS = [
  'events',
  'tracking_hits',
  'send_ledger',
  'message_bodies',
  'bounce_details',
  'consent_records',
  'unsubscribed_contacts',
] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];
export type RetentionDays = Record<`${RetentionKind}_days`, number | null>;

export async function findRetention(db: Db, workspaceId: string): Promise<RetentionRow | undefined> {
  return db
    .selectFrom('privacy_retention')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

export async function saveRetention(
  db: Db,
  workspaceId: string,
  days: RetentionDays,
  now: Date,
): Promise<RetentionRow> {
  return db
    .insertInto('privacy_retention')
    .values({ workspace_id: workspaceId, ...days, updated_at: now })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ ...days, updated_at: now }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Workspaces with at least one retention period set. */
export async function workspacesWithRetention(db: Db): Promise<RetentionRow[]> {
  return db
    .selectFrom('privacy_retention')
    .selectAll()
    .where((eb) => eb.or(RETENTION_KINDS.map((kind) => eb(`${kind}_days`, 'is not', null))))
    .orderBy('workspace_id')
    .execute();
}

export async function recordRun(db: Db, workspaceId: string, now: Date, deleted: Record<string, number>) {
  await db
    .updateTable('privacy_retention')
    .set({ last_run_at: now, last_run_deleted: JSON.stringify(deleted) })
    .where('workspace_id', '=', workspaceId)
    .execute();
}

async function count(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  return Number((await query.execute(db)).numAffectedRows ?? 0n);
}

/** One batch of the kind's data older than `cutoff` (except unsubscribed contacts); the rows it deleted or cleared. */
export async function purgeBatch(
  db: Db,
  kind: Exclude<RetentionKind, 'unsubscribed_contacts'>,
  workspaceId: string,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const ws = workspaceId;
  switch (kind) {
    case 'events':
      return count(
        db,
        sql`DELETE FROM events WHERE workspace_id = ${ws} AND (occurred_at, id) IN (
              SELECT occurred_at, id FROM events WHERE workspace_id = ${ws} AND occurred_at < ${cutoff} LIMIT ${limit})`,
      );
    case 'tracking_hits':
      return count(
        db,
        sql`DELETE FROM tracking_hits WHERE id IN (
              SELECT id FROM tracking_hits WHERE workspace_id = ${ws} AND occurred_at < ${cutoff} LIMIT ${limit})`,
      );
    case 'send_ledger':
      // Only finished campaigns: a sending campaign's ledger is what keeps a recipient from being sent twice.
      return count(
        db,
        sql`DELETE FROM campaign_sends WHERE (campaign_id, contact_id) IN (
              SELECT s.campaign_id, s.contact_id FROM campaign_sends s JOIN campaigns c ON c.id = s.campaign_id
              WHERE s.workspace_id = ${ws} AND c.status IN ('sent', 'cancelled')
                AND s.finished_at < ${cutoff} LIMIT ${limit})`,
      );
    case 'message_bodies':
      return count(
        db,
        sql`UPDATE messages SET payload = '{}'::jsonb WHERE id IN (
              SELECT id FROM messages WHERE workspace_id = ${ws} AND status IN ('sent', 'failed')
                AND created_at < ${cutoff} AND payload <> '{}'::jsonb LIMIT ${limit})`,
      );
    case 'bounce_details':
      return count(
        db,
        sql`UPDATE bounce_events SET diagnostic = NULL, evidence = NULL WHERE id IN (
              SELECT id FROM bounce_events WHERE workspace_id = ${ws} AND received_at < ${cutoff}
                AND (diagnostic IS NOT NULL OR evidence IS NOT NULL) LIMIT ${limit})`,
      );
    case 'consent_records':
      return count(
        db,
        sql`DELETE FROM consent_records WHERE id IN (
              SELECT id FROM consent_records WHERE workspace_id = ${ws} AND created_at < ${cutoff} LIMIT ${limit})`,
      );
  }
}

/** Contacts unsubscribed and unchanged since before `cutoff`, one batch. */
export async function staleUnsubscribed(db: Db, workspaceId: string, cutoff: Date, limit: number) {
  return db
    .selectFrom('contacts')
    .select(['id', 'email_key', 'external_id'])
    .where('workspace_id', '=', workspaceId)
    .where('status', '=', 'unsubscribed')
    .where('updated_at', '<', cutoff)
    .orderBy('id')
    .limit(limit)
    .execute();
}
