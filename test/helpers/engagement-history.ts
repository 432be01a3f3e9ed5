import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../src/db/index.js';
import { uuidv7 } from '../../src/lib/ids.js';

/**
 * Engagement history written set-based (one statement per table), so tests
 * can give thousands of contacts months of sends, opens and clicks in
 * milliseconds instead of sending the emails.
 */

export async function insertContacts(
  db: Db,
  workspaceId: string,
  contacts: { email: string; createdAt: Date; timezone?: string | null; id?: string }[],
): Promise<string[]> {
  if (contacts.length === 0) return [];
  const ids = contacts.map((c) => c.id ?? uuidv7(c.createdAt.getTime()));
  await sql`
    INSERT INTO contacts (id, workspace_id, email, timezone, created_at, updated_at)
    SELECT r.id, ${workspaceId}, r.email, r.timezone, r.created_at, r.created_at
    FROM unnest(${ids}::uuid[], ${contacts.map((c) => c.email)}::text[],
                ${contacts.map((c) => c.timezone ?? null)}::text[],
                ${contacts.map((c) => c.createdAt)}::timestamptz[]) AS r(id, email, timezone, created_at)`.execute(
    db,
  );
  return ids;
}

/** A campaign that has been sent (only what the ledger and hits refer to). */
export async function insertSentCampaign(
  db: Db,
  workspaceId: string,
  name: string,
  at: Date,
): Promise<string> {
  const id = uuidv7(at.getTime());
  await sql`INSERT INTO campaigns (id, workspace_id, name, status, started_at, finished_at, created_at, updated_at)
    VALUES (${id}, ${workspaceId}, ${name}, 'sent', ${at}, ${at}, ${at}, ${at})`.execute(db);
  return id;
}

export interface SendRow {
  campaignId: string;
  contactId: string;
  finishedAt: Date;
}

/** Sent ledger rows; returns each row's message id (the uuid part of its Message-ID). */
export async function insertSends(db: Db, workspaceId: string, rows: readonly SendRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const messageIds = rows.map((r) => uuidv7(r.finishedAt.getTime()));
  await sql`
    INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, attempts, created_at, finished_at)
    SELECT r.campaign_id, r.contact_id, ${workspaceId}, r.message_id || '@test.example', 'sent', 1, r.finished_at, r.finished_at
    FROM unnest(${rows.map((r) => r.campaignId)}::uuid[], ${rows.map((r) => r.contactId)}::uuid[],
                ${messageIds}::text[], ${rows.map((r) => r.finishedAt)}::timestamptz[])
      AS r(campaign_id, contact_id, message_id, finished_at)`.execute(db);
  return messageIds;
}

export interface HitRow {
  campaignId: string | null;
  contactId: string;
  /** Defaults to one id per (campaign, contact), as every hit on one campaign email carries. */
  messageId?: string;
  kind: 'open' | 'click';
  at: Date;
  classification?: 'human' | 'proxy' | 'prefetch' | 'scanner' | 'bot';
}

/** A uuid that is always the same for the same text: stable ids, so seeded tests replay exactly. */
export function stableId(text: string): string {
  const hex = createHash('md5').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The id every hit on one campaign email carries (its tracking token names it). */
function emailId(campaignId: string | null, contactId: string): string {
  return stableId(`${campaignId}:${contactId}`);
}

export async function insertHits(db: Db, workspaceId: string, rows: readonly HitRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
    SELECT r.id, ${workspaceId}, r.campaign_id, r.contact_id, r.message_id, r.kind, r.occurred_at, r.classification
    FROM unnest(${rows.map((r) => uuidv7(r.at.getTime()))}::uuid[], ${rows.map((r) => r.campaignId)}::uuid[],
                ${rows.map((r) => r.contactId)}::uuid[], ${rows.map((r) => r.messageId ?? emailId(r.campaignId, r.contactId))}::uuid[],
                ${rows.map((r) => r.kind)}::text[], ${rows.map((r) => r.at)}::timestamptz[],
                ${rows.map((r) => r.classification ?? 'human')}::text[])
      AS r(id, campaign_id, contact_id, message_id, kind, occurred_at, classification)`.execute(db);
}

export async function insertConversion(
  db: Db,
  workspaceId: string,
  contactId: string,
  at: Date,
): Promise<void> {
  await sql`INSERT INTO conversions (id, workspace_id, contact_id, attribution, event, occurred_at, created_at)
    VALUES (${uuidv7(at.getTime())}, ${workspaceId}, ${contactId}, 'none', 'purchase', ${at}, ${at})`.execute(
    db,
  );
}
