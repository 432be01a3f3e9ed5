import { sql } from 'kysely';
import type { Db, Row } from '../../db/index.js';

/**
 * SQL of the privacy module: the erased-address entries on the suppression
 * list, erasure receipts, and the data-subject access export, which reads
 * other modules' tables read-only (everything Herald holds about one person).
 */

export type ErasureRow = Row<'privacy_erasures'>;

export interface PersonRow {
  id: string;
  email: string;
  email_key: string;
  external_id: string | null;
}

export async function findPerson(
  db: Db,
  workspaceId: string,
  ref: { id: string } | { emailKey: string },
  lock = false,
): Promise<PersonRow | undefined> {
  let query = db
    .selectFrom('contacts')
    .select(['id', 'email', 'email_key', 'external_id'])
    .where('workspace_id', '=', workspaceId);
  query = 'id' in ref ? query.where('id', '=', ref.id) : query.where('email_key', '=', ref.emailKey);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Which of these erased-entry keys ('erased:<hex>') are on the workspace's suppression list. */
export async function erasedKeysPresent(db: Db, workspaceId: string, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .selectFrom('suppressions')
    .select('email_key')
    .where('workspace_id', '=', workspaceId)
    .where('reason', '=', 'erased')
    .where('email_key', 'in', keys)
    .execute();
  return new Set(rows.map((r) => r.email_key));
}

export async function insertErasedEntry(
  db: Db,
  workspaceId: string,
  key: string,
  createdBy: string | null,
  now: Date,
): Promise<void> {
  await db
    .insertInto('suppressions')
    .values({
      workspace_id: workspaceId,
      email_key: key,
      email: key,
      reason: 'erased',
      source: 'erasure',
      bounce_event_id: null,
      note: null,
      created_by: createdBy,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['workspace_id', 'email_key']).doNothing())
    .execute();
}

export async function insertReceipt(db: Db, row: ErasureRow): Promise<void> {
  await db
    .insertInto('privacy_erasures')
    .values({ ...row, counts: JSON.stringify(row.counts) })
    .execute();
}

// --- the access export: one person's rows, kind by kind ---------------------------------------

type Json = Record<string, unknown>;

async function rows(db: Db, query: ReturnType<typeof sql<Json>>): Promise<Json[]> {
  return (await query.execute(db)).rows;
}

export async function exportProfile(
  db: Db,
  workspaceId: string,
  contactId: string,
): Promise<Json | undefined> {
  const [row] = await rows(
    db,
    sql<Json>`SELECT id, email, external_id, status, attributes, tags, timezone, locale, tracking_consent,
                     created_at, updated_at
              FROM contacts WHERE workspace_id = ${workspaceId} AND id = ${contactId}`,
  );
  return row;
}

/**
 * Every kind of data held about the contact, as rows of plain JSON values.
 * Internal columns (leases, hashes, workspace ids) are left out.
 */
export async function exportRecords(
  db: Db,
  workspaceId: string,
  contact: PersonRow,
): Promise<Record<string, Json[]>> {
  const ws = workspaceId;
  const id = contact.id;
  return {
    list_memberships: await rows(
      db,
      sql<Json>`SELECT m.list_id, l.name AS list_name, m.status, m.created_at, m.confirmed_at, m.unsubscribed_at
                FROM list_memberships m JOIN lists l ON l.id = m.list_id
                WHERE m.workspace_id = ${ws} AND m.contact_id = ${id} ORDER BY m.created_at`,
    ),
    consent_records: await rows(
      db,
      sql<Json>`SELECT id, list_id, purpose, action, source, source_id, ip, user_agent, detail, created_at
                FROM consent_records WHERE workspace_id = ${ws} AND contact_id = ${id} ORDER BY id`,
    ),
    campaign_sends: await rows(
      db,
      sql<Json>`SELECT s.campaign_id, c.name AS campaign_name, s.status, s.variant, s.error, s.created_at,
                       s.finished_at
                FROM campaign_sends s JOIN campaigns c ON c.id = s.campaign_id
                WHERE s.workspace_id = ${ws} AND s.contact_id = ${id} ORDER BY s.created_at`,
    ),
    messages: await rows(
      db,
      sql<Json>`SELECT id, to_email, status, payload, error, created_at, sent_at
                FROM messages WHERE workspace_id = ${ws} AND contact_id = ${id} ORDER BY id`,
    ),
    automation_runs: await rows(
      db,
      sql<Json>`SELECT r.id, r.automation_id, a.name AS automation_name, r.version, r.status, r.node,
                       r.exit_reason, r.data, r.entered_at, r.finished_at
                FROM automation_runs r JOIN automations a ON a.id = r.automation_id
                WHERE r.workspace_id = ${ws} AND r.contact_id = ${id} ORDER BY r.id`,
    ),
    events: await rows(
      db,
      sql<Json>`SELECT id, type, name, user_id, anonymous_id, properties, context, occurred_at, received_at
                FROM events WHERE workspace_id = ${ws} AND contact_id = ${id} ORDER BY occurred_at, id`,
    ),
    anonymous_ids: await rows(
      db,
      sql<Json>`SELECT anonymous_id, created_at FROM anonymous_ids
                WHERE workspace_id = ${ws} AND contact_id = ${id} ORDER BY created_at`,
    ),
    tracking_hits: await rows(
      db,
      sql<Json>`SELECT id, kind, campaign_id, message_id, link_id, occurred_at, ip, user_agent, classification
                FROM tracking_hits WHERE workspace_id = ${ws} AND contact_id = ${id} ORDER BY id`,
    ),
    conversions: await rows(
      db,
      sql<Json>`SELECT id, campaign_id, event, revenue, currency, attribution, occurred_at
                FROM conversions WHERE workspace_id = ${ws} AND contact_id = ${id} ORDER BY id`,
    ),
    bounce_events: await rows(
      db,
      sql<Json>`SELECT id, type, severity, reason, status_code, diagnostic, recipient, campaign_id, source,
                       occurred_at, received_at
                FROM bounce_events
                WHERE workspace_id = ${ws} AND (contact_id = ${id} OR recipient_key = ${contact.email_key})
                ORDER BY id`,
    ),
    suppressions: await rows(
      db,
      sql<Json>`SELECT email, reason, source, note, created_at FROM suppressions
                WHERE workspace_id = ${ws} AND email_key = ${contact.email_key}`,
    ),
    segment_memberships: await rows(
      db,
      sql<Json>`SELECT m.segment_id, s.name AS segment_name, m.entered_at
                FROM segment_members m JOIN segments s ON s.id = m.segment_id
                WHERE m.workspace_id = ${ws} AND m.contact_id = ${id} ORDER BY m.entered_at`,
    ),
    engagement: await rows(
      db,
      sql<Json>`SELECT score, p_open, p_click, best_hour, last_open_at, last_click_at, last_engaged_at,
                       last_conversion_at, opens_30d, opens_90d, clicks_30d, clicks_90d, received_30d,
                       received_90d, conversions_365d, computed_at
                FROM contact_engagement WHERE workspace_id = ${ws} AND contact_id = ${id}`,
    ),
  };
}

/** Every erased entry of the workspace (for an import's per-row check). */
export async function erasedKeysOf(db: Db, workspaceId: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('suppressions')
    .select('email_key')
    .where('workspace_id', '=', workspaceId)
    .where('reason', '=', 'erased')
    .execute();
  return new Set(rows.map((r) => r.email_key));
}
