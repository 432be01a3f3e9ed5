import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../../db/index.js';
import type { BanditMetric, ChosenBy } from './automation-experiments.js';

/**
 * SQL of bandit splits and holdout groups (migration 0029). Like the
 * automation report it reads other modules' tables (messages, tracking_hits,
 * conversions) set-based; the table automation_bandit_assignments is
 * written here only, and so is typed here rather than in db/schema.ts.
 *
 * When a bandit outcome is known, and what is a success:
 * - opened / clicked: the outcome is about the run's first email after the
 *   split (its first send_email step after the split's step). Success: an
 *   open / click of that email by a person (classification human or proxy,
 *   as every report counts people; prefetch, scanner and bot never count)
 *   within window_hours of its sending. Failure: none by then. An email that
 *   failed (or was erased with its contact), or a run that ended without
 *   one, is never a trial (outcome none).
 * - converted: a conversion of the contact within window_hours of the
 *   choice (a path need not send an email, so the clock starts there).
 * A failure is settled a minute after the window, so hits that were still
 * in a tracking writer's buffer (flushed every second or so) count.
 */

export interface AssignmentKey {
  workspaceId: string;
  automationId: string;
  nodeId: string;
  metric: BanditMetric;
}

export interface Assignment {
  path: number;
  chosen_by: ChosenBy;
}

/** The path a run took at a node, if it chose already. Primary-key probe. */
export async function findAssignment(db: Db, runId: string, nodeId: string): Promise<Assignment | undefined> {
  const result = await sql<Assignment>`
    SELECT path, chosen_by FROM automation_bandit_assignments
    WHERE run_id = ${runId}::uuid AND node_id = ${nodeId}`.execute(db);
  return result.rows[0];
}

export interface NewAssignment {
  run_id: string;
  node_id: string;
  workspace_id: string;
  automation_id: string;
  contact_id: string;
  path: number;
  step: number;
  metric: BanditMetric;
  window_hours: number;
  chosen_by: ChosenBy;
  chosen_at: Date;
}

/**
 * Records a run's choice; when another worker recorded one first (the same
 * step executed twice at once), returns that one, so both take one path.
 */
export async function recordAssignment(db: Db, row: NewAssignment): Promise<Assignment> {
  const inserted = await sql<Assignment>`
    INSERT INTO automation_bandit_assignments
      (run_id, node_id, workspace_id, automation_id, contact_id, path, step, metric, window_hours, chosen_by, chosen_at)
    VALUES (${row.run_id}::uuid, ${row.node_id}, ${row.workspace_id}::uuid, ${row.automation_id}::uuid,
            ${row.contact_id}::uuid, ${row.path}, ${row.step}, ${row.metric}, ${row.window_hours},
            ${row.chosen_by}, ${row.chosen_at})
    ON CONFLICT (run_id, node_id) DO NOTHING
    RETURNING path, chosen_by`.execute(db);
  const first = inserted.rows[0] ?? (await findAssignment(db, row.run_id, row.node_id));
  if (!first) throw new Error('bandit assignment neither inserted nor found');
  return first;
}

const HUMAN = sql`h.classification IN ('human', 'proxy')`;
const windowOf = (alias: string) => sql.raw(`make_interval(hours => ${alias}.window_hours)`);

/**
 * The outcome of each row of `pending` (columns of automation_bandit_assignments)
 * as of `now`: 'success', 'failure', 'none', or NULL while not known, with the
 * message it is about. One probe each of the step-execution key, messages'
 * primary key and tracking_hits_message (or conversions_contact).
 */
function judged(pending: RawBuilder<unknown>, now: Date): RawBuilder<unknown> {
  return sql`
    SELECT p.run_id, p.node_id, e.message_id,
      CASE
        WHEN p.metric = 'converted' THEN
          CASE
            WHEN EXISTS (
              SELECT 1 FROM conversions c
              WHERE c.contact_id = p.contact_id AND c.workspace_id = p.workspace_id
                AND c.occurred_at >= p.chosen_at AND c.occurred_at < p.chosen_at + ${windowOf('p')}
            ) THEN 'success'
            WHEN p.chosen_at + ${windowOf('p')} + interval '1 minute' <= ${now} THEN 'failure'
          END
        WHEN e.message_id IS NULL THEN CASE WHEN r.status IS DISTINCT FROM 'active' THEN 'none' END
        WHEN m.id IS NULL OR m.status = 'failed' THEN 'none'
        WHEN m.sent_at IS NULL THEN NULL
        WHEN EXISTS (
          SELECT 1 FROM tracking_hits h
          WHERE h.message_id = e.message_id AND h.campaign_id IS NULL AND h.workspace_id = p.workspace_id
            AND h.kind = CASE p.metric WHEN 'opened' THEN 'open' ELSE 'click' END AND ${HUMAN}
            AND h.occurred_at < m.sent_at + ${windowOf('p')}
        ) THEN 'success'
        WHEN m.sent_at + ${windowOf('p')} + interval '1 minute' <= ${now} THEN 'failure'
      END AS outcome
    FROM (${pending}) AS p
    LEFT JOIN automation_runs r ON r.id = p.run_id
    LEFT JOIN LATERAL (
      SELECT (s.outcome->>'message_id')::uuid AS message_id
      FROM automation_step_executions s
      WHERE p.metric <> 'converted' AND s.run_id = p.run_id AND s.step > p.step AND s.outcome ? 'message_id'
      ORDER BY s.step
      LIMIT 1
    ) AS e ON true
    LEFT JOIN messages m ON m.id = e.message_id AND m.workspace_id = p.workspace_id`;
}

/**
 * Writes the outcomes that became known, for the rows of one node and metric
 * whose outcome was not known yet (at most `limit`, oldest first; rows a
 * concurrent settle holds are skipped). Returns how many it settled.
 */
export async function settleOutcomes(db: Db, key: AssignmentKey, now: Date, limit = 10_000): Promise<number> {
  const result = await sql`
    WITH locked AS (
      SELECT run_id, node_id, workspace_id, contact_id, step, metric, window_hours, chosen_at
      FROM automation_bandit_assignments
      WHERE automation_id = ${key.automationId}::uuid AND node_id = ${key.nodeId} AND outcome IS NULL
        AND workspace_id = ${key.workspaceId}::uuid AND metric = ${key.metric}
      ORDER BY chosen_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ),
    j AS (${judged(sql`SELECT * FROM locked`, now)})
    UPDATE automation_bandit_assignments AS a
    SET outcome = j.outcome, message_id = j.message_id, settled_at = ${now}
    FROM j
    WHERE a.run_id = j.run_id AND a.node_id = j.node_id AND j.outcome IS NOT NULL`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface ArmRow {
  path: number;
  runs: number;
  trials: number;
  successes: number;
}

/**
 * Runs, trials (known outcomes) and successes per path of one node and
 * metric. `judgePending`: also judge the rows not settled yet, read-only, as
 * settling would now (the report); without it only settled rows count (the
 * engine, which settles first).
 */
export async function armCounts(
  db: Db,
  key: AssignmentKey,
  now: Date,
  options: { judgePending: boolean },
): Promise<ArmRow[]> {
  const rows = sql`
    SELECT run_id, node_id, workspace_id, contact_id, step, metric, window_hours, chosen_at, path, outcome
    FROM automation_bandit_assignments
    WHERE workspace_id = ${key.workspaceId}::uuid AND automation_id = ${key.automationId}::uuid
      AND node_id = ${key.nodeId} AND metric = ${key.metric}`;
  const result = options.judgePending
    ? await sql<ArmRow>`
        WITH a AS (${rows}),
        j AS (${judged(sql`SELECT * FROM a WHERE outcome IS NULL`, now)})
        SELECT a.path, count(*)::int AS runs,
               count(*) FILTER (WHERE coalesce(a.outcome, j.outcome) IN ('success', 'failure'))::int AS trials,
               count(*) FILTER (WHERE coalesce(a.outcome, j.outcome) = 'success')::int AS successes
        FROM a LEFT JOIN j ON j.run_id = a.run_id
        GROUP BY a.path ORDER BY a.path`.execute(db)
    : await sql<ArmRow>`
        SELECT path, count(*)::int AS runs,
               count(*) FILTER (WHERE outcome IN ('success', 'failure'))::int AS trials,
               count(*) FILTER (WHERE outcome = 'success')::int AS successes
        FROM automation_bandit_assignments
        WHERE workspace_id = ${key.workspaceId}::uuid AND automation_id = ${key.automationId}::uuid
          AND node_id = ${key.nodeId} AND metric = ${key.metric}
        GROUP BY path ORDER BY path`.execute(db);
  return result.rows.map((r) => ({
    path: Number(r.path),
    runs: Number(r.runs),
    trials: Number(r.trials),
    successes: Number(r.successes),
  }));
}

export interface HoldoutScope {
  workspaceId: string;
  automationId: string;
  from?: Date | undefined;
  fromId?: string | undefined;
  to?: Date | undefined;
  windowHours: number;
  now: Date;
}

export interface GroupOutcome {
  group: 'treated' | 'holdout';
  contacts: number;
  converters: number;
  /** Exact decimal sums per currency, as text. */
  revenue: { currency: string; amount: string }[];
}

/**
 * Treated and held-out contacts and their conversions. Each contact counts
 * once, in the group of its first run entered in the scope, with the
 * conversions from that run's enrolment for `windowHours` (up to now): with
 * once_at_a_time entry a held-out contact enters again at every trigger
 * while a treated one is inside, so counting every run would give the
 * held-out contacts longer windows. Runs through automation_runs_list, the
 * first run per contact by a sort of those runs, conversions through
 * conversions_contact.
 */
export async function holdoutOutcomes(db: Db, scope: HoldoutScope): Promise<GroupOutcome[]> {
  const window = sql.raw(`make_interval(hours => ${Math.trunc(scope.windowHours)})`);
  const result = await sql<{ grp: string; contacts: string; converters: string; revenue: unknown }>`
    WITH members AS (
      SELECT DISTINCT ON (contact_id) contact_id, entered_at,
             CASE WHEN status = 'exited' AND exit_reason = 'holdout' THEN 'holdout' ELSE 'treated' END AS grp
      FROM automation_runs
      WHERE workspace_id = ${scope.workspaceId}::uuid AND automation_id = ${scope.automationId}::uuid
        ${scope.fromId ? sql`AND id >= ${scope.fromId}::uuid` : sql``}
        ${scope.from ? sql`AND entered_at >= ${scope.from}` : sql``}
        ${scope.to ? sql`AND entered_at < ${scope.to}` : sql``}
      ORDER BY contact_id, entered_at, id
    ),
    converted AS (
      SELECT m.grp, m.contact_id, cv.currency, sum(cv.revenue) AS revenue
      FROM members m
      JOIN conversions cv ON cv.contact_id = m.contact_id AND cv.workspace_id = ${scope.workspaceId}::uuid
        AND cv.occurred_at >= m.entered_at AND cv.occurred_at < m.entered_at + ${window}
        AND cv.occurred_at <= ${scope.now}
      GROUP BY m.grp, m.contact_id, cv.currency
    )
    SELECT g.grp,
           (SELECT count(*) FROM members WHERE grp = g.grp) AS contacts,
           (SELECT count(DISTINCT contact_id) FROM converted WHERE grp = g.grp) AS converters,
           (SELECT coalesce(json_agg(json_build_object('currency', currency, 'amount', amount::text)
                                     ORDER BY currency), '[]'::json)
            FROM (SELECT currency, sum(revenue) AS amount FROM converted
                  WHERE grp = g.grp AND currency IS NOT NULL GROUP BY currency) AS per_currency) AS revenue
    FROM (VALUES ('treated'), ('holdout')) AS g(grp)`.execute(db);
  return result.rows.map((r) => ({
    group: r.grp as GroupOutcome['group'],
    contacts: Number(r.contacts),
    converters: Number(r.converters),
    revenue: (typeof r.revenue === 'string' ? JSON.parse(r.revenue) : r.revenue) as GroupOutcome['revenue'],
  }));
}
