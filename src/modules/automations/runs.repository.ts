import { sql } from 'kysely';
import type { AutomationRunStatus, Db, NewRow, Row } from '../../db/index.js';

export type RunRow = Row<'automation_runs'>;
export type StepRow = Row<'automation_step_executions'>;

/**
 * Serializes enrolments of one contact into one automation (advisory lock for
 * the transaction), so "once ever" and "again after N days" hold under
 * concurrent requests: the second waits, then sees the first's run.
 */
export async function lockEnrolment(db: Db, automationId: string, contactId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${automationId}:${contactId}`}, 0))`.execute(db);
}

/** The contact's newest run of the automation for this instance key, if any. */
export async function latestRun(
  db: Db,
  automationId: string,
  contactId: string,
  instanceKey: string,
): Promise<RunRow | undefined> {
  return db
    .selectFrom('automation_runs')
    .selectAll()
    .where('automation_id', '=', automationId)
    .where('contact_id', '=', contactId)
    .where('instance_key', '=', instanceKey)
    .orderBy('entered_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Inserts a run; undefined when an active run or the same trigger already holds its place. */
export async function insertRun(db: Db, row: NewRow<'automation_runs'>): Promise<RunRow | undefined> {
  return db
    .insertInto('automation_runs')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findRunByTrigger(
  db: Db,
  automationId: string,
  triggerId: string,
): Promise<RunRow | undefined> {
  return db
    .selectFrom('automation_runs')
    .selectAll()
    .where('automation_id', '=', automationId)
    .where('trigger_id', '=', triggerId)
    .executeTakeFirst();
}

export async function findRun(
  db: Db,
  workspaceId: string,
  automationId: string,
  runId: string,
): Promise<RunRow | undefined> {
  return db
    .selectFrom('automation_runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId)
    .where('id', '=', runId)
    .executeTakeFirst();
}

export async function listRuns(
  db: Db,
  workspaceId: string,
  automationId: string,
  page: { after: string | undefined; limit: number; status?: AutomationRunStatus | undefined },
): Promise<RunRow[]> {
  let query = db
    .selectFrom('automation_runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId);
  if (page.status) query = query.where('status', '=', page.status);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function stepsOf(db: Db, workspaceId: string, runId: string): Promise<StepRow[]> {
  return db
    .selectFrom('automation_step_executions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('run_id', '=', runId)
    .orderBy('step')
    .execute();
}

/**
 * Claims up to `limit` due runs of active automations: each claimed run's
 * next_run_at moves to `leaseUntil`, so other workers skip it (SKIP LOCKED
 * while this statement runs, the lease after). A worker that dies leaves the
 * lease to expire, and the run is claimed again where it was.
 */
export async function claimDue(db: Db, now: Date, leaseUntil: Date, limit: number): Promise<RunRow[]> {
  const result = await sql<RunRow>`
    UPDATE automation_runs AS r SET next_run_at = ${leaseUntil}
    WHERE r.id IN (
      SELECT d.id FROM automation_runs AS d
      JOIN automations AS a ON a.id = d.automation_id
      WHERE d.status = 'active' AND d.next_run_at <= ${now} AND a.status = 'active'
      ORDER BY d.next_run_at
      LIMIT ${limit}
      FOR UPDATE OF d SKIP LOCKED
    )
    RETURNING r.*`.execute(db);
  return result.rows;
}

/** Locks one run for a step's transaction. */
export async function lockRun(db: Db, runId: string): Promise<RunRow | undefined> {
  return db.selectFrom('automation_runs').selectAll().where('id', '=', runId).forUpdate().executeTakeFirst();
}

/** Writes step `step` of the run; false when it was written before (the step-execution key). */
export async function insertStep(db: Db, row: NewRow<'automation_step_executions'>): Promise<boolean> {
  const inserted = await db
    .insertInto('automation_step_executions')
    .values(row)
    .onConflict((oc) => oc.columns(['run_id', 'step']).doNothing())
    .returning('step')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function updateRun(
  db: Db,
  runId: string,
  changes: {
    node?: string;
    step?: number;
    status?: AutomationRunStatus;
    next_run_at?: Date | null;
    waiting?: string | null;
    exit_reason?: string | null;
    finished_at?: Date | null;
    updated_at: Date;
  },
): Promise<void> {
  await db.updateTable('automation_runs').set(changes).where('id', '=', runId).execute();
}

/** Ends every active run of an automation (archiving). */
export async function exitActiveRuns(
  db: Db,
  workspaceId: string,
  automationId: string,
  reason: string,
  now: Date,
): Promise<number> {
  const result = await db
    .updateTable('automation_runs')
    .set({
      status: 'exited',
      exit_reason: reason,
      finished_at: now,
      updated_at: now,
      next_run_at: null,
      waiting: null,
    })
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The version a run executes, with its definition and pinned templates. */
export async function versionOf(db: Db, automationId: string, version: number) {
  return db
    .selectFrom('automation_versions as v')
    .innerJoin('automations as a', 'a.id', 'v.automation_id')
    .select(['v.definition', 'v.resolved', 'a.name'])
    .where('v.automation_id', '=', automationId)
    .where('v.version', '=', version)
    .executeTakeFirst();
}
