import { sql } from 'kysely';
import type { Db, HitClassification, HitKind, IpAnonymization } from '../../db/index.js';
import { uuidv7 } from '../../lib/ids.js';

/**
 * Registers a version's links, once: concurrent preparers (two workers
 * starting the same campaign) insert the same (version, url) pairs, and the
 * unique key keeps the first; both then read the same ids back.
 */
export async function upsertLinks(
  db: Db,
  workspaceId: string,
  versionId: string,
  urls: string[],
  now: Date,
): Promise<{ id: string; url: string }[]> {
  if (urls.length > 0) {
    await db
      .insertInto('template_links')
      .values(
        urls.map((url, position) => ({
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          template_version_id: versionId,
          position,
          url,
          created_at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['template_version_id', 'url']).doNothing())
      .execute();
  }
  return db
    .selectFrom('template_links')
    .select(['id', 'url'])
    .where('workspace_id', '=', workspaceId)
    .where('template_version_id', '=', versionId)
    .execute();
}

export async function findLinkUrl(db: Db, workspaceId: string, linkId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('template_links')
    .select('url')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', linkId)
    .executeTakeFirst();
  return row?.url;
}

export interface UtmRow {
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_content: string | null;
  utm_term: string | null;
}

export async function campaignUtm(
  db: Db,
  workspaceId: string,
  campaignId: string,
): Promise<UtmRow | undefined> {
  return db
    .selectFrom('campaigns')
    .select(['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', campaignId)
    .executeTakeFirst();
}

export async function ipModes(db: Db, workspaceIds: string[]): Promise<Map<string, IpAnonymization>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('workspaces')
    .select(['id', 'ip_anonymization'])
    .where('id', 'in', workspaceIds)
    .execute();
  return new Map(rows.map((r) => [r.id, r.ip_anonymization]));
}

export async function setIpMode(db: Db, workspaceId: string, mode: IpAnonymization): Promise<void> {
  await db.updateTable('workspaces').set({ ip_anonymization: mode }).where('id', '=', workspaceId).execute();
}

/**
 * When each message was handed to the transport: campaign messages by
 * (campaign, contact) from the send ledger, transactional ones by message id.
 * Keys: `campaignId:contactId` and `messageId`.
 */
export async function deliveryTimes(
  db: Db,
  campaignHits: { workspaceId: string; campaignId: string; contactId: string }[],
  messageHits: { workspaceId: string; messageId: string }[],
): Promise<Map<string, Date>> {
  const times = new Map<string, Date>();
  if (campaignHits.length > 0) {
    // One JSON parameter, as for inserts: cheaper to send than three uuid arrays.
    const keys = JSON.stringify(
      campaignHits.map((h) => ({ c: h.campaignId, p: h.contactId, w: h.workspaceId })),
    );
    const rows = await sql<{ campaign_id: string; contact_id: string; finished_at: Date | null }>`
      SELECT s.campaign_id, s.contact_id, s.finished_at
      FROM campaign_sends s
      JOIN json_to_recordset(${keys}::json) AS k(c uuid, p uuid, w uuid)
        ON s.campaign_id = k.c AND s.contact_id = k.p AND s.workspace_id = k.w`.execute(db);
    for (const r of rows.rows)
      if (r.finished_at) times.set(`${r.campaign_id}:${r.contact_id}`, r.finished_at);
  }
  if (messageHits.length > 0) {
    const rows = await sql<{ id: string; sent_at: Date | null }>`
      SELECT m.id, m.sent_at
      FROM messages m
      JOIN unnest(${messageHits.map((h) => h.messageId)}::uuid[], ${messageHits.map((h) => h.workspaceId)}::uuid[])
        AS k(id, workspace_id)
        ON m.id = k.id AND m.workspace_id = k.workspace_id`.execute(db);
    for (const r of rows.rows) if (r.sent_at) times.set(r.id, r.sent_at);
  }
  return times;
}

/**
 * When each of the given campaigns finished sending, for those that did
 * (status sent): every message of a sent campaign was handed over by then.
 */
export async function sentCampaignsFinishedAt(
  db: Db,
  campaigns: { workspaceId: string; campaignId: string }[],
): Promise<Map<string, Date>> {
  const finished = new Map<string, Date>();
  if (campaigns.length === 0) return finished;
  const rows = await sql<{ id: string; finished_at: Date | null }>`
    SELECT c.id, c.finished_at
    FROM campaigns c
    JOIN unnest(${campaigns.map((k) => k.campaignId)}::uuid[], ${campaigns.map((k) => k.workspaceId)}::uuid[])
      AS k(id, workspace_id)
      ON c.id = k.id AND c.workspace_id = k.workspace_id
    WHERE c.status = 'sent'`.execute(db);
  for (const r of rows.rows) if (r.finished_at) finished.set(r.id, r.finished_at);
  return finished;
}

export interface HitRow {
  id: string;
  workspace_id: string;
  campaign_id: string | null;
  contact_id: string;
  message_id: string;
  link_id: string | null;
  kind: HitKind;
  occurred_at: Date;
  user_agent: string | null;
  ip: string | null;
  classification: HitClassification;
  reason: string | null;
}

/**
 * One multi-row insert. Hits of contacts that no longer exist in the
 * workspace, or that withdrew their tracking consent since the message was
 * sent, are left out. Re-inserting a hit (a retried batch) changes nothing.
 */
export async function insertHits(db: Db, hits: HitRow[]): Promise<number> {
  return (await insertHitsReturning(db, hits, false)).count;
}

/** insertHits that also says which hits were stored (for the webhook outbox). */
export async function insertHitsReturning(
  db: Db,
  hits: HitRow[],
  returnIds = true,
): Promise<{ count: number; ids: string[] }> {
  if (hits.length === 0) return { count: 0, ids: [] };
  const result = await sql<{ id: string }>`
    INSERT INTO tracking_hits
      (id, workspace_id, campaign_id, contact_id, message_id, link_id, kind, occurred_at,
       user_agent, ip, classification, reason)
    SELECT h.i, h.w, h.c, h.p, h.m, h.l, h.k, to_timestamp(h.t / 1000.0), h.u, h.a, h.s, h.r
    FROM (
      SELECT f[1]::uuid AS i, f[2]::uuid AS w, nullif(f[3], '')::uuid AS c, f[4]::uuid AS p,
             f[5]::uuid AS m, nullif(f[6], '')::uuid AS l, f[7] AS k, f[8]::float8 AS t,
             ${textField(9)} AS u, ${textField(10)} AS a, f[11] AS s, ${textField(12)} AS r
      FROM string_to_table(${hitsText(hits)}::text, E'\\n') AS line, string_to_array(line, E'\\t') AS f
    ) AS h
    -- A subquery per hit, not EXISTS: the planner turns EXISTS into a join and, for
    -- the split text's row estimate, may pick a hash join that reads every contact.
    WHERE (SELECT c.tracking_consent FROM contacts c WHERE c.id = h.p AND c.workspace_id = h.w)
    ON CONFLICT (id) DO NOTHING
    ${returnIds ? sql`RETURNING id` : sql``}`.execute(db);
  return {
    count: Number(result.numAffectedRows ?? result.rows.length),
    ids: result.rows.map((row) => row.id),
  };
}

/**
 * The batch as one text parameter: a line per hit, its fields separated by
 * tabs, split by the database with string_to_table and string_to_array.
 * Parsing the same rows from JSON took the database three to five times as
 * long: about a third of all it did per hit.
 *
 * Ids, kinds, labels and times are Herald's own and hold neither a tab nor a
 * newline; a missing id is an empty field. User agents, IPs and reasons go
 * through `escapeText`.
 */
function hitsText(hits: readonly HitRow[]): string {
  let out = '';
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i] as HitRow;
    out +=
      `${i === 0 ? '' : '\n'}${h.id}\t${h.workspace_id}\t${h.campaign_id ?? ''}\t${h.contact_id}\t` +
      `${h.message_id}\t${h.link_id ?? ''}\t${h.kind}\t${h.occurred_at.getTime()}\t` +
      `${escapeText(h.user_agent)}\t${escapeText(h.ip)}\t${h.classification}\t${escapeText(h.reason)}`;
  }
  return out;
}

const NEEDS_ESCAPE = /[\\\t\n]/;
const ESCAPES = /[\\\t\n]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n' };

/**
 * A free-text field as COPY's text format spells it: `\N` for null, and a
 * backslash, tab or newline as `\\`, `\t` or `\n`. Almost no value holds
 * one, so the common case is the value itself.
 */
function escapeText(value: string | null): string {
  if (value === null) return '\\N';
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, (c) => ESCAPED[c] as string) : value;
}

/**
 * Reads field `n` of the split line back as escapeText wrote it. A value
 * without a backslash is itself. The rare one with escapes is split on its
 * escaped backslashes first, so that a backslash and a t left in a piece can
 * only be an escaped tab.
 */
function textField(n: number) {
  const field = sql.raw(`f[${n}]`);
  return sql`CASE WHEN ${field} = '\\N' THEN NULL
    WHEN strpos(${field}, '\\') = 0 THEN ${field}
    ELSE (SELECT string_agg(replace(replace(piece, '\\t', E'\\t'), '\\n', E'\\n'), '\\' ORDER BY n)
          FROM unnest(string_to_array(${field}, '\\\\')) WITH ORDINALITY AS p(piece, n))
    END`;
}

export interface Relabel {
  id: string;
  workspaceId: string;
  campaignId: string | null;
  classification: HitClassification;
  reason: string | null;
}

/** Changes stored hits' labels and marks their campaigns for analytics to recompute. */
export async function relabelHits(db: Db, changes: Relabel[], now: Date): Promise<number> {
  if (changes.length === 0) return 0;
  let changed = 0;
  await db.transaction().execute(async (trx) => {
    const result = await sql`
      UPDATE tracking_hits t
      SET classification = c.classification, reason = c.reason, reclassified_at = ${now}
      FROM unnest(${changes.map((c) => c.id)}::uuid[], ${changes.map((c) => c.workspaceId)}::uuid[],
                  ${changes.map((c) => c.classification)}::text[], ${changes.map((c) => c.reason)}::text[])
        AS c(id, workspace_id, classification, reason)
      WHERE t.id = c.id AND t.workspace_id = c.workspace_id
        AND (t.classification <> c.classification OR t.reason IS DISTINCT FROM c.reason)`.execute(trx);
    changed = Number(result.numAffectedRows ?? 0);
    const campaigns = new Map<string, string>();
    for (const c of changes) if (c.campaignId) campaigns.set(c.campaignId, c.workspaceId);
    if (changed > 0 && campaigns.size > 0) {
      await trx
        .insertInto('analytics_dirty')
        .values(
          [...campaigns].map(([campaign_id, workspace_id]) => ({
            campaign_id,
            workspace_id,
            marked_at: now,
          })),
        )
        .onConflict((oc) => oc.column('campaign_id').doUpdateSet({ marked_at: now }))
        .execute();
    }
  });
  return changed;
}

/** Marks campaigns for analytics to recompute from the raw hits. */
export async function markDirty(db: Db, campaigns: Map<string, string>, now: Date): Promise<void> {
  if (campaigns.size === 0) return;
  await db
    .insertInto('analytics_dirty')
    .values(
      [...campaigns].map(([campaign_id, workspace_id]) => ({ campaign_id, workspace_id, marked_at: now })),
    )
    .onConflict((oc) => oc.column('campaign_id').doUpdateSet({ marked_at: now }))
    .execute();
}

/** A page of a campaign's hits in id (arrival) order, for re-classification. */
export async function hitsPage(
  db: Db,
  workspaceId: string,
  campaignId: string,
  after: string | undefined,
  limit: number,
): Promise<HitRow[]> {
  let query = db
    .selectFrom('tracking_hits')
    .select([
      'id',
      'workspace_id',
      'campaign_id',
      'contact_id',
      'message_id',
      'link_id',
      'kind',
      'occurred_at',
      'user_agent',
      'ip',
      'classification',
      'reason',
    ])
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId);
  if (after) query = query.where('id', '>', after);
  return query.orderBy('id').limit(limit).execute();
}

export async function campaignExists(db: Db, workspaceId: string, campaignId: string): Promise<boolean> {
  const row = await db
    .selectFrom('campaigns')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', campaignId)
    .executeTakeFirst();
  return row !== undefined;
}
