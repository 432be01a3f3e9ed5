import { type SqlBool, sql } from 'kysely';
import type { Db, Row } from '../../db/index.js';
import { type AudienceSegments, audience, audienceSegments } from './campaigns.repository.js';
import type { AbTestSettings } from './experiment-settings.js';
import { heldOut } from './sends.repository.js';

/**
 * SQL of campaign experiments: A/B test settings and variants, the test
 * group written to the send ledger at the start, per-variant outcomes read
 * from the ledger and the analytics rollup, and the holdout comparison.
 */

export type AbTestRow = Row<'campaign_ab_tests'>;
export type VariantRow = Row<'campaign_variants'>;

export async function abTestOf(db: Db, campaignId: string): Promise<AbTestRow | undefined> {
  return db
    .selectFrom('campaign_ab_tests')
    .selectAll()
    .where('campaign_id', '=', campaignId)
    .executeTakeFirst();
}

export async function variantsOf(db: Db, campaignId: string): Promise<VariantRow[]> {
  return db
    .selectFrom('campaign_variants')
    .selectAll()
    .where('campaign_id', '=', campaignId)
    .orderBy('position')
    .execute();
}

/** Replaces a draft campaign's A/B test (null removes it). */
export async function replaceAbTest(
  db: Db,
  workspaceId: string,
  campaignId: string,
  settings: AbTestSettings | null,
  now: Date,
): Promise<void> {
  await db.deleteFrom('campaign_variants').where('campaign_id', '=', campaignId).execute();
  await db.deleteFrom('campaign_ab_tests').where('campaign_id', '=', campaignId).execute();
  if (!settings) return;
  const { variants, ...test } = settings;
  await db
    .insertInto('campaign_ab_tests')
    .values({ ...test, campaign_id: campaignId, workspace_id: workspaceId, created_at: now, updated_at: now })
    .execute();
  await db
    .insertInto('campaign_variants')
    .values(variants.map((v) => ({ ...v, campaign_id: campaignId, workspace_id: workspaceId })))
    .execute();
}

export async function pinVariantVersions(
  db: Db,
  campaignId: string,
  versions: ReadonlyMap<number, string>,
): Promise<void> {
  for (const [position, versionId] of versions) {
    await db
      .updateTable('campaign_variants')
      .set({ template_version_id: versionId })
      .where('campaign_id', '=', campaignId)
      .where('position', '=', position)
      .execute();
  }
}

/**
 * Writes the test group and the holdout group to the send ledger in one
 * statement, when an A/B campaign starts. Contacts outside the holdout are
 * ranked per mailbox provider by a seeded draw; the first `test_share` of
 * each provider's contacts form the test group, dealt to the variants in
 * turn from a seeded offset per provider. So every variant gets nearly the
 * same share of each provider (at most one contact apart per provider), and
 * the same seed gives the same groups. Each test row waits (lease) until its
 * variant's send time; the claim of expired leases then sends it.
 */
export async function writeTestGroup(
  db: Db,
  input: {
    workspaceId: string;
    campaign: { id: string; holdout_share: number; random_seed: string };
    testShare: number;
    /** Send delay in minutes per variant position. */
    delays: number[];
    segments: AudienceSegments | undefined;
    messageIdDomain: string;
    startAt: Date;
    now: Date;
  },
): Promise<{ test: number; holdout: number }> {
  const { campaign } = input;
  const pool = audience(db, input.workspaceId, campaign.id, input.segments).select([
    'c.id',
    sql<string>`herald_mailbox_provider(c.email)`.as('provider'),
    sql<boolean>`${heldOut(campaign, sql.ref('c.id'))}`.as('held_out'),
    sql<number>`herald_unit_draw(${campaign.random_seed}, 'split', c.id)`.as('draw'),
  ]);
  const result = await sql<{ status: string; n: string }>`
    WITH pool AS (${pool}),
    ranked AS (
      SELECT id,
             row_number() OVER (PARTITION BY provider ORDER BY draw, id) - 1 AS rank,
             count(*) OVER (PARTITION BY provider) AS n,
             floor(herald_unit_draw(${campaign.random_seed}, 'stratum:' || provider,
                   '00000000-0000-0000-0000-000000000000') * ${input.delays.length})::int AS offset_
      FROM pool WHERE NOT held_out
    ),
    chosen AS (
      SELECT id, ((rank + offset_) % ${input.delays.length})::smallint AS variant
      FROM ranked WHERE rank < round(n * ${input.testShare}::numeric)
    ),
    written AS (
      INSERT INTO campaign_sends
        (campaign_id, contact_id, workspace_id, message_id, status, attempts, claimed_by, lease_until,
         created_at, variant)
      SELECT ${campaign.id}::uuid, id, ${input.workspaceId}::uuid,
             gen_random_uuid()::text || '@' || ${input.messageIdDomain}, 'queued', 0, NULL::text,
             ${input.startAt}::timestamptz + (${input.delays}::int[])[variant + 1] * interval '1 minute',
             ${input.now}::timestamptz, variant
      FROM chosen
      UNION ALL
      SELECT ${campaign.id}::uuid, id, ${input.workspaceId}::uuid,
             gen_random_uuid()::text || '@' || ${input.messageIdDomain}, 'holdout', 0, NULL::text,
             NULL::timestamptz, ${input.now}::timestamptz, NULL::smallint
      FROM pool WHERE held_out
      RETURNING status
    )
    SELECT status, count(*) AS n FROM written GROUP BY status`.execute(db);
  const count = (status: string) => Number(result.rows.find((r) => r.status === status)?.n ?? 0);
  return { test: count('queued'), holdout: count('holdout') };
}

/** The audience outside the holdout group, as of `now` (the count a campaign with a holdout sends to). */
export async function countTreatedAudience(
  db: Db,
  workspaceId: string,
  campaign: { id: string; holdout_share: number; random_seed: string | null },
  now: Date,
): Promise<number> {
  const segments = await audienceSegments(db, workspaceId, campaign.id, now);
  const row = await audience(db, workspaceId, campaign.id, segments)
    .where(sql<SqlBool>`NOT ${heldOut(campaign, sql.ref('c.id'))}`)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A/B tests whose window has ended and that have not been decided. */
export async function dueAbTests(
  db: Db,
  now: Date,
  limit: number,
): Promise<{ campaign_id: string; workspace_id: string }[]> {
  return db
    .selectFrom('campaign_ab_tests as t')
    .innerJoin('campaigns as c', 'c.id', 't.campaign_id')
    .select(['t.campaign_id', 't.workspace_id'])
    .where('t.phase', '=', 'testing')
    .where('c.status', '=', 'testing')
    .where('t.decide_at', '<=', now)
    .orderBy('t.decide_at')
    .limit(limit)
    .execute();
}

export interface VariantCounts {
  variant: number;
  /** Test recipients the variant was sent to. */
  sent: number;
  human_openers: number;
  human_clickers: number;
  /** Openers who also clicked (the click-to-open numerator; its denominator is human_openers). */
  human_open_clickers: number;
  converters: number;
  /** Revenue in the test's currency, summed per recipient, and the sum of squares of those sums. */
  revenue: number;
  revenue_squares: number;
}

/**
 * Per-variant outcomes of an A/B test's group: each recipient's behaviour is
 * counted within `window_minutes` of their own send, so a variant sent later
 * (a send-time variant) has had the same time as the others. Opens and
 * clicks are human (or image-proxy) ones from the analytics rollup's
 * first-seen table; conversions are any conversion of the recipient in the
 * window, attributed or not, so they count the same for every variant.
 */
export async function variantCounts(
  db: Db,
  test: {
    campaign_id: string;
    workspace_id: string;
    window_minutes: number;
    revenue_currency: string | null;
    metric: string;
  },
): Promise<VariantCounts[]> {
  const window = sql`${test.window_minutes} * interval '1 minute'`;
  // Conversions cost an index probe per recipient: only the metrics that need them pay it.
  const conversions = test.metric === 'conversions' || test.metric === 'revenue_per_recipient';
  const result = await sql<Record<keyof VariantCounts, string>>`
    WITH sent AS (
      SELECT s.contact_id, s.variant, s.finished_at FROM campaign_sends s
      WHERE s.campaign_id = ${test.campaign_id} AND s.workspace_id = ${test.workspace_id}
        AND s.status = 'sent' AND s.variant IS NOT NULL AND s.finished_at IS NOT NULL
        -- The test group was written when sending started; the remainder's rows come later.
        AND s.created_at <= (SELECT c.started_at FROM campaigns c WHERE c.id = ${test.campaign_id})
    ),
    per_recipient AS (
      SELECT sent.variant,
             r.first_human_open_at <= sent.finished_at + ${window} AS opened,
             r.first_human_click_at <= sent.finished_at + ${window} AS clicked,
             conv.n > 0 AS converted,
             coalesce(conv.revenue, 0) AS revenue
      FROM sent
      LEFT JOIN analytics_recipients r ON r.campaign_id = ${test.campaign_id} AND r.contact_id = sent.contact_id
      LEFT JOIN LATERAL (
        SELECT count(*) AS n,
               sum(cv.revenue) FILTER (WHERE cv.currency = ${test.revenue_currency}) AS revenue
        FROM conversions cv
        WHERE ${conversions}::boolean AND cv.workspace_id = ${test.workspace_id} AND cv.contact_id = sent.contact_id
          AND cv.occurred_at >= sent.finished_at AND cv.occurred_at <= sent.finished_at + ${window}
      ) conv ON true
    )
    SELECT variant,
           count(*) AS sent,
           count(*) FILTER (WHERE opened) AS human_openers,
           count(*) FILTER (WHERE clicked) AS human_clickers,
           count(*) FILTER (WHERE opened AND clicked) AS human_open_clickers,
           count(*) FILTER (WHERE converted) AS converters,
           sum(revenue) AS revenue,
           sum(revenue * revenue) AS revenue_squares
    FROM per_recipient GROUP BY variant ORDER BY variant`.execute(db);
  return result.rows.map((r) => ({
    variant: Number(r.variant),
    sent: Number(r.sent),
    human_openers: Number(r.human_openers),
    human_clickers: Number(r.human_clickers),
    human_open_clickers: Number(r.human_open_clickers),
    converters: Number(r.converters),
    revenue: Number(r.revenue ?? 0),
    revenue_squares: Number(r.revenue_squares ?? 0),
  }));
}

/** Test recipients not sent yet (queued), per variant: a report shows the test is still going out. */
export async function queuedTestRecipients(db: Db, campaignId: string): Promise<number> {
  const row = await db
    .selectFrom('campaign_sends')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'queued')
    .where('variant', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface GroupOutcome {
  group: 'treated' | 'holdout';
  contacts: number;
  converters: number;
  revenue: { currency: string; amount: string }[];
}

/**
 * Conversions of the treated recipients (sent) and of the holdout group in
 * the same window after the campaign started: any conversion counts, since
 * held-out contacts had no email to click.
 */
export async function holdoutOutcomes(
  db: Db,
  campaign: { id: string; workspace_id: string; started_at: Date },
  until: Date,
): Promise<GroupOutcome[]> {
  const result = await sql<{ grp: string; contacts: string; converters: string; revenue: unknown }>`
    WITH members AS (
      SELECT s.contact_id, CASE WHEN s.status = 'holdout' THEN 'holdout' ELSE 'treated' END AS grp
      FROM campaign_sends s
      WHERE s.campaign_id = ${campaign.id} AND s.workspace_id = ${campaign.workspace_id}
        AND s.status IN ('sent', 'holdout')
    ),
    converted AS (
      SELECT m.grp, m.contact_id, cv.currency, sum(cv.revenue) AS revenue
      FROM members m
      JOIN conversions cv ON cv.workspace_id = ${campaign.workspace_id} AND cv.contact_id = m.contact_id
        AND cv.occurred_at >= ${campaign.started_at} AND cv.occurred_at <= ${until}
      GROUP BY m.grp, m.contact_id, cv.currency
    )
    SELECT g.grp,
           (SELECT count(*) FROM members WHERE grp = g.grp) AS contacts,
           (SELECT count(DISTINCT contact_id) FROM converted WHERE grp = g.grp) AS converters,
           (SELECT coalesce(json_agg(json_build_object('currency', currency, 'amount', amount::text)
                                     ORDER BY currency), '[]'::json)
            FROM (SELECT currency, sum(revenue) AS amount FROM converted
                  WHERE grp = g.grp AND currency IS NOT NULL GROUP BY currency) per_currency) AS revenue
    FROM (VALUES ('treated'), ('holdout')) AS g(grp)`.execute(db);
  return result.rows.map((r) => ({
    group: r.grp as 'treated' | 'holdout',
    contacts: Number(r.contacts),
    converters: Number(r.converters),
    revenue: (typeof r.revenue === 'string' ? JSON.parse(r.revenue) : r.revenue) as GroupOutcome['revenue'],
  }));
}

/** The test group is written: the test is on. */
export async function startAbTest(db: Db, campaignId: string, testSize: number, now: Date): Promise<void> {
  await db
    .updateTable('campaign_ab_tests')
    .set({
      phase: 'testing',
      test_size: testSize,
      test_sent_at: null,
      decide_at: null,
      winner: null,
      decided_at: null,
      decided_by: null,
      decision: null,
      updated_at: now,
    })
    .where('campaign_id', '=', campaignId)
    .execute();
}

/**
 * The sender found nothing left to send. For an A/B campaign still testing,
 * that is the end of its test group: it waits in status 'testing' until the
 * window has passed for the last test recipient. Otherwise the campaign is
 * sent. Returns the campaign's new status, or undefined when another worker
 * got there first (or it is not sending any more).
 */
export async function finishSending(
  db: Db,
  campaignId: string,
  now: Date,
): Promise<{ status: 'sent' | 'testing'; campaign: Row<'campaigns'> } | undefined> {
  return db.transaction().execute(async (trx) => {
    const campaign = await trx
      .selectFrom('campaigns')
      .selectAll()
      .where('id', '=', campaignId)
      .forUpdate()
      .executeTakeFirst();
    if (campaign?.status !== 'sending') return undefined;
    const test = await abTestOf(trx, campaignId);
    if (test?.phase === 'testing' && campaign.remainder_variant === null) {
      const decideAt = new Date(now.getTime() + test.window_minutes * 60_000);
      await trx
        .updateTable('campaign_ab_tests')
        .set({ test_sent_at: now, decide_at: decideAt, updated_at: now })
        .where('campaign_id', '=', campaignId)
        .execute();
      const testing = await trx
        .updateTable('campaigns')
        .set({
          status: 'testing',
          status_reason: `test group sent; the winner is chosen at ${decideAt.toISOString()}`,
          updated_at: now,
        })
        .where('id', '=', campaignId)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { status: 'testing', campaign: testing };
    }
    const sent = await trx
      .updateTable('campaigns')
      .set({ status: 'sent', finished_at: now, status_reason: null, updated_at: now })
      .where('id', '=', campaignId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { status: 'sent', campaign: sent };
  });
}

/**
 * Records the winner and sends the remainder: the campaign goes back to
 * sending, with the winner as the variant of every new recipient and its
 * audience walked again from the start (test recipients are already in the
 * ledger and are passed over). Only from a test still undecided, so a manual
 * choice and the scheduled decision cannot both win.
 */
export async function recordWinner(
  db: Db,
  input: {
    campaignId: string;
    winner: number;
    decidedBy: 'test' | 'policy' | 'manual';
    decision: unknown;
    now: Date;
    reason: string;
  },
): Promise<boolean> {
  const decided = await db
    .updateTable('campaign_ab_tests')
    .set({
      phase: 'decided',
      winner: input.winner,
      decided_by: input.decidedBy,
      decided_at: input.now,
      decision: JSON.stringify(input.decision),
      updated_at: input.now,
    })
    .where('campaign_id', '=', input.campaignId)
    .where('phase', 'in', ['testing', 'waiting'])
    .executeTakeFirst();
  if (decided.numUpdatedRows === 0n) return false;
  await db
    .updateTable('campaigns')
    .set({
      status: 'sending',
      remainder_variant: input.winner,
      audience_cursor: null,
      audience_exhausted: false,
      status_reason: input.reason,
      updated_at: input.now,
    })
    .where('id', '=', input.campaignId)
    .where('status', '=', 'testing')
    .execute();
  return true;
}

/** An inconclusive test whose policy is to wait for a person: it stays in status testing. */
export async function recordWaiting(
  db: Db,
  input: { campaignId: string; decision: unknown; now: Date; reason: string },
): Promise<void> {
  await db
    .updateTable('campaign_ab_tests')
    .set({ phase: 'waiting', decision: JSON.stringify(input.decision), updated_at: input.now })
    .where('campaign_id', '=', input.campaignId)
    .where('phase', '=', 'testing')
    .execute();
  await db
    .updateTable('campaigns')
    .set({ status_reason: input.reason, updated_at: input.now })
    .where('id', '=', input.campaignId)
    .where('status', '=', 'testing')
    .execute();
}

/** The variant a contact's ledger row names (null without a test or a row). */
export async function variantSent(
  db: Db,
  workspaceId: string,
  campaignId: string,
  contactId: string,
): Promise<number | null> {
  const row = await db
    .selectFrom('campaign_sends')
    .select('variant')
    .where('workspace_id', '=', workspaceId)
    .where('campaign_id', '=', campaignId)
    .where('contact_id', '=', contactId)
    .executeTakeFirst();
  return row?.variant ?? null;
}
