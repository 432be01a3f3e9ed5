import { sql } from 'kysely';
import type { Db, NewRow, Row, SuppressionReason } from '../../db/index.js';

/**
 * SQL of the deliverability module: bounce events, suppressions, settings,
 * replay tokens. Reads `messages`, `campaign_sends` and `contacts` (read-only)
 * to tie a report to the message it is about.
 */

export type BounceEventRow = Row<'bounce_events'>;
export type SuppressionRow = Row<'suppressions'>;
export type SettingsRow = Row<'deliverability_settings'>;

export interface SentMessage {
  workspace_id: string;
  contact_id: string;
  campaign_id: string | null;
  /** messages.id for transactional and automation messages. */
  message_ref: string | null;
  /** The Message-ID header, with angle brackets. */
  message_id: string;
  email: string | null;
}

/**
 * The message whose Message-ID local part (and VERP token) is `uuid`:
 * transactional/automation messages by primary key, campaign sends by the
 * local part of their stored Message-ID. `workspaceId` scopes the lookup when
 * the caller knows the workspace.
 */
export async function findSentMessage(
  db: Db,
  uuid: string,
  workspaceId: string | undefined,
): Promise<SentMessage | undefined> {
  let message = db
    .selectFrom('messages as m')
    .leftJoin('contacts as c', 'c.id', 'm.contact_id')
    .select(['m.workspace_id', 'm.contact_id', 'm.id', 'm.message_id', 'c.email'])
    .where('m.id', '=', uuid);
  if (workspaceId) message = message.where('m.workspace_id', '=', workspaceId);
  const found = await message.executeTakeFirst();
  if (found) {
    return {
      workspace_id: found.workspace_id,
      contact_id: found.contact_id,
      campaign_id: null,
      message_ref: found.id,
      message_id: found.message_id,
      email: found.email,
    };
  }
  let send = db
    .selectFrom('campaign_sends as s')
    .leftJoin('contacts as c', 'c.id', 's.contact_id')
    .select(['s.workspace_id', 's.contact_id', 's.campaign_id', 's.message_id', 'c.email'])
    .where(sql<string>`split_part(s.message_id, '@', 1)`, '=', uuid);
  if (workspaceId) send = send.where('s.workspace_id', '=', workspaceId);
  const row = await send.executeTakeFirst();
  if (!row) return undefined;
  return {
    workspace_id: row.workspace_id,
    contact_id: row.contact_id,
    campaign_id: row.campaign_id,
    message_ref: null,
    // Campaign sends store the Message-ID without its angle brackets.
    message_id: `<${row.message_id}>`,
    email: row.email,
  };
}

export async function findContactIdByEmail(
  db: Db,
  workspaceId: string,
  emailKey: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('contacts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('email_key', '=', emailKey)
    .executeTakeFirst();
  return row?.id;
}

/** Inserts the event; undefined when the workspace already has one with this dedup key. */
export async function insertEvent(db: Db, row: NewRow<'bounce_events'>): Promise<string | undefined> {
  const inserted = await db
    .insertInto('bounce_events')
    .values(row)
    .onConflict((oc) => oc.columns(['workspace_id', 'dedup_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function findEventByDedupKey(
  db: Db,
  workspaceId: string,
  dedupKey: string,
): Promise<BounceEventRow | undefined> {
  return db
    .selectFrom('bounce_events')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('dedup_key', '=', dedupKey)
    .executeTakeFirst();
}

export async function setEventEffect(db: Db, workspaceId: string, id: string, effect: string): Promise<void> {
  await db
    .updateTable('bounce_events')
    .set({ effect })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

export async function countSoftBounces(
  db: Db,
  workspaceId: string,
  recipientKey: string,
  since: Date,
): Promise<number> {
  const row = await db
    .selectFrom('bounce_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('recipient_key', '=', recipientKey)
    .where('type', '=', 'bounce')
    .where('severity', '=', 'soft')
    .where('received_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listEvents(
  db: Db,
  workspaceId: string,
  filter: { contactId?: string | undefined; after?: string | undefined; limit: number },
): Promise<BounceEventRow[]> {
  let query = db.selectFrom('bounce_events').selectAll().where('workspace_id', '=', workspaceId);
  if (filter.contactId) query = query.where('contact_id', '=', filter.contactId);
  if (filter.after) query = query.where('id', '>', filter.after);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

/**
 * Adds the address to the suppression list. An existing entry is kept, except
 * that a stronger reason replaces a weaker one (`replaces`): a complaint or
 * hard bounce outranks a soft-bounce suppression. True when a row was written.
 */
export async function upsertSuppression(
  db: Db,
  row: NewRow<'suppressions'>,
  replaces: readonly SuppressionReason[],
): Promise<boolean> {
  const insert = db.insertInto('suppressions').values(row);
  const result = await (replaces.length === 0
    ? insert.onConflict((oc) => oc.columns(['workspace_id', 'email_key']).doNothing())
    : insert.onConflict((oc) =>
        oc
          .columns(['workspace_id', 'email_key'])
          .doUpdateSet({
            reason: row.reason,
            source: row.source,
            bounce_event_id: row.bounce_event_id ?? null,
            note: row.note ?? null,
            created_by: row.created_by ?? null,
            created_at: row.created_at,
          })
          .where('suppressions.reason', 'in', [...replaces]),
      )
  )
    .returning('email_key')
    .executeTakeFirst();
  return result !== undefined;
}

export async function findSuppression(
  db: Db,
  workspaceId: string,
  emailKey: string,
): Promise<SuppressionRow | undefined> {
  return db
    .selectFrom('suppressions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('email_key', '=', emailKey)
    .executeTakeFirst();
}

/**
 * The subset of `emailKeys` on the workspace's suppression list. For
 * transactional mail, sunset entries do not count: they stop marketing only.
 */
export async function suppressedKeys(
  db: Db,
  workspaceId: string,
  emailKeys: string[],
  kind: 'marketing' | 'transactional' = 'marketing',
): Promise<Set<string>> {
  if (emailKeys.length === 0) return new Set();
  let query = db
    .selectFrom('suppressions')
    .select('email_key')
    .where('workspace_id', '=', workspaceId)
    .where('email_key', 'in', emailKeys);
  if (kind === 'transactional') query = query.where('reason', '<>', 'sunset');
  const rows = await query.execute();
  return new Set(rows.map((r) => r.email_key));
}

export async function listSuppressions(
  db: Db,
  workspaceId: string,
  filter: {
    reason?: SuppressionReason | undefined;
    email?: string | undefined;
    after?: string | undefined;
    limit: number;
  },
): Promise<SuppressionRow[]> {
  let query = db.selectFrom('suppressions').selectAll().where('workspace_id', '=', workspaceId);
  if (filter.reason) query = query.where('reason', '=', filter.reason);
  // A prefix search on the address: `email=@example.com` does not find anything, `email=ann` finds ann@...
  if (filter.email) query = query.where('email_key', 'like', `${escapeLike(filter.email.toLowerCase())}%`);
  if (filter.after) query = query.where('email_key', '>', filter.after);
  return query
    .orderBy('email_key')
    .limit(filter.limit + 1)
    .execute();
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Deletes the address's entry (only when its reason is `onlyReason`, when given) and returns it. */
export async function deleteSuppression(
  db: Db,
  workspaceId: string,
  emailKey: string,
  onlyReason?: SuppressionReason,
): Promise<SuppressionRow | undefined> {
  let query = db
    .deleteFrom('suppressions')
    .where('workspace_id', '=', workspaceId)
    .where('email_key', '=', emailKey);
  if (onlyReason) query = query.where('reason', '=', onlyReason);
  return query.returningAll().executeTakeFirst();
}

export async function insertRemoval(db: Db, row: NewRow<'suppression_removals'>): Promise<void> {
  await db.insertInto('suppression_removals').values(row).execute();
}

export async function findSettings(db: Db, workspaceId: string): Promise<SettingsRow | undefined> {
  return db
    .selectFrom('deliverability_settings')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

export async function upsertSettings(db: Db, row: NewRow<'deliverability_settings'>): Promise<SettingsRow> {
  const { workspace_id: _ignored, ...changes } = row;
  return db
    .insertInto('deliverability_settings')
    .values(row)
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet(changes))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Settings rows with the IMAP mailbox enabled (one workspace's, or all). */
export async function listImapEnabled(db: Db, workspaceId?: string): Promise<SettingsRow[]> {
  let query = db.selectFrom('deliverability_settings').selectAll().where('imap_enabled', '=', true);
  if (workspaceId) query = query.where('workspace_id', '=', workspaceId);
  return query.orderBy('workspace_id').execute();
}

/** Records a replay token; false when it was already there (a replay). Prunes tokens older than `pruneBefore`. */
export async function rememberToken(
  db: Db,
  row: { workspace_id: string; provider: string; token: string; seen_at: Date },
  pruneBefore: Date,
): Promise<boolean> {
  await db.deleteFrom('webhook_replay_tokens').where('seen_at', '<', pruneBefore).execute();
  const inserted = await db
    .insertInto('webhook_replay_tokens')
    .values(row)
    .onConflict((oc) => oc.columns(['workspace_id', 'provider', 'token']).doNothing())
    .returning('token')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function workspaceExists(db: Db, workspaceId: string): Promise<boolean> {
  const row = await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst();
  return row !== undefined;
}

/** Adds many addresses in one statement; existing entries are kept. Returns how many were added. */
export async function insertSuppressions(db: Db, rows: NewRow<'suppressions'>[]): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await db
    .insertInto('suppressions')
    .values(rows)
    .onConflict((oc) => oc.columns(['workspace_id', 'email_key']).doNothing())
    .returning('email_key')
    .execute();
  return inserted.length;
}

/**
 * One campaign's hard bounces and complaints, by recipient (an address that
 * was refused at once and bounced again later counts once). Index
 * bounce_events_campaign: it reads that campaign's events only.
 */
export async function campaignBounceCounts(
  db: Db,
  workspaceId: string,
  campaignId: string,
): Promise<{ hardBounces: number; complaints: number }> {
  const row = await sql<{ hard: string; complaints: string }>`
    SELECT count(DISTINCT recipient_key) FILTER (WHERE type = 'bounce' AND severity = 'hard') AS hard,
           count(DISTINCT recipient_key) FILTER (WHERE type = 'complaint') AS complaints
    FROM bounce_events
    WHERE workspace_id = ${workspaceId} AND campaign_id = ${campaignId} AND type IN ('bounce', 'complaint')
  `.execute(db);
  return { hardBounces: Number(row.rows[0]?.hard ?? 0), complaints: Number(row.rows[0]?.complaints ?? 0) };
}

export interface ProviderCounts {
  /** herald_mailbox_provider(): gmail, yahoo, outlook, apple, other. */
  provider: string;
  /** Counted in the short window (received or sent at or after `shortSince`) and the long one. */
  short: { sent: number; hard: number; soft: number; complaints: number };
  long: { sent: number; hard: number; soft: number; complaints: number };
}

/**
 * Sent messages (campaign sends by finished_at, transactional and automation
 * messages by sent_at) and bounce events (by received_at) per mailbox
 * provider, for two windows ending at `until` in one pass over the longer
 * one. Index range scans on campaign_sends_finished, messages_sent and
 * bounce_events_received: the cost is the rows of the long window (each
 * campaign send joins its contact by primary key for the address), not the
 * table.
 */
export async function healthCounts(
  db: Db,
  workspaceId: string,
  windows: { shortSince: Date; longSince: Date; until: Date },
): Promise<ProviderCounts[]> {
  const { shortSince, longSince, until } = windows;
  const result = await sql<{
    provider: string;
    sent_s: string;
    sent_l: string;
    hard_s: string;
    hard_l: string;
    soft_s: string;
    soft_l: string;
    compl_s: string;
    compl_l: string;
  }>`
    WITH sent AS (
      SELECT herald_mailbox_provider(c.email) AS provider, s.finished_at AS at
      FROM campaign_sends s JOIN contacts c ON c.id = s.contact_id AND c.workspace_id = s.workspace_id
      WHERE s.workspace_id = ${workspaceId} AND s.status = 'sent'
        AND s.finished_at >= ${longSince} AND s.finished_at < ${until}
      UNION ALL
      SELECT herald_mailbox_provider(m.to_email), m.sent_at
      FROM messages m
      WHERE m.workspace_id = ${workspaceId} AND m.status = 'sent'
        AND m.sent_at >= ${longSince} AND m.sent_at < ${until}
    ), sent_counts AS (
      SELECT provider, count(*) FILTER (WHERE at >= ${shortSince}) AS sent_s, count(*) AS sent_l
      FROM sent GROUP BY provider
    ), event_counts AS (
      SELECT herald_mailbox_provider(recipient_key) AS provider,
        count(*) FILTER (WHERE type = 'bounce' AND severity = 'hard' AND received_at >= ${shortSince}) AS hard_s,
        count(*) FILTER (WHERE type = 'bounce' AND severity = 'hard') AS hard_l,
        count(*) FILTER (WHERE type = 'bounce' AND severity = 'soft' AND received_at >= ${shortSince}) AS soft_s,
        count(*) FILTER (WHERE type = 'bounce' AND severity = 'soft') AS soft_l,
        count(*) FILTER (WHERE type = 'complaint' AND received_at >= ${shortSince}) AS compl_s,
        count(*) FILTER (WHERE type = 'complaint') AS compl_l
      FROM bounce_events
      WHERE workspace_id = ${workspaceId} AND type IN ('bounce', 'complaint')
        AND received_at >= ${longSince} AND received_at < ${until}
      GROUP BY 1
    )
    SELECT coalesce(s.provider, e.provider) AS provider,
      coalesce(s.sent_s, 0) AS sent_s, coalesce(s.sent_l, 0) AS sent_l,
      coalesce(e.hard_s, 0) AS hard_s, coalesce(e.hard_l, 0) AS hard_l,
      coalesce(e.soft_s, 0) AS soft_s, coalesce(e.soft_l, 0) AS soft_l,
      coalesce(e.compl_s, 0) AS compl_s, coalesce(e.compl_l, 0) AS compl_l
    FROM sent_counts s FULL JOIN event_counts e ON e.provider = s.provider
  `.execute(db);
  return result.rows.map((r) => ({
    provider: r.provider,
    short: {
      sent: Number(r.sent_s),
      hard: Number(r.hard_s),
      soft: Number(r.soft_s),
      complaints: Number(r.compl_s),
    },
    long: {
      sent: Number(r.sent_l),
      hard: Number(r.hard_l),
      soft: Number(r.soft_l),
      complaints: Number(r.compl_l),
    },
  }));
}

/** Replaces one encrypted secret of the settings only if it still holds `previous` (data-key rotation). */
export async function replaceSettingSecret(
  db: Db,
  workspaceId: string,
  column: 'imap_password' | 'mailgun_signing_key' | 'postmark_password',
  previous: string,
  next: string,
): Promise<boolean> {
  const result = await db
    .updateTable('deliverability_settings')
    .set({ [column]: next })
    .where('workspace_id', '=', workspaceId)
    .where(column, '=', previous)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
