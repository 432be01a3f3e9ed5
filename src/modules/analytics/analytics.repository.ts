import { sql } from 'kysely';
import type { ConversionAttribution, Db, NewRow, Row } from '../../db/index.js';

/**
 * SQL of the analytics read model. Analytics reads other modules' tables
 * (tracking_hits, campaign_sends, campaigns, contacts, consent_records,
 * template_links) in set-based statements: going through their services row
 * by row would make the rollups orders of magnitude slower.
 */

export type ConversionRow = Row<'conversions'>;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

// ---------------------------------------------------------------- conversions

export async function findContactId(
  db: Db,
  workspaceId: string,
  by: { id: string } | { emailKey: string } | { externalId: string },
): Promise<string | undefined> {
  let query = db.selectFrom('contacts').select('id').where('workspace_id', '=', workspaceId);
  if ('id' in by) query = query.where('id', '=', by.id);
  else if ('emailKey' in by) query = query.where('email_key', '=', by.emailKey);
  else query = query.where('external_id', '=', by.externalId);
  return (await query.executeTakeFirst())?.id;
}

export interface ClickRow {
  id: string;
  contact_id: string;
  campaign_id: string | null;
  link_id: string | null;
  occurred_at: Date;
}

/** A click of this workspace, by its hit id; opens and other workspaces' hits are not found. */
export async function findClick(db: Db, workspaceId: string, id: string): Promise<ClickRow | undefined> {
  return db
    .selectFrom('tracking_hits')
    .select(['id', 'contact_id', 'campaign_id', 'link_id', 'occurred_at'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('kind', '=', 'click')
    .executeTakeFirst();
}

/** The contact's latest click by a person (human or proxy) in (from, to]. */
export async function lastHumanClick(
  db: Db,
  workspaceId: string,
  contactId: string,
  from: Date,
  to: Date,
): Promise<ClickRow | undefined> {
  return db
    .selectFrom('tracking_hits')
    .select(['id', 'contact_id', 'campaign_id', 'link_id', 'occurred_at'])
    .where('contact_id', '=', contactId)
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', 'click')
    .where('classification', 'in', ['human', 'proxy'])
    .where('occurred_at', '>', from)
    .where('occurred_at', '<=', to)
    .orderBy('occurred_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Inserts a conversion; undefined when the workspace already has one with this idempotency key. */
export async function insertConversion(
  db: Db,
  row: NewRow<'conversions'>,
): Promise<ConversionRow | undefined> {
  return db
    .insertInto('conversions')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
}

export async function findConversionByKey(
  db: Db,
  workspaceId: string,
  key: string,
): Promise<ConversionRow | undefined> {
  return db
    .selectFrom('conversions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

/** Adds one conversion to its campaign's totals (in the transaction that records it). */
export async function addConversionTotals(
  db: Db,
  row: { workspaceId: string; campaignId: string; currency: string | null; revenue: string | null },
): Promise<void> {
  await db
    .insertInto('analytics_conversions')
    .values({
      campaign_id: row.campaignId,
      currency: row.currency ?? '',
      workspace_id: row.workspaceId,
      conversions: 1,
      revenue: row.revenue ?? '0',
    })
    .onConflict((oc) =>
      oc.columns(['campaign_id', 'currency']).doUpdateSet({
        conversions: sql`analytics_conversions.conversions + 1`,
        revenue: sql`analytics_conversions.revenue + excluded.revenue`,
      }),
    )
    .execute();
}

/** The conversion, locked for this transaction. */
export async function lockConversion(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ConversionRow | undefined> {
  return db
    .selectFrom('conversions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

export async function deleteConversion(db: Db, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('conversions').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/** The revenue as stored, or undefined when it was that amount already (nothing changed). */
export async function setConversionRevenue(
  db: Db,
  workspaceId: string,
  id: string,
  revenue: string,
): Promise<string | undefined> {
  const row = await db
    .updateTable('conversions')
    .set({ revenue })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where(sql<boolean>`revenue IS DISTINCT FROM ${revenue}::numeric`)
    .returning('revenue')
    .executeTakeFirst();
  return row?.revenue ?? undefined;
}

/**
 * Changes a campaign's totals by a conversion taken away or changed (in the
 * transaction that changes the row): `conversions` -1 or 0, and revenue
 * `from` -> `to`, as exact decimals.
 */
export async function adjustConversionTotals(
  db: Db,
  row: { campaignId: string; currency: string | null; conversions: number; from: string; to: string },
): Promise<void> {
  await db
    .updateTable('analytics_conversions')
    .set({
      conversions: sql`conversions + ${row.conversions}`,
      revenue: sql`revenue - ${row.from}::numeric + ${row.to}::numeric`,
    })
    .where('campaign_id', '=', row.campaignId)
    .where('currency', '=', row.currency ?? '')
    .execute();
  // A campaign whose last conversion in a currency went shows no line of 0 conversions for it.
  await db
    .deleteFrom('analytics_conversions')
    .where('campaign_id', '=', row.campaignId)
    .where('currency', '=', row.currency ?? '')
    .where('conversions', '<=', sql<string>`0`)
    .execute();
}

// ------------------------------------------------------------- hits rollup

export interface RollupState {
  last_hit_id: string | null;
  caught_up_to: Date | null;
}

/** Locks the rollup state for this transaction; undefined when another worker holds it. */
export async function lockState(db: Db): Promise<RollupState | undefined> {
  const result = await sql<RollupState>`
    SELECT last_hit_id, caught_up_to FROM analytics_state WHERE name = 'hits' FOR UPDATE SKIP LOCKED`.execute(
    db,
  );
  return result.rows[0];
}

/** Waits for the rollup state lock (recomputes and tests). */
export async function lockStateWaiting(db: Db): Promise<RollupState> {
  const result = await sql<RollupState>`
    SELECT last_hit_id, caught_up_to FROM analytics_state WHERE name = 'hits' FOR UPDATE`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('analytics_state has no hits row');
  return row;
}

export async function readState(db: Db): Promise<RollupState | undefined> {
  return db
    .selectFrom('analytics_state')
    .select(['last_hit_id', 'caught_up_to'])
    .where('name', '=', 'hits')
    .executeTakeFirst();
}

export async function saveState(
  db: Db,
  state: { lastHitId: string | null; caughtUpTo?: Date | undefined; now: Date },
): Promise<void> {
  await db
    .updateTable('analytics_state')
    .set({
      last_hit_id: state.lastHitId,
      ...(state.caughtUpTo ? { caught_up_to: state.caughtUpTo } : {}),
      updated_at: state.now,
    })
    .where('name', '=', 'hits')
    .execute();
}

/** The id of the last hit of the next batch: at most `limit` hits after `after` and before `before`. */
export async function batchEnd(
  db: Db,
  after: string | null,
  before: string,
  limit: number,
): Promise<{ last: string | null; count: number }> {
  const result = await sql<{ last: string | null; count: string }>`
    SELECT max(id::text)::uuid AS last, count(*) AS count FROM (
      SELECT id FROM tracking_hits
      WHERE id > ${after ?? ZERO_UUID}::uuid AND id < ${before}::uuid
      ORDER BY id LIMIT ${limit}
    ) AS batch`.execute(db);
  const row = result.rows[0];
  return { last: row?.last ?? null, count: Number(row?.count ?? 0) };
}

/**
 * Adds the hits with ids in (after, upto] (of one campaign when given) to the
 * rollups: totals, hourly buckets, per link, and unique contacts from the
 * first-seen tables, counting a contact when its first open/click is newly
 * set and moving it between hours when an earlier hit arrives late. Must run
 * in a transaction holding the state lock, so rollups never interleave.
 */
export async function rollupHits(
  db: Db,
  range: { after: string | null; upto: string; campaign?: { id: string; workspaceId: string } | undefined },
): Promise<void> {
  const campaignFilter = range.campaign
    ? sql`AND h.workspace_id = ${range.campaign.workspaceId}::uuid AND h.campaign_id = ${range.campaign.id}::uuid`
    : sql``;
  await sql`
    CREATE TEMP TABLE rollup_hits ON COMMIT DROP AS
    SELECT h.campaign_id, h.workspace_id, h.contact_id, h.link_id, h.kind = 'open' AS is_open,
           h.classification IN ('human', 'proxy') AS human, h.occurred_at
    FROM tracking_hits h
    JOIN campaigns c ON c.id = h.campaign_id AND c.workspace_id = h.workspace_id
    WHERE h.id > ${range.after ?? ZERO_UUID}::uuid AND h.id <= ${range.upto}::uuid ${campaignFilter}`.execute(
    db,
  );

  await sql`ANALYZE rollup_hits`.execute(db);

  // The (campaign, contact) pairs whose first-seen state changes, with their mailbox provider.
  // Most hits come from contacts already counted, so only the changed ones are joined with contacts.
  await sql`
    CREATE TEMP TABLE rollup_pairs ON COMMIT DROP AS
    SELECT c.*, herald_mailbox_provider(ct.email) AS provider
    FROM (
      SELECT p.campaign_id, p.workspace_id, p.contact_id, p.n_open, p.n_hopen, p.n_click, p.n_hclick,
             r.first_open_at AS o_open, r.first_human_open_at AS o_hopen,
             r.first_click_at AS o_click, r.first_human_click_at AS o_hclick
      FROM (
        SELECT campaign_id, workspace_id, contact_id,
               min(occurred_at) FILTER (WHERE is_open) AS n_open,
               min(occurred_at) FILTER (WHERE is_open AND human) AS n_hopen,
               min(occurred_at) FILTER (WHERE NOT is_open) AS n_click,
               min(occurred_at) FILTER (WHERE NOT is_open AND human) AS n_hclick
        FROM rollup_hits GROUP BY campaign_id, workspace_id, contact_id
      ) AS p
      LEFT JOIN analytics_recipients r ON r.campaign_id = p.campaign_id AND r.contact_id = p.contact_id
    ) AS c
    -- An erased contact's hits are gone with it; a pair of one erased meanwhile is skipped.
    JOIN contacts ct ON ct.id = c.contact_id
    WHERE (n_open IS NOT NULL AND (o_open IS NULL OR n_open < o_open))
       OR (n_hopen IS NOT NULL AND (o_hopen IS NULL OR n_hopen < o_hopen))
       OR (n_click IS NOT NULL AND (o_click IS NULL OR n_click < o_click))
       OR (n_hclick IS NOT NULL AND (o_hclick IS NULL OR n_hclick < o_hclick))`.execute(db);

  await sql`
    INSERT INTO analytics_recipients AS r
      (campaign_id, contact_id, workspace_id, first_open_at, first_human_open_at, first_click_at, first_human_click_at)
    SELECT campaign_id, contact_id, workspace_id, least(o_open, n_open), least(o_hopen, n_hopen),
           least(o_click, n_click), least(o_hclick, n_hclick)
    FROM rollup_pairs
    ON CONFLICT (campaign_id, contact_id) DO UPDATE SET
      first_open_at = excluded.first_open_at, first_human_open_at = excluded.first_human_open_at,
      first_click_at = excluded.first_click_at, first_human_click_at = excluded.first_human_click_at`.execute(
    db,
  );

  // +1 in the hour of a newly set first open/click; when an earlier hit moves it, -1 in the old hour and +1 in the new.
  const moves = (n: string, o: string, col: number) => {
    const cols = [0, 0, 0, 0].map((_, i) => (i === col ? 'X' : '0'));
    const plus = cols.map((c) => (c === 'X' ? '1' : '0')).join(', ');
    const minus = cols.map((c) => (c === 'X' ? '-1' : '0')).join(', ');
    return `
      SELECT campaign_id, workspace_id, provider, date_trunc('hour', ${n}, 'UTC') AS hour, ${plus}
      FROM rollup_pairs WHERE ${n} IS NOT NULL AND (${o} IS NULL OR ${n} < ${o})
      UNION ALL
      SELECT campaign_id, workspace_id, provider, date_trunc('hour', ${o}, 'UTC') AS hour, ${minus}
      FROM rollup_pairs WHERE ${n} < ${o}`;
  };
  await sql`
    CREATE TEMP TABLE rollup_deltas ON COMMIT DROP AS
    SELECT campaign_id, workspace_id, provider, hour,
           sum(uo)::bigint AS uo, sum(huo)::bigint AS huo, sum(uc)::bigint AS uc, sum(huc)::bigint AS huc
    FROM (${sql.raw(
      [
        moves('n_open', 'o_open', 0),
        moves('n_hopen', 'o_hopen', 1),
        moves('n_click', 'o_click', 2),
        moves('n_hclick', 'o_hclick', 3),
      ].join(' UNION ALL '),
    )}) AS d (campaign_id, workspace_id, provider, hour, uo, huo, uc, huc)
    GROUP BY campaign_id, workspace_id, provider, hour`.execute(db);

  const counters = sql.raw(
    [
      'opens',
      'human_opens',
      'unique_opens',
      'human_unique_opens',
      'clicks',
      'human_clicks',
      'unique_clicks',
      'human_unique_clicks',
    ]
      .map((c) => `${c} = t.${c} + excluded.${c}`)
      .join(', '),
  );

  await sql`
    INSERT INTO analytics_hourly AS t
      (campaign_id, hour, workspace_id, opens, human_opens, unique_opens, human_unique_opens,
       clicks, human_clicks, unique_clicks, human_unique_clicks)
    SELECT campaign_id, hour, workspace_id, sum(o), sum(ho), sum(uo), sum(huo), sum(c), sum(hc), sum(uc), sum(huc)
    FROM (
      SELECT campaign_id, date_trunc('hour', occurred_at, 'UTC') AS hour, workspace_id,
             count(*) FILTER (WHERE is_open) AS o, count(*) FILTER (WHERE is_open AND human) AS ho,
             0 AS uo, 0 AS huo,
             count(*) FILTER (WHERE NOT is_open) AS c, count(*) FILTER (WHERE NOT is_open AND human) AS hc,
             0 AS uc, 0 AS huc
      FROM rollup_hits GROUP BY 1, 2, 3
      UNION ALL
      SELECT campaign_id, hour, workspace_id, 0, 0, sum(uo), sum(huo), 0, 0, sum(uc), sum(huc)
      FROM rollup_deltas GROUP BY 1, 2, 3
    ) AS x
    GROUP BY campaign_id, hour, workspace_id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET ${counters}`.execute(db);

  await sql`
    INSERT INTO analytics_campaigns AS t
      (campaign_id, workspace_id, opens, human_opens, unique_opens, human_unique_opens,
       clicks, human_clicks, unique_clicks, human_unique_clicks)
    SELECT campaign_id, workspace_id, sum(o), sum(ho), sum(uo), sum(huo), sum(c), sum(hc), sum(uc), sum(huc)
    FROM (
      SELECT campaign_id, workspace_id,
             count(*) FILTER (WHERE is_open) AS o, count(*) FILTER (WHERE is_open AND human) AS ho,
             0 AS uo, 0 AS huo,
             count(*) FILTER (WHERE NOT is_open) AS c, count(*) FILTER (WHERE NOT is_open AND human) AS hc,
             0 AS uc, 0 AS huc
      FROM rollup_hits GROUP BY 1, 2
      UNION ALL
      SELECT campaign_id, workspace_id, 0, 0, sum(uo), sum(huo), 0, 0, sum(uc), sum(huc)
      FROM rollup_deltas GROUP BY 1, 2
    ) AS x
    GROUP BY campaign_id, workspace_id
    ON CONFLICT (campaign_id) DO UPDATE SET ${counters}`.execute(db);

  await sql`
    INSERT INTO analytics_providers AS t
      (campaign_id, provider, workspace_id, unique_opens, human_unique_opens, unique_clicks, human_unique_clicks)
    SELECT campaign_id, provider, workspace_id, sum(uo), sum(huo), sum(uc), sum(huc)
    FROM rollup_deltas GROUP BY campaign_id, provider, workspace_id
    ON CONFLICT (campaign_id, provider) DO UPDATE SET
      unique_opens = t.unique_opens + excluded.unique_opens,
      human_unique_opens = t.human_unique_opens + excluded.human_unique_opens,
      unique_clicks = t.unique_clicks + excluded.unique_clicks,
      human_unique_clicks = t.human_unique_clicks + excluded.human_unique_clicks`.execute(db);

  // (campaign, link, contact) triples that are new or newly human, for unique clicks per link.
  await sql`
    CREATE TEMP TABLE rollup_link_pairs ON COMMIT DROP AS
    SELECT c.* FROM (
      SELECT p.campaign_id, p.link_id, p.contact_id, p.workspace_id, p.human,
             r.contact_id IS NOT NULL AS existed, coalesce(r.human_clicked, false) AS was_human
      FROM (
        SELECT campaign_id, link_id, contact_id, workspace_id, bool_or(human) AS human
        FROM rollup_hits WHERE NOT is_open AND link_id IS NOT NULL
        GROUP BY campaign_id, link_id, contact_id, workspace_id
      ) AS p
      LEFT JOIN analytics_link_recipients r
        ON r.campaign_id = p.campaign_id AND r.link_id = p.link_id AND r.contact_id = p.contact_id
    ) AS c
    JOIN contacts ct ON ct.id = c.contact_id
    WHERE NOT c.existed OR (c.human AND NOT c.was_human)`.execute(db);

  await sql`
    INSERT INTO analytics_link_recipients AS r (campaign_id, link_id, contact_id, workspace_id, human_clicked)
    SELECT campaign_id, link_id, contact_id, workspace_id, human FROM rollup_link_pairs
    ON CONFLICT (campaign_id, link_id, contact_id) DO UPDATE SET human_clicked = r.human_clicked OR excluded.human_clicked`.execute(
    db,
  );

  await sql`
    INSERT INTO analytics_links AS t
      (campaign_id, link_id, workspace_id, clicks, human_clicks, unique_clicks, human_unique_clicks)
    SELECT campaign_id, link_id, workspace_id, sum(c), sum(hc), sum(uc), sum(huc)
    FROM (
      SELECT campaign_id, link_id, workspace_id, count(*) AS c, count(*) FILTER (WHERE human) AS hc, 0 AS uc, 0 AS huc
      FROM rollup_hits WHERE NOT is_open AND link_id IS NOT NULL GROUP BY 1, 2, 3
      UNION ALL
      SELECT campaign_id, link_id, workspace_id, 0, 0,
             count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE human AND NOT was_human)
      FROM rollup_link_pairs GROUP BY 1, 2, 3
    ) AS x
    GROUP BY campaign_id, link_id, workspace_id
    ON CONFLICT (campaign_id, link_id) DO UPDATE SET
      clicks = t.clicks + excluded.clicks, human_clicks = t.human_clicks + excluded.human_clicks,
      unique_clicks = t.unique_clicks + excluded.unique_clicks,
      human_unique_clicks = t.human_unique_clicks + excluded.human_unique_clicks`.execute(db);

  await sql`DROP TABLE rollup_hits, rollup_pairs, rollup_deltas, rollup_link_pairs`.execute(db);
}

/** Takes up to `limit` campaigns marked dirty (re-classified hits); the rows are deleted in this transaction. */
export async function takeDirty(
  db: Db,
  limit: number,
): Promise<{ campaign_id: string; workspace_id: string }[]> {
  const result = await sql<{ campaign_id: string; workspace_id: string }>`
    DELETE FROM analytics_dirty WHERE campaign_id IN (
      SELECT campaign_id FROM analytics_dirty ORDER BY marked_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ) RETURNING campaign_id, workspace_id`.execute(db);
  return result.rows;
}

/** Forgets everything the hits rollup counted for one campaign (before counting its hits again). */
export async function resetCampaignEngagement(
  db: Db,
  workspaceId: string,
  campaignId: string,
): Promise<void> {
  for (const table of [
    'analytics_hourly',
    'analytics_links',
    'analytics_recipients',
    'analytics_link_recipients',
  ] as const) {
    await db
      .deleteFrom(table)
      .where('workspace_id', '=', workspaceId)
      .where('campaign_id', '=', campaignId)
      .execute();
  }
  const zero = {
    unique_opens: 0,
    human_unique_opens: 0,
    unique_clicks: 0,
    human_unique_clicks: 0,
  };
  await db
    .updateTable('analytics_providers')
    .set(zero)
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .execute();
  await db
    .updateTable('analytics_campaigns')
    .set({ ...zero, opens: 0, human_opens: 0, clicks: 0, human_clicks: 0 })
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .execute();
}

// ------------------------------------------------------------- ledger rollup

export interface LedgerCampaign {
  id: string;
  workspace_id: string;
  status: string;
  ledger_cursor: string | null;
}

/** Campaigns whose send ledger is not fully counted yet. */
export async function ledgerCampaigns(db: Db, limit: number): Promise<LedgerCampaign[]> {
  const result = await sql<LedgerCampaign>`
    SELECT c.id, c.workspace_id, c.status, a.ledger_cursor
    FROM campaigns c
    LEFT JOIN analytics_campaigns a ON a.campaign_id = c.id
    WHERE c.status IN ('sending', 'testing', 'paused', 'sent', 'cancelled') AND coalesce(a.ledger_done, false) = false
    ORDER BY c.id LIMIT ${limit}`.execute(db);
  return result.rows;
}

export interface LedgerChunk {
  /** Rows read (at most the limit). */
  read: number;
  /** Contact id of the last final row counted; null when none was. */
  last: string | null;
  /** A still-queued row stopped the count before the end of what was read. */
  blocked: boolean;
  perProvider: { provider: string; sent: number; failed: number; hard: number; soft: number }[];
}

/**
 * Counts the next ledger rows of a campaign in contact order, up to the first
 * row still queued (its outcome may still change). A cancelled campaign's
 * queued rows whose lease ran out are never sent, so they are passed over.
 * Hard bounces are permanent transport errors; soft are temporary or
 * connection errors that ran out of attempts.
 */
export async function countLedgerChunk(
  db: Db,
  campaign: LedgerCampaign,
  limit: number,
  now: Date,
): Promise<LedgerChunk> {
  const skipStale = campaign.status === 'cancelled';
  const result = await sql<{
    read: string;
    blocked_at: string | null;
    provider: string | null;
    sent: string;
    failed: string;
    hard: string;
    soft: string;
    last: string | null;
  }>`
    WITH bound AS (
      -- While recipients are still being claimed, rows can appear only after the audience cursor:
      -- counting no further keeps the ledger cursor from passing rows yet to be written (an A/B
      -- campaign's remainder is written between its test group's rows).
      SELECT CASE WHEN c.status IN ('sending', 'paused') AND NOT c.audience_exhausted
                  THEN coalesce(c.audience_cursor, ${ZERO_UUID}::uuid) END AS upto
      FROM campaigns c WHERE c.id = ${campaign.id}::uuid
    ),
    chunk AS (
      SELECT contact_id, status, error, lease_until FROM campaign_sends, bound
      WHERE campaign_id = ${campaign.id}::uuid AND workspace_id = ${campaign.workspace_id}::uuid
        AND contact_id > ${campaign.ledger_cursor ?? ZERO_UUID}::uuid
        AND (bound.upto IS NULL OR contact_id <= bound.upto)
      ORDER BY contact_id LIMIT ${limit}
    ),
    stop AS (
      SELECT min(contact_id::text)::uuid AS blocked_at FROM chunk
      WHERE status = 'queued' AND NOT (${skipStale} AND lease_until < ${now})
    ),
    final AS (
      SELECT chunk.* FROM chunk, stop WHERE stop.blocked_at IS NULL OR chunk.contact_id < stop.blocked_at
    ),
    counted AS (
      SELECT herald_mailbox_provider(ct.email) AS provider,
             count(*) FILTER (WHERE f.status = 'sent') AS sent,
             count(*) FILTER (WHERE f.status = 'failed') AS failed,
             count(*) FILTER (WHERE f.status = 'failed' AND f.error LIKE 'permanent%') AS hard,
             count(*) FILTER (WHERE f.status = 'failed' AND (f.error LIKE 'temporary%' OR f.error LIKE 'connection%')) AS soft
      FROM final f LEFT JOIN contacts ct ON ct.id = f.contact_id
      GROUP BY 1
    )
    SELECT (SELECT count(*) FROM chunk) AS read, (SELECT blocked_at FROM stop) AS blocked_at,
           (SELECT max(contact_id::text)::uuid FROM final) AS last, counted.*
    FROM (SELECT 1) AS one LEFT JOIN counted ON true`.execute(db);
  const first = result.rows[0];
  return {
    read: Number(first?.read ?? 0),
    last: first?.last ?? null,
    blocked: Boolean(first?.blocked_at),
    perProvider: result.rows
      .filter((r) => r.provider !== null)
      .map((r) => ({
        provider: r.provider as string,
        sent: Number(r.sent),
        failed: Number(r.failed),
        hard: Number(r.hard),
        soft: Number(r.soft),
      })),
  };
}

/**
 * Starts a campaign's ledger count over: sent and failed per provider and
 * the bounce counters go back to zero and the cursor to the start, so the
 * rollup counts the whole ledger again. For an A/B campaign whose remainder
 * starts (its rows are written between the test group's). Waits for the
 * rollup's lock, so no chunk is half counted.
 */
export async function restartLedgerCount(db: Db, campaignId: string): Promise<void> {
  await lockStateWaiting(db);
  await db
    .updateTable('analytics_providers')
    .set({ sent: 0, failed: 0 })
    .where('campaign_id', '=', campaignId)
    .execute();
  await db
    .updateTable('analytics_campaigns')
    .set({ ledger_cursor: null, ledger_done: false, bounced_hard: 0, bounced_soft: 0 })
    .where('campaign_id', '=', campaignId)
    .execute();
}

export async function addLedgerCounts(
  db: Db,
  campaign: LedgerCampaign,
  chunk: LedgerChunk,
  done: boolean,
): Promise<void> {
  for (const p of chunk.perProvider) {
    await db
      .insertInto('analytics_providers')
      .values({
        campaign_id: campaign.id,
        provider: p.provider,
        workspace_id: campaign.workspace_id,
        sent: p.sent,
        failed: p.failed,
      })
      .onConflict((oc) =>
        oc.columns(['campaign_id', 'provider']).doUpdateSet({
          sent: sql`analytics_providers.sent + excluded.sent`,
          failed: sql`analytics_providers.failed + excluded.failed`,
        }),
      )
      .execute();
  }
  const hard = chunk.perProvider.reduce((n, p) => n + p.hard, 0);
  const soft = chunk.perProvider.reduce((n, p) => n + p.soft, 0);
  const cursor = chunk.last ?? campaign.ledger_cursor;
  await db
    .insertInto('analytics_campaigns')
    .values({
      campaign_id: campaign.id,
      workspace_id: campaign.workspace_id,
      ledger_cursor: cursor,
      ledger_done: done,
      bounced_hard: hard,
      bounced_soft: soft,
    })
    .onConflict((oc) =>
      oc.column('campaign_id').doUpdateSet({
        ledger_cursor: cursor,
        ledger_done: done,
        bounced_hard: sql`analytics_campaigns.bounced_hard + excluded.bounced_hard`,
        bounced_soft: sql`analytics_campaigns.bounced_soft + excluded.bounced_soft`,
      }),
    )
    .execute();
}

// ------------------------------------------------------------------ reports

export interface ReportCampaign {
  id: string;
  name: string;
  status: string;
  started_at: Date | null;
  finished_at: Date | null;
  to_send: number;
  sent_count: number;
  failed_count: number;
}

export async function findCampaign(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ReportCampaign | undefined> {
  return db
    .selectFrom('campaigns')
    .select(['id', 'name', 'status', 'started_at', 'finished_at', 'to_send', 'sent_count', 'failed_count'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function campaignRollup(db: Db, workspaceId: string, campaignId: string) {
  return db
    .selectFrom('analytics_campaigns')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .executeTakeFirst();
}

export async function providerRollups(db: Db, workspaceId: string, campaignId: string) {
  return db
    .selectFrom('analytics_providers')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .orderBy('provider')
    .execute();
}

export async function linkRollups(db: Db, workspaceId: string, campaignId: string) {
  return db
    .selectFrom('analytics_links as l')
    .leftJoin('template_links as t', (join) =>
      join.onRef('t.id', '=', 'l.link_id').onRef('t.workspace_id', '=', 'l.workspace_id'),
    )
    .select([
      'l.link_id',
      't.url',
      't.position',
      'l.clicks',
      'l.human_clicks',
      'l.unique_clicks',
      'l.human_unique_clicks',
    ])
    .where('l.workspace_id', '=', workspaceId)
    .where('l.campaign_id', '=', campaignId)
    .orderBy('t.position')
    .orderBy('l.link_id')
    .execute();
}

export async function hourlyRollups(db: Db, workspaceId: string, campaignId: string) {
  return db
    .selectFrom('analytics_hourly')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .orderBy('hour')
    .execute();
}

export async function conversionRollups(db: Db, workspaceId: string, campaignId: string) {
  return db
    .selectFrom('analytics_conversions')
    .select(['currency', 'conversions', 'revenue'])
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .orderBy('currency')
    .execute();
}

/** Distinct contacts who unsubscribed through this campaign's links (consent ledger, source_id = campaign id). */
export async function campaignUnsubscribes(db: Db, workspaceId: string, campaignId: string): Promise<number> {
  const row = await db
    .selectFrom('consent_records')
    .select(sql<string>`count(DISTINCT contact_id)`.as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('action', '=', 'unsubscribe')
    .where('source_id', 'is not', null)
    .where('source_id', '=', campaignId)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

// ----------------------------------------------------------------- overview

export async function overviewEngagement(db: Db, workspaceId: string, from: Date, to: Date) {
  return db
    .selectFrom('analytics_hourly')
    .select([
      sql<string>`coalesce(sum(opens), 0)`.as('opens'),
      sql<string>`coalesce(sum(human_opens), 0)`.as('human_opens'),
      sql<string>`coalesce(sum(unique_opens), 0)`.as('unique_opens'),
      sql<string>`coalesce(sum(human_unique_opens), 0)`.as('human_unique_opens'),
      sql<string>`coalesce(sum(clicks), 0)`.as('clicks'),
      sql<string>`coalesce(sum(human_clicks), 0)`.as('human_clicks'),
      sql<string>`coalesce(sum(unique_clicks), 0)`.as('unique_clicks'),
      sql<string>`coalesce(sum(human_unique_clicks), 0)`.as('human_unique_clicks'),
    ])
    .where('workspace_id', '=', workspaceId)
    .where('hour', '>=', from)
    .where('hour', '<', to)
    .executeTakeFirstOrThrow();
}

export async function overviewCampaigns(db: Db, workspaceId: string, from: Date, to: Date, limit: number) {
  return db
    .selectFrom('campaigns as c')
    .leftJoin('analytics_campaigns as a', 'a.campaign_id', 'c.id')
    .select([
      'c.id',
      'c.name',
      'c.status',
      'c.started_at',
      'c.sent_count',
      'c.failed_count',
      'a.human_unique_opens',
      'a.human_unique_clicks',
    ])
    .where('c.workspace_id', '=', workspaceId)
    .where('c.started_at', '>=', from)
    .where('c.started_at', '<', to)
    .orderBy('c.started_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit)
    .execute();
}

export async function overviewSends(db: Db, workspaceId: string, from: Date, to: Date) {
  return db
    .selectFrom('campaigns')
    .select([
      sql<string>`count(*)`.as('campaigns'),
      sql<string>`coalesce(sum(sent_count), 0)`.as('sent'),
      sql<string>`coalesce(sum(failed_count), 0)`.as('failed'),
    ])
    .where('workspace_id', '=', workspaceId)
    .where('started_at', '>=', from)
    .where('started_at', '<', to)
    .executeTakeFirstOrThrow();
}

export async function overviewUnsubscribes(
  db: Db,
  workspaceId: string,
  from: Date,
  to: Date,
): Promise<number> {
  const row = await db
    .selectFrom('consent_records')
    .select(sql<string>`count(DISTINCT contact_id)`.as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('action', '=', 'unsubscribe')
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function overviewConversions(db: Db, workspaceId: string, from: Date, to: Date) {
  return db
    .selectFrom('conversions')
    .select([
      sql<string>`coalesce(currency, '')`.as('currency'),
      sql<string>`count(*)`.as('conversions'),
      sql<string>`count(*) FILTER (WHERE campaign_id IS NOT NULL)`.as('attributed'),
      sql<string>`coalesce(sum(revenue), 0)::text`.as('revenue'),
    ])
    .where('workspace_id', '=', workspaceId)
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', to)
    .groupBy(sql`coalesce(currency, '')`)
    .orderBy(sql`coalesce(currency, '')`)
    .execute();
}

// ------------------------------------------------------------------- export

export interface EventRow {
  id: string;
  occurred_at: Date;
  kind: string;
  classification: string;
  reason: string | null;
  contact_id: string;
  email: string | null;
  link_id: string | null;
  url: string | null;
  user_agent: string | null;
  ip: string | null;
  reclassified_at: Date | null;
}

/** One page of a campaign's raw hits in id order, after `after`. */
export async function eventsPage(
  db: Db,
  workspaceId: string,
  campaignId: string,
  after: string | null,
  limit: number,
): Promise<EventRow[]> {
  return db
    .selectFrom('tracking_hits as h')
    .leftJoin('contacts as c', 'c.id', 'h.contact_id')
    .leftJoin('template_links as l', 'l.id', 'h.link_id')
    .select([
      'h.id',
      'h.occurred_at',
      'h.kind',
      'h.classification',
      'h.reason',
      'h.contact_id',
      'c.email',
      'h.link_id',
      'l.url',
      'h.user_agent',
      'h.ip',
      'h.reclassified_at',
    ])
    .where('h.workspace_id', '=', workspaceId)
    .where('h.campaign_id', '=', campaignId)
    .where('h.id', '>', after ?? ZERO_UUID)
    .orderBy('h.id')
    .limit(limit)
    .execute();
}

export type { ConversionAttribution };
