import { type RawBuilder, type SqlBool, sql } from 'kysely';
import type { Db, Row } from '../../db/index.js';
import type { EngagementFigures } from './engagement-features.js';
import type { TrainedModel } from './engagement-model.js';
import { SCORE_HALF_LIFE_DAYS, SCORE_LOOKBACK_DAYS } from './engagement-score.js';
import { PROFILE_LOOKBACK_DAYS } from './send-time.js';

/**
 * SQL of the engagement module. It reads other modules' tables read-only
 * and set-based (the same deliberate exception as analytics and segments):
 * `contacts`, `tracking_hits`, `campaign_sends`, `messages` and
 * `conversions`, a page of contacts at a time through their contact
 * indexes (tracking_hits_contact, campaign_sends_contact, messages_contact,
 * conversions_contact), so memory and statement size stay flat however many
 * contacts a workspace has.
 */

const DAY_MS = 86_400_000;
const HUMAN = sql<SqlBool>`h.classification IN ('human', 'proxy')`;
/** Hour of the week in UTC, 0 = Monday 00:00 (ISO day of week 1). */
const hourOfWeek = (column: RawBuilder<unknown>) =>
  sql<number>`((extract(isodow FROM ${column} AT TIME ZONE 'UTC')::int - 1) * 24
    + extract(hour FROM ${column} AT TIME ZONE 'UTC')::int)`;

export type ContactEngagementRow = Row<'contact_engagement'>;
export type EngagementModelRow = Row<'engagement_models'>;

export async function workspaceIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('workspaces').select('id').orderBy('id').execute();
  return rows.map((r) => r.id);
}

/** The next page of the workspace's contact ids after `after`, in id order (contacts_workspace_id). */
export async function contactPage(
  db: Db,
  workspaceId: string,
  after: string | undefined,
  limit: number,
): Promise<string[]> {
  let query = db.selectFrom('contacts').select('id').where('workspace_id', '=', workspaceId);
  if (after) query = query.where('id', '>', after);
  const rows = await query.orderBy('id').limit(limit).execute();
  return rows.map((r) => r.id);
}

export interface FiguresRow extends EngagementFigures {
  contactId: string;
  /** Own human opens and clicks per hour of the week (PROFILE_LOOKBACK_DAYS before asOf); only when asked. */
  hourCounts: Record<string, number> | null;
  /** Training only: in the validation fifth; and the labels. */
  validation?: boolean;
  opened?: boolean;
  clicked?: boolean;
}

export interface RawFigures {
  id: string;
  created_at: Date;
  last_open_at: Date | null;
  last_click_at: Date | null;
  last_conversion_at: Date | null;
  opens_30d: string | null;
  opens_90d: string | null;
  clicks_30d: string | null;
  clicks_90d: string | null;
  received_30d: string | null;
  received_90d: string | null;
  conversions_365d: string | null;
  open_weight: number | null;
  click_weight: number | null;
  conversion_weight: number | null;
  hour_counts: Record<string, number> | null;
  validation: boolean | null;
  opened: boolean | null;
  clicked: boolean | null;
}

/**
 * How the figures of one page are read: as of `asOf`, for the contacts
 * `ids`. `hours` adds each contact's engagement hours. `labels` (training)
 * keeps only contacts created before asOf that were sent a marketing email
 * in [asOf, labels.until), samples them by `keep` (a seeded draw per contact,
 * 1 keeps all), marks the validation fifth, and says whether each opened or
 * clicked one of those emails (human hits up to `labels.now`).
 */
export interface FiguresQuery {
  workspaceId: string;
  ids: string[];
  asOf: Date;
  hours?: boolean;
  labels?: { until: Date; now: Date; keep: number; seed: string };
}

/**
 * One statement per page: first human open and click per email (the
 * score's and the counts' unit; last_open_at and last_click_at are the
 * latest such hits, re-opens included), marketing email received,
 * conversions, and optionally hours and labels. Each is a LATERAL subquery
 * per contact of the page, so every read is an index lookup by contact id
 * whatever the planner knows: with CTEs joined to the page, PGlite (no
 * autovacuum, so tables written in bulk have no statistics) chose plans
 * that took 20 s for a page of 800 contacts with 16 emails each (0.3 s
 * after ANALYZE); this shape takes about the analyzed time without
 * statistics. Decay is summed in SQL with engagement-score.ts's half-life:
 * 0.5 ^ (age / half-life).
 */
export async function readFigures(db: Db, q: FiguresQuery): Promise<FiguresRow[]> {
  if (q.ids.length === 0) return [];
  const result = await figuresSql(q).execute(db);
  return result.rows.map((r) => toFigures(r, q.labels !== undefined));
}

/** The statement readFigures runs (exported for EXPLAIN in tests and benchmarks). */
export function figuresSql(q: FiguresQuery): RawBuilder<RawFigures> {
  const ws = q.workspaceId;
  const asOf = q.asOf;
  const ago = (days: number) => new Date(asOf.getTime() - days * DAY_MS);
  const halfLifeSeconds = SCORE_HALF_LIFE_DAYS * 86_400;
  const decay = (column: RawBuilder<unknown>) =>
    sql`power(0.5::float8, (extract(epoch FROM (${asOf}::timestamptz - ${column})) / ${halfLifeSeconds})::float8)`;
  const labels = q.labels;
  /**
   * The contact's rows of a table, read by its contact index only: OFFSET 0 keeps the other
   * conditions out of the subquery, so the planner cannot pick an index on workspace_id or time
   * instead (without statistics it picked campaign_sends_finished and read every send of the last
   * 90 days for each contact).
   */
  const rowsOf = (table: 'tracking_hits' | 'campaign_sends' | 'messages' | 'conversions', alias: string) =>
    sql`(SELECT * FROM ${sql.table(table)} AS ${sql.id(`${alias}_`)}
      WHERE ${sql.ref(`${alias}_.contact_id`)} = p.id OFFSET 0) AS ${sql.id(alias)}`;
  /** A human hit of kind on one of the contact's emails sent in the label window, after the cutoff. */
  const labelHit = (
    kind: 'open' | 'click',
  ) => sql<SqlBool>`EXISTS (SELECT 1 FROM ${rowsOf('tracking_hits', 'h')}
      WHERE h.workspace_id = ${ws} AND h.kind = ${kind} AND ${HUMAN}
        AND h.occurred_at >= ${asOf} AND h.occurred_at < ${labels?.now ?? asOf}
        AND CASE WHEN w.campaign_id IS NOT NULL THEN h.campaign_id = w.campaign_id
                 ELSE h.campaign_id IS NULL AND h.message_id = w.message_id END)`;
  return sql<RawFigures>`
    SELECT p.id, p.created_at, e.last_open_at, e.last_click_at, v.last_conversion_at,
      e.opens_30d, e.opens_90d, e.clicks_30d, e.clicks_90d, r.received_30d, r.received_90d,
      v.conversions_365d, e.open_weight, e.click_weight, v.conversion_weight,
      ${q.hours ? sql`hr.hour_counts` : sql`NULL::jsonb AS hour_counts`},
      ${
        labels
          ? sql`herald_unit_draw(${labels.seed}, 'engagement-validation', p.id) < 0.2 AS validation,
      l.opened, l.clicked`
          : sql`NULL::boolean AS validation, NULL::boolean AS opened, NULL::boolean AS clicked`
      }
    FROM contacts AS p
    ${
      labels
        ? sql`CROSS JOIN LATERAL (
      SELECT bool_or(${labelHit('open')}) AS opened, bool_or(${labelHit('click')}) AS clicked, count(*) AS sent
      FROM (
        SELECT s.campaign_id, NULL::uuid AS message_id FROM ${rowsOf('campaign_sends', 's')}
        WHERE s.workspace_id = ${ws} AND s.status = 'sent'
          AND s.finished_at >= ${asOf} AND s.finished_at < ${labels.until}
        UNION ALL
        SELECT NULL::uuid, m.id FROM ${rowsOf('messages', 'm')}
        WHERE m.workspace_id = ${ws} AND m.status = 'sent'
          AND m.sent_at >= ${asOf} AND m.sent_at < ${labels.until}
          AND m.payload -> 'automation' ->> 'marketing' = 'true'
      ) AS w
    ) AS l`
        : sql``
    }
    CROSS JOIN LATERAL (
      SELECT
        max(f.last_at) FILTER (WHERE f.kind = 'open') AS last_open_at,
        max(f.last_at) FILTER (WHERE f.kind = 'click') AS last_click_at,
        count(*) FILTER (WHERE f.kind = 'open' AND f.at >= ${ago(30)}) AS opens_30d,
        count(*) FILTER (WHERE f.kind = 'open' AND f.at >= ${ago(90)}) AS opens_90d,
        count(*) FILTER (WHERE f.kind = 'click' AND f.at >= ${ago(30)}) AS clicks_30d,
        count(*) FILTER (WHERE f.kind = 'click' AND f.at >= ${ago(90)}) AS clicks_90d,
        sum(${decay(sql`f.at`)}) FILTER (WHERE f.kind = 'open') AS open_weight,
        sum(${decay(sql`f.at`)}) FILTER (WHERE f.kind = 'click') AS click_weight
      FROM (
        SELECT h.kind, min(h.occurred_at) AS at, max(h.occurred_at) AS last_at FROM ${rowsOf('tracking_hits', 'h')}
        WHERE h.workspace_id = ${ws} AND ${HUMAN}
          AND h.occurred_at < ${asOf} AND h.occurred_at >= ${ago(SCORE_LOOKBACK_DAYS)}
        GROUP BY h.kind, h.message_id
      ) AS f
    ) AS e
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE x.at >= ${ago(30)}) AS received_30d, count(*) AS received_90d
      FROM (
        SELECT s.finished_at AS at FROM ${rowsOf('campaign_sends', 's')}
        WHERE s.workspace_id = ${ws} AND s.status = 'sent'
          AND s.finished_at < ${asOf} AND s.finished_at >= ${ago(90)}
        UNION ALL
        SELECT m.sent_at FROM ${rowsOf('messages', 'm')}
        WHERE m.workspace_id = ${ws} AND m.status = 'sent'
          AND m.sent_at < ${asOf} AND m.sent_at >= ${ago(90)}
          AND m.payload -> 'automation' ->> 'marketing' = 'true'
      ) AS x
    ) AS r
    CROSS JOIN LATERAL (
      SELECT max(c.occurred_at) AS last_conversion_at, count(*) AS conversions_365d,
        sum(${decay(sql`c.occurred_at`)}) AS conversion_weight
      FROM ${rowsOf('conversions', 'c')}
      WHERE c.workspace_id = ${ws}
        AND c.occurred_at < ${asOf} AND c.occurred_at >= ${ago(SCORE_LOOKBACK_DAYS)}
    ) AS v
    ${
      q.hours
        ? sql`CROSS JOIN LATERAL (
      SELECT jsonb_object_agg(y.hour, y.n) AS hour_counts
      FROM (
        SELECT ${hourOfWeek(sql`h.occurred_at`)} AS hour, count(*) AS n FROM ${rowsOf('tracking_hits', 'h')}
        WHERE h.workspace_id = ${ws} AND ${HUMAN}
          AND h.occurred_at < ${asOf} AND h.occurred_at >= ${ago(PROFILE_LOOKBACK_DAYS)}
        GROUP BY 1
      ) AS y
    ) AS hr`
        : sql``
    }
    WHERE p.workspace_id = ${ws} AND p.id = ANY(${q.ids}::uuid[])
    ${
      labels
        ? sql`AND p.created_at < ${asOf}
      AND herald_unit_draw(${labels.seed}, 'engagement-sample', p.id) < ${labels.keep}
      AND l.sent > 0`
        : sql``
    }
    ORDER BY p.id`;
}

function toFigures(r: RawFigures, training: boolean): FiguresRow {
  const n = (value: string | null) => (value === null ? 0 : Number(value));
  return {
    contactId: r.id,
    createdAt: r.created_at,
    lastOpenAt: r.last_open_at,
    lastClickAt: r.last_click_at,
    lastConversionAt: r.last_conversion_at,
    opens30d: n(r.opens_30d),
    opens90d: n(r.opens_90d),
    clicks30d: n(r.clicks_30d),
    clicks90d: n(r.clicks_90d),
    received30d: n(r.received_30d),
    received90d: n(r.received_90d),
    conversions365d: n(r.conversions_365d),
    openWeight: r.open_weight ?? 0,
    clickWeight: r.click_weight ?? 0,
    conversionWeight: r.conversion_weight ?? 0,
    hourCounts: r.hour_counts,
    ...(training
      ? { validation: r.validation === true, opened: r.opened === true, clicked: r.clicked === true }
      : {}),
  };
}

/**
 * The workspace's human opens and clicks per hour of the week in the
 * PROFILE_LOOKBACK_DAYS before `asOf`: the population prior. One aggregate
 * over the workspace's hits (168 groups).
 */
export async function workspaceHourCounts(
  db: Db,
  workspaceId: string,
  asOf: Date,
): Promise<Record<string, number>> {
  const since = new Date(asOf.getTime() - PROFILE_LOOKBACK_DAYS * DAY_MS);
  const result = await sql<{ hour: number; n: string }>`
    SELECT ${hourOfWeek(sql`h.occurred_at`)} AS hour, count(*) AS n FROM tracking_hits AS h
    WHERE h.workspace_id = ${workspaceId} AND ${HUMAN} AND h.occurred_at < ${asOf} AND h.occurred_at >= ${since}
    GROUP BY 1`.execute(db);
  return Object.fromEntries(result.rows.map((r) => [String(r.hour), Number(r.n)]));
}

/**
 * Contacts that were sent a marketing email in [from, until): how many
 * training rows there can be (served by campaign_sends_finished and
 * messages_sent).
 */
export async function countSentBetween(
  db: Db,
  workspaceId: string,
  from: Date,
  until: Date,
): Promise<number> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM (
      SELECT s.contact_id FROM campaign_sends AS s
      WHERE s.workspace_id = ${workspaceId} AND s.status = 'sent' AND s.finished_at >= ${from} AND s.finished_at < ${until}
      UNION
      SELECT m.contact_id FROM messages AS m
      WHERE m.workspace_id = ${workspaceId} AND m.status = 'sent' AND m.sent_at >= ${from} AND m.sent_at < ${until}
        AND m.payload -> 'automation' ->> 'marketing' = 'true'
    ) AS x`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}

export interface EngagementWrite {
  contactId: string;
  score: number;
  pOpen: number | null;
  pClick: number | null;
  openModelId: string | null;
  clickModelId: string | null;
  bestHour: number | null;
  hourCounts: Record<string, number>;
  figures: EngagementFigures;
}

/** Writes one page of contact engagement in one statement (unnest of column arrays). */
export async function upsertEngagement(
  db: Db,
  workspaceId: string,
  rows: readonly EngagementWrite[],
  computedAt: Date,
): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(pick: (row: EngagementWrite) => T) => rows.map(pick);
  const later = (a: Date | null, b: Date | null) => (a && b ? (a > b ? a : b) : (a ?? b));
  await sql`
    INSERT INTO contact_engagement (workspace_id, contact_id, score, p_open, p_click, open_model_id, click_model_id,
      best_hour, hour_counts, last_open_at, last_click_at, last_engaged_at, last_conversion_at,
      opens_30d, opens_90d, clicks_30d, clicks_90d, received_30d, received_90d, conversions_365d, computed_at)
    SELECT ${workspaceId}, r.contact_id, r.score, r.p_open, r.p_click, r.open_model_id, r.click_model_id,
      r.best_hour, r.hour_counts::jsonb, r.last_open_at, r.last_click_at, r.last_engaged_at, r.last_conversion_at,
      r.opens_30d, r.opens_90d, r.clicks_30d, r.clicks_90d, r.received_30d, r.received_90d, r.conversions_365d,
      ${computedAt}
    FROM unnest(
      ${col((r) => r.contactId)}::uuid[],
      ${col((r) => r.score)}::float8[],
      ${col((r) => r.pOpen)}::float8[],
      ${col((r) => r.pClick)}::float8[],
      ${col((r) => r.openModelId)}::uuid[],
      ${col((r) => r.clickModelId)}::uuid[],
      ${col((r) => r.bestHour)}::smallint[],
      ${col((r) => JSON.stringify(r.hourCounts))}::text[],
      ${col((r) => r.figures.lastOpenAt)}::timestamptz[],
      ${col((r) => r.figures.lastClickAt)}::timestamptz[],
      ${col((r) => later(r.figures.lastOpenAt, r.figures.lastClickAt))}::timestamptz[],
      ${col((r) => r.figures.lastConversionAt)}::timestamptz[],
      ${col((r) => r.figures.opens30d)}::int[],
      ${col((r) => r.figures.opens90d)}::int[],
      ${col((r) => r.figures.clicks30d)}::int[],
      ${col((r) => r.figures.clicks90d)}::int[],
      ${col((r) => r.figures.received30d)}::int[],
      ${col((r) => r.figures.received90d)}::int[],
      ${col((r) => r.figures.conversions365d)}::int[]
    ) AS r(contact_id, score, p_open, p_click, open_model_id, click_model_id, best_hour, hour_counts,
      last_open_at, last_click_at, last_engaged_at, last_conversion_at,
      opens_30d, opens_90d, clicks_30d, clicks_90d, received_30d, received_90d, conversions_365d)
    -- A contact deleted since its page was read is left out rather than failing the page.
    WHERE EXISTS (SELECT 1 FROM contacts AS c WHERE c.id = r.contact_id AND c.workspace_id = ${workspaceId})
    ON CONFLICT (workspace_id, contact_id) DO UPDATE SET
      score = excluded.score, p_open = excluded.p_open, p_click = excluded.p_click,
      open_model_id = excluded.open_model_id, click_model_id = excluded.click_model_id,
      best_hour = excluded.best_hour, hour_counts = excluded.hour_counts,
      last_open_at = excluded.last_open_at, last_click_at = excluded.last_click_at,
      last_engaged_at = excluded.last_engaged_at, last_conversion_at = excluded.last_conversion_at,
      opens_30d = excluded.opens_30d, opens_90d = excluded.opens_90d,
      clicks_30d = excluded.clicks_30d, clicks_90d = excluded.clicks_90d,
      received_30d = excluded.received_30d, received_90d = excluded.received_90d,
      conversions_365d = excluded.conversions_365d, computed_at = excluded.computed_at`.execute(db);
}

export async function saveWorkspaceProfile(
  db: Db,
  row: {
    workspaceId: string;
    hourCounts: Record<string, number>;
    bestHour: number | null;
    contacts: number;
    refreshedAt: Date;
  },
): Promise<void> {
  await db
    .insertInto('workspace_engagement')
    .values({
      workspace_id: row.workspaceId,
      hour_counts: JSON.stringify(row.hourCounts),
      best_hour: row.bestHour,
      contacts: row.contacts,
      refreshed_at: row.refreshedAt,
    })
    .onConflict((oc) =>
      oc.column('workspace_id').doUpdateSet({
        hour_counts: JSON.stringify(row.hourCounts),
        best_hour: row.bestHour,
        contacts: row.contacts,
        refreshed_at: row.refreshedAt,
      }),
    )
    .execute();
}

export async function workspaceProfile(db: Db, workspaceId: string) {
  return db
    .selectFrom('workspace_engagement')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

/** Stored engagement of some contacts of the workspace. */
export async function engagementOf(
  db: Db,
  workspaceId: string,
  contactIds: readonly string[],
): Promise<ContactEngagementRow[]> {
  if (contactIds.length === 0) return [];
  return db
    .selectFrom('contact_engagement')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('contact_id', 'in', [...contactIds])
    .execute();
}

/** The latest trained model of a kind, the one scoring uses. */
export async function latestModel(
  db: Db,
  workspaceId: string,
  kind: 'open' | 'click',
): Promise<EngagementModelRow | undefined> {
  return db
    .selectFrom('engagement_models')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', kind)
    .where('status', '=', 'trained')
    .orderBy('trained_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The latest attempt of a kind, trained or refused. */
export async function latestAttempt(
  db: Db,
  workspaceId: string,
  kind: 'open' | 'click',
): Promise<EngagementModelRow | undefined> {
  return db
    .selectFrom('engagement_models')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', kind)
    .orderBy('trained_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function insertModel(
  db: Db,
  row: {
    id: string;
    workspaceId: string;
    kind: 'open' | 'click';
    cutoff: Date;
    horizonDays: number;
    trainedAt: Date;
  } & ({ model: TrainedModel } | { refused: { reason: string; rows: number } }),
): Promise<EngagementModelRow> {
  const base = {
    id: row.id,
    workspace_id: row.workspaceId,
    kind: row.kind,
    cutoff: row.cutoff,
    horizon_days: row.horizonDays,
    trained_at: row.trainedAt,
  };
  const values =
    'model' in row
      ? {
          ...base,
          status: 'trained' as const,
          reason: null,
          features: row.model.features,
          intercept: row.model.intercept,
          weights: row.model.weights,
          training_rows: row.model.trainingRows,
          validation_rows: row.model.validationRows,
          training_positives: row.model.trainingPositives,
          validation_positives: row.model.validationPositives,
          validation_auc: row.model.validationAuc,
          baseline_auc: row.model.baselineAuc,
          brier: row.model.brier,
          log_loss: row.model.logLoss,
          calibration: JSON.stringify(row.model.calibration),
        }
      : {
          ...base,
          status: 'refused' as const,
          reason: row.refused.reason,
          training_rows: row.refused.rows,
          validation_rows: 0,
        };
  return db.insertInto('engagement_models').values(values).returningAll().executeTakeFirstOrThrow();
}

/**
 * A condition on the contact `c` (a contacts row): its predicted probability
 * to open the next marketing email is below `threshold`. Contacts without a
 * prediction do not match. For the sunset policy's predictive rule.
 */
export function predictedOpenBelow(workspaceId: string, threshold: number): RawBuilder<SqlBool> {
  return sql<SqlBool>`EXISTS (
    SELECT 1 FROM contact_engagement AS e
    WHERE e.workspace_id = ${workspaceId} AND e.contact_id = c.id AND e.p_open < ${threshold}::float8)`;
}
