import { sql } from 'kysely';
import type { Db, EventSource, EventType } from '../../db/index.js';

export interface EventInsert {
  id: string;
  occurredAt: Date;
  type: EventType;
  name: string | null;
  /** Known already (an identify just wrote it); else found in SQL from the keys below. */
  contactId: string | null;
  /** lower(userId) when the userId looks like an address. */
  userEmailKey?: string | null;
  /** The normalized, lower-cased context.traits.email. */
  traitsEmailKey?: string | null;
  userId: string | null;
  anonymousId: string | null;
  messageId: string;
  properties: Record<string, unknown>;
  context: Record<string, unknown> | null;
}

/** The message ids among `ids` this workspace has seen before. */
export async function seenMessageIds(db: Db, workspaceId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql<{ message_id: string }>`
    SELECT message_id FROM event_message_ids
    WHERE workspace_id = ${workspaceId} AND message_id = ANY(${ids}::text[])`.execute(db);
  return new Set(rows.rows.map((r) => r.message_id));
}

/**
 * Stores events whose message id is new for the workspace, in one statement:
 * the ids go into event_message_ids first (ON CONFLICT DO NOTHING), and only
 * the events whose id was inserted there are stored, so a retry racing its
 * original stores the event once. Returns the message ids stored.
 *
 * Contacts are found in the same statement, in Herald's order: the userId
 * as external_id, the userId as an address, context.traits.email, a known
 * anonymousId (each a unique-index lookup; coalesce stops at the first hit).
 * Reading the contacts and anonymous_ids tables here is a read-only
 * exception (ARCHITECTURE.md): 500 events cost one round trip instead of
 * one contact lookup each. Measured on 2 shared cores with 20,000,000 events
 * stored: about 42,000 events/s on 4 connections for this statement, and
 * 23,000-25,000 through POST /v1/batch (bench/segments.ts). Resolving contacts
 * in a separate query first, and checking message ids before inserting, cost
 * a third of that throughput.
 */
export async function insertEvents(
  db: Db,
  workspaceId: string,
  rows: EventInsert[],
  receivedAt: Date,
  source: EventSource = 'api',
): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await sql<{ message_id: string }>`
    WITH input AS (
      SELECT * FROM unnest(
        ${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.occurredAt.toISOString())}::timestamptz[],
        ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.name)}::text[],
        ${rows.map((r) => r.contactId)}::uuid[], ${rows.map((r) => r.userId)}::text[],
        ${rows.map((r) => r.userEmailKey ?? null)}::text[], ${rows.map((r) => r.traitsEmailKey ?? null)}::text[],
        ${rows.map((r) => r.anonymousId)}::text[], ${rows.map((r) => r.messageId)}::text[],
        ${rows.map((r) => JSON.stringify(r.properties))}::text[],
        ${rows.map((r) => (r.context ? JSON.stringify(r.context) : null))}::text[]
      ) AS t(id, occurred_at, type, name, contact_id, user_id, user_email, traits_email, anonymous_id, message_id,
             properties, context)
    ),
    fresh AS (
      INSERT INTO event_message_ids (workspace_id, message_id, received_at)
      SELECT ${workspaceId}, message_id, ${receivedAt} FROM input
      ON CONFLICT DO NOTHING
      RETURNING message_id
    )
    INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, user_id,
                        anonymous_id, message_id, source, properties, context)
    SELECT i.id, ${workspaceId}, i.occurred_at, ${receivedAt}, i.type, i.name,
           coalesce(
             i.contact_id,
             (SELECT c.id FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.external_id = i.user_id),
             (SELECT c.id FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.email_key = i.user_email),
             (SELECT c.id FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.email_key = i.traits_email),
             (SELECT a.contact_id FROM anonymous_ids a
              WHERE a.workspace_id = ${workspaceId} AND a.anonymous_id = i.anonymous_id)),
           i.user_id, i.anonymous_id, i.message_id, ${source}, i.properties::jsonb, i.context::jsonb
    FROM input i JOIN fresh f ON f.message_id = i.message_id
    RETURNING message_id`.execute(db);
  return result.rows.map((r) => r.message_id);
}

export interface ContactKeys {
  externalIds: string[];
  emailKeys: string[];
  anonymousIds: string[];
}

export interface ResolvedContacts {
  byExternalId: Map<string, string>;
  byEmailKey: Map<string, string>;
  byAnonymousId: Map<string, string>;
}

/**
 * Contact ids for the senders of a batch, by external_id, email and known
 * anonymousId, in one statement. Reads the contacts table directly (a
 * read-only exception, see ARCHITECTURE.md): resolving 500 events through the
 * contacts service one by one would cost 500 round trips.
 */
export async function resolveContacts(
  db: Db,
  workspaceId: string,
  keys: ContactKeys,
): Promise<ResolvedContacts> {
  const resolved: ResolvedContacts = {
    byExternalId: new Map(),
    byEmailKey: new Map(),
    byAnonymousId: new Map(),
  };
  if (keys.externalIds.length + keys.emailKeys.length + keys.anonymousIds.length === 0) return resolved;
  const rows = await sql<{ kind: 'ext' | 'email' | 'anon'; key: string; id: string }>`
    SELECT 'ext' AS kind, external_id AS key, id FROM contacts
    WHERE workspace_id = ${workspaceId} AND external_id = ANY(${keys.externalIds}::text[])
    UNION ALL
    SELECT 'email', email_key, id FROM contacts
    WHERE workspace_id = ${workspaceId} AND email_key = ANY(${keys.emailKeys}::text[])
    UNION ALL
    SELECT 'anon', anonymous_id, contact_id FROM anonymous_ids
    WHERE workspace_id = ${workspaceId} AND anonymous_id = ANY(${keys.anonymousIds}::text[])`.execute(db);
  for (const row of rows.rows) {
    const map =
      row.kind === 'ext'
        ? resolved.byExternalId
        : row.kind === 'email'
          ? resolved.byEmailKey
          : resolved.byAnonymousId;
    map.set(row.key, row.id);
  }
  return resolved;
}

/** Remembers (or moves) an anonymousId to a contact: the latest identify wins. */
export async function linkAnonymousId(
  db: Db,
  workspaceId: string,
  anonymousId: string,
  contactId: string,
  now: Date,
): Promise<void> {
  await sql`
    INSERT INTO anonymous_ids (workspace_id, anonymous_id, contact_id, created_at, updated_at)
    VALUES (${workspaceId}, ${anonymousId}, ${contactId}, ${now}, ${now})
    ON CONFLICT (workspace_id, anonymous_id)
    DO UPDATE SET contact_id = excluded.contact_id, updated_at = excluded.updated_at
    WHERE anonymous_ids.contact_id <> excluded.contact_id`.execute(db);
}

/** Traits of earlier identify calls nobody could be matched to yet, oldest first. */
export async function pendingTraits(
  db: Db,
  workspaceId: string,
  ids: { anonymousId: string | null; userId: string | null },
): Promise<Record<string, unknown>[]> {
  if (!ids.anonymousId && !ids.userId) return [];
  const rows = await sql<{ properties: Record<string, unknown> }>`
    SELECT properties FROM events
    WHERE workspace_id = ${workspaceId} AND contact_id IS NULL AND type = 'identify'
      AND (anonymous_id = ${ids.anonymousId} OR user_id = ${ids.userId})
    ORDER BY occurred_at, id
    LIMIT 100`.execute(db);
  return rows.rows.map((r) => r.properties);
}

/**
 * Attaches the workspace's unattached events of this anonymousId or userId
 * to the contact (served by the partial "unattached" indexes).
 */
export async function attachEvents(
  db: Db,
  workspaceId: string,
  ids: { anonymousId: string | null; userId: string | null },
  contactId: string,
): Promise<number> {
  if (!ids.anonymousId && !ids.userId) return 0;
  const result = await sql`
    UPDATE events SET contact_id = ${contactId}
    WHERE workspace_id = ${workspaceId} AND contact_id IS NULL
      AND (anonymous_id = ${ids.anonymousId} OR user_id = ${ids.userId})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Creates the monthly partition holding `month` unless it exists (idempotent, safe between processes). */
export async function ensurePartition(db: Db, month: Date): Promise<void> {
  await sql`SELECT herald_events_partition(${month.toISOString().slice(0, 10)}::date)`.execute(db);
}

/** The months (first day, UTC, YYYY-MM-DD) that have a partition. */
export async function partitionMonths(db: Db): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'events'::regclass`.execute(db);
  return rows.rows
    .map((r) => /^events_(\d{4})_(\d{2})$/.exec(r.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}-${m[2]}-01`)
    .sort();
}

export async function dropPartition(db: Db, month: string): Promise<void> {
  await sql`SELECT herald_events_drop_partition(${month}::date)`.execute(db);
}

/** Forgets message ids received before `before`, at most `limit` at a time. */
export async function forgetMessageIds(db: Db, before: Date, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM event_message_ids m
    USING (SELECT workspace_id, message_id FROM event_message_ids WHERE received_at < ${before} LIMIT ${limit}) old
    WHERE m.workspace_id = old.workspace_id AND m.message_id = old.message_id`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface RecordedEvent {
  id: string;
  type: EventType;
  name: string | null;
  source: EventSource;
  occurred_at: Date;
  received_at: Date;
  message_id: string;
  user_id: string | null;
  anonymous_id: string | null;
  properties: Record<string, unknown>;
}

/** A contact's events, newest first, behind a (occurred_at, id) cursor. */
export async function contactEvents(
  db: Db,
  workspaceId: string,
  contactId: string,
  page: { before: { at: Date; id: string } | undefined; limit: number },
): Promise<RecordedEvent[]> {
  const before = page.before;
  const result = await sql<RecordedEvent>`
    SELECT id, type, name, source, occurred_at, received_at, message_id, user_id, anonymous_id, properties
    FROM events
    WHERE workspace_id = ${workspaceId} AND contact_id = ${contactId}
      ${before ? sql`AND (occurred_at, id) < (${before.at}, ${before.id}::uuid)` : sql``}
    ORDER BY occurred_at DESC, id DESC
    LIMIT ${page.limit + 1}`.execute(db);
  return result.rows;
}

/** Whether the contact exists in the workspace. */
export async function contactExists(db: Db, workspaceId: string, contactId: string): Promise<boolean> {
  const row = await db
    .selectFrom('contacts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', contactId)
    .executeTakeFirst();
  return row !== undefined;
}
