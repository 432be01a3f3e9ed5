import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../../db/index.js';

/**
 * SQL of the automation report. Like the analytics read model it reads other
 * modules' tables (messages, tracking_hits, conversions) in set-based
 * statements; going through their services email by email would cost a
 * round trip per email.
 *
 * Every statement starts from the automation's runs in the report's window
 * (`scopedRuns`) and reaches the rest through keys:
 * - runs: `automation_runs_list` (workspace_id, automation_id, id), one range
 *   scan; a `from` narrows it by id (UUIDv7 of the enrolment instant).
 * - steps: the step-execution key (run_id, step), one probe per run.
 * - emails: messages' primary key, one probe per email.
 * - hits: `tracking_hits_message` (0019, partial: not campaign hits).
 * - conversions: `conversions_click` (0019, partial likewise).
 * What that costs, measured on PostgreSQL 15 with one automation of 100k
 * runs (455k step executions, 190k emails, 115k of their hits, 4k
 * conversions) in a workspace that also holds another automation's 50k runs
 * and 1M campaign hits, on 2 cores shared with a load of about 7 (so
 * roughly halve these on an idle machine): runs 0.07 s; nodes 1.8 s (the
 * join's 455k narrow rows sorted once for the distinct counts); emails
 * 1.7 s (190k primary-key probes of messages and of tracking_hits_message);
 * conversions 1.1 s; the whole report 4.3 s with the statements running
 * concurrently on the pool, 1.1 s for a window of the last 10k runs. On the
 * embedded database the statements queue on its one connection. The cost
 * grows with the runs in the window, plus one sequential pass over the
 * workspace's step executions when the planner prefers a hash join to 100k
 * probes. Per-node counters kept by a rollup (as campaign reports have)
 * would make it constant; until then this is a report to open, not to poll.
 */

export interface ReportScope {
  workspaceId: string;
  automationId: string;
  /** entered_at >= from */
  from?: Date | undefined;
  /**
   * The smallest UUIDv7 of `from`'s millisecond: a run's id is taken at the
   * instant it entered (never earlier: the generator only moves forward), so
   * every run entered from `from` on has an id at or after it, and the index
   * range can start there.
   */
  fromId?: string | undefined;
  /** entered_at < to */
  to?: Date | undefined;
}

/** The automation's runs in the window: the first CTE of every report statement. */
function scopedRuns(scope: ReportScope): RawBuilder<unknown> {
  return sql`
    SELECT id, version, status, step, node, exit_reason FROM automation_runs
    WHERE workspace_id = ${scope.workspaceId}::uuid AND automation_id = ${scope.automationId}::uuid
      ${scope.fromId ? sql`AND id >= ${scope.fromId}::uuid` : sql``}
      ${scope.from ? sql`AND entered_at >= ${scope.from}` : sql``}
      ${scope.to ? sql`AND entered_at < ${scope.to}` : sql``}`;
}

/** The emails of those runs: one row per send_email step, with the message it accepted. */
function scopedEmails(scope: ReportScope): RawBuilder<unknown> {
  return sql`
    SELECT r.id AS run_id, r.version, s.node_id, (s.outcome->>'message_id')::uuid AS message_id
    FROM r JOIN automation_step_executions s ON s.run_id = r.id
    WHERE s.workspace_id = ${scope.workspaceId}::uuid AND s.outcome ? 'message_id'`;
}

/** "People" in every report: hits classified human or proxy (as the analytics rollup counts them). */
const HUMAN = sql`h.classification IN ('human', 'proxy')`;

export interface RunGroupRow {
  version: number;
  node: string;
  status: string;
  not_started: boolean;
  goal: boolean;
  /** Put in the holdout group at enrolment (exited, reason holdout): it executed nothing. */
  held_out: boolean;
  runs: string;
}

/**
 * Runs per version, node they are due at, status, whether they have executed
 * anything yet and whether they completed at the goal. A few dozen rows.
 */
export async function runGroups(db: Db, scope: ReportScope): Promise<RunGroupRow[]> {
  const result = await sql<RunGroupRow>`
    WITH r AS (${scopedRuns(scope)})
    SELECT version, node, status, step = 0 AS not_started,
           coalesce(status = 'completed' AND exit_reason = 'goal', false) AS goal,
           coalesce(status = 'exited' AND exit_reason = 'holdout', false) AS held_out, count(*) AS runs
    FROM r GROUP BY 1, 2, 3, 4, 5, 6`.execute(db);
  return result.rows;
}

export interface NodeStepRow {
  version: number;
  node_id: string;
  /** null on the per-node rows; else the branch index or 'else' (branch), the path index (random_split). */
  way: string | null;
  executions: string;
  entered: string;
  waiting: string;
  completed: string;
  exited: string;
  failed: string;
  goal_reached: string;
}

/**
 * Per version and node, what its runs did there. A run is *in* the node of
 * its last step (r.step is the number of its last step): active there, it
 * waits in it; ended there, it completed, exited or failed in it. Every
 * earlier execution is one it moved on from. Runs are counted once per node
 * (a loop passes a node more than once). The second grouping set counts
 * executions per branch or path taken. The join's rows are kept narrow (no
 * outcome) because the distinct counts sort them once.
 */
export async function nodeSteps(db: Db, scope: ReportScope): Promise<NodeStepRow[]> {
  const result = await sql<NodeStepRow & { per_node: number }>`
    WITH r AS (${scopedRuns(scope)}),
    s AS (
      SELECT s.run_id, s.step, s.node_id, r.version, r.status, r.step AS last_step,
             coalesce(s.outcome->>'branch', s.outcome->>'path') AS way,
             coalesce(s.outcome->>'goal' = 'true', false) AS goal
      FROM r JOIN automation_step_executions s ON s.run_id = r.id
      WHERE s.workspace_id = ${scope.workspaceId}::uuid
    )
    SELECT version, node_id, way, GROUPING(way) AS per_node,
           count(*) AS executions,
           count(DISTINCT run_id) AS entered,
           count(DISTINCT run_id) FILTER (WHERE step = last_step AND status = 'active') AS waiting,
           count(DISTINCT run_id) FILTER (WHERE step < last_step OR status = 'completed') AS completed,
           count(DISTINCT run_id) FILTER (WHERE step = last_step AND status = 'exited') AS exited,
           count(DISTINCT run_id) FILTER (WHERE step = last_step AND status = 'failed') AS failed,
           count(DISTINCT run_id) FILTER (WHERE goal) AS goal_reached
    FROM s
    GROUP BY GROUPING SETS ((version, node_id), (version, node_id, way))`.execute(db);
  // Of the per-way grouping set only the rows of branch and split executions mean something.
  return result.rows.flatMap(({ per_node, ...row }) =>
    per_node ? [{ ...row, way: null }] : row.way === null ? [] : [row],
  );
}

export interface NodeEmailRow {
  version: number;
  node_id: string;
  sent: string;
  failed: string;
  queued: string;
  opens: string;
  human_opens: string;
  unique_opens: string;
  human_unique_opens: string;
  clicks: string;
  human_clicks: string;
  unique_clicks: string;
  human_unique_clicks: string;
}

/**
 * Per version and send_email node: its emails by status, and their opens and
 * clicks. Totals count hits; unique counts count emails with at least one
 * hit (in a campaign each contact gets one email, so there it is the same as
 * counting contacts). An email whose contact was erased is gone with its
 * message and hits.
 */
export async function nodeEmails(db: Db, scope: ReportScope): Promise<NodeEmailRow[]> {
  const result = await sql<NodeEmailRow>`
    WITH r AS (${scopedRuns(scope)}),
    e AS (${scopedEmails(scope)})
    SELECT e.version, e.node_id,
           count(*) FILTER (WHERE m.status = 'sent') AS sent,
           count(*) FILTER (WHERE m.status = 'failed') AS failed,
           count(*) FILTER (WHERE m.status = 'queued') AS queued,
           coalesce(sum(p.opens), 0) AS opens,
           coalesce(sum(p.human_opens), 0) AS human_opens,
           count(*) FILTER (WHERE p.opens > 0) AS unique_opens,
           count(*) FILTER (WHERE p.human_opens > 0) AS human_unique_opens,
           coalesce(sum(p.clicks), 0) AS clicks,
           coalesce(sum(p.human_clicks), 0) AS human_clicks,
           count(*) FILTER (WHERE p.clicks > 0) AS unique_clicks,
           count(*) FILTER (WHERE p.human_clicks > 0) AS human_unique_clicks
    FROM e
    JOIN messages m ON m.id = e.message_id AND m.workspace_id = ${scope.workspaceId}::uuid
    -- One probe of tracking_hits_message per email.
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE h.kind = 'open') AS opens,
             count(*) FILTER (WHERE h.kind = 'open' AND ${HUMAN}) AS human_opens,
             count(*) FILTER (WHERE h.kind = 'click') AS clicks,
             count(*) FILTER (WHERE h.kind = 'click' AND ${HUMAN}) AS human_clicks
      FROM tracking_hits h
      WHERE h.message_id = e.message_id AND h.campaign_id IS NULL AND h.workspace_id = ${scope.workspaceId}::uuid
    ) AS p
    GROUP BY e.version, e.node_id`.execute(db);
  return result.rows;
}

export interface ConversionRow {
  /** null on the rows that sum over nodes. */
  node_id: string | null;
  /** '' for conversions without revenue; null on the rows that sum over currencies. */
  currency: string | null;
  conversions: string;
  /** Exact decimal sum, as text. */
  revenue: string;
  converting_runs: string;
}

/**
 * Conversions attributed to the runs' emails: those whose click (click_id,
 * set by the analytics attribution: the click named in the request, else the
 * contact's last human click in the window) is a click on one of them.
 * Grouped per node and currency, per node, per currency and in all, so that
 * distinct converting runs and decimal sums are never added up outside SQL.
 */
export async function conversions(db: Db, scope: ReportScope): Promise<ConversionRow[]> {
  const result = await sql<ConversionRow & { all_nodes: number; all_currencies: number }>`
    WITH r AS (${scopedRuns(scope)}),
    e AS (${scopedEmails(scope)})
    SELECT e.node_id, coalesce(c.currency, '') AS currency,
           GROUPING(e.node_id) AS all_nodes, GROUPING(coalesce(c.currency, '')) AS all_currencies,
           count(*) AS conversions, coalesce(sum(c.revenue), 0)::text AS revenue,
           count(DISTINCT e.run_id) AS converting_runs
    FROM e
    JOIN tracking_hits h ON h.message_id = e.message_id AND h.campaign_id IS NULL
      AND h.workspace_id = ${scope.workspaceId}::uuid AND h.kind = 'click'
    JOIN conversions c ON c.click_id = h.id AND c.click_id IS NOT NULL AND c.campaign_id IS NULL
      AND c.workspace_id = ${scope.workspaceId}::uuid
    GROUP BY GROUPING SETS ((e.node_id, coalesce(c.currency, '')), (e.node_id), (coalesce(c.currency, '')), ())`.execute(
    db,
  );
  return result.rows.map(({ all_nodes, all_currencies, ...row }) => ({
    ...row,
    node_id: all_nodes ? null : row.node_id,
    currency: all_currencies ? null : row.currency,
  }));
}

export interface VersionDefinitionRow {
  version: number;
  definition: unknown;
}

/** Every published version's definition (an automation has a handful). */
export async function versionDefinitions(
  db: Db,
  workspaceId: string,
  automationId: string,
): Promise<VersionDefinitionRow[]> {
  return db
    .selectFrom('automation_versions')
    .select(['version', 'definition'])
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId)
    .orderBy('version')
    .execute();
}
