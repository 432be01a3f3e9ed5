import { sql } from 'kysely';
import type { Db, Row } from '../db/index.js';

export type JobRow = Row<'jobs'>;

export interface NewJob {
  task: string;
  payload: unknown;
  workspaceId: string | null;
  runAt: Date;
  maxAttempts: number;
  idempotencyKey: string | null;
}

/**
 * Inserts a job; with an idempotency key, a second enqueue of the same
 * (task, key) returns the existing job instead of adding another.
 */
export async function insertJob(db: Db, job: NewJob, now: Date): Promise<{ id: string; created: boolean }> {
  const inserted = await db
    .insertInto('jobs')
    .values({
      task: job.task,
      payload: JSON.stringify(job.payload ?? {}),
      workspace_id: job.workspaceId,
      run_at: job.runAt,
      max_attempts: job.maxAttempts,
      idempotency_key: job.idempotencyKey,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) =>
      oc.columns(['task', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
    )
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { id: String(inserted.id), created: true };
  const existing = await db
    .selectFrom('jobs')
    .select('id')
    .where('task', '=', job.task)
    .where('idempotency_key', '=', job.idempotencyKey)
    .executeTakeFirstOrThrow();
  return { id: String(existing.id), created: false };
}

/** Inserts many jobs in one statement; those whose (task, idempotency key) exists are left out. Returns how many were added. */
export async function insertJobs(db: Db, jobs: NewJob[], now: Date): Promise<number> {
  if (jobs.length === 0) return 0;
  const inserted = await db
    .insertInto('jobs')
    .values(
      jobs.map((job) => ({
        task: job.task,
        payload: JSON.stringify(job.payload ?? {}),
        workspace_id: job.workspaceId,
        run_at: job.runAt,
        max_attempts: job.maxAttempts,
        idempotency_key: job.idempotencyKey,
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['task', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
    )
    .returning('id')
    .execute();
  return inserted.length;
}

/**
 * Claims up to `limit` due jobs. Queued jobs and running jobs whose lease has
 * expired (their worker died) are both eligible; SKIP LOCKED lets any number
 * of workers claim disjoint jobs without waiting on each other.
 */
export async function claimJobs(
  db: Db,
  claim: { tasks: string[]; limit: number; workerId: string; now: Date; leaseUntil: Date },
): Promise<JobRow[]> {
  if (claim.tasks.length === 0) return [];
  const result = await sql<JobRow>`
    UPDATE jobs SET
      status = 'running',
      attempts = attempts + 1,
      locked_until = ${claim.leaseUntil},
      locked_by = ${claim.workerId},
      updated_at = ${claim.now}
    WHERE id IN (
      SELECT id FROM jobs
      WHERE status IN ('queued', 'running')
        AND run_at <= ${claim.now}
        AND (status = 'queued' OR locked_until < ${claim.now})
        AND task = ANY(${claim.tasks})
      ORDER BY run_at, id
      LIMIT ${claim.limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING *`.execute(db);
  return result.rows.map((row) => ({ ...row, id: String(row.id) }));
}

export async function extendLease(db: Db, id: string, workerId: string, leaseUntil: Date): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ locked_until: leaseUntil })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function markSucceeded(db: Db, id: string, workerId: string, now: Date): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ status: 'succeeded', locked_until: null, finished_at: now, updated_at: now, last_error: null })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .execute();
}

/** Schedules another attempt at `retryAt`, or fails the job for good when `retryAt` is undefined. */
export async function markFailedAttempt(
  db: Db,
  id: string,
  workerId: string,
  error: string,
  now: Date,
  retryAt: Date | undefined,
): Promise<void> {
  await db
    .updateTable('jobs')
    .set(
      retryAt
        ? { status: 'queued', run_at: retryAt, locked_until: null, last_error: error, updated_at: now }
        : { status: 'failed', locked_until: null, last_error: error, updated_at: now, finished_at: now },
    )
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .execute();
}

export async function findJob(db: Db, id: string): Promise<JobRow | undefined> {
  const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? { ...row, id: String(row.id) } : undefined;
}

export interface QueueStat {
  task: string;
  status: 'queued' | 'running';
  count: number;
  oldestRunAt: Date | null;
}

/** Depth and age of unfinished work per task, for /metrics. Uses the partial jobs_due index. */
export async function queueStats(db: Db, now: Date): Promise<QueueStat[]> {
  const rows = await db
    .selectFrom('jobs')
    .select(['task', 'status'])
    .select((eb) => [eb.fn.countAll<string>().as('count'), eb.fn.min('run_at').as('oldest')])
    .where('status', 'in', ['queued', 'running'])
    .where('run_at', '<=', now)
    .groupBy(['task', 'status'])
    .execute();
  return rows.map((row) => ({
    task: row.task,
    status: row.status as 'queued' | 'running',
    count: Number(row.count),
    oldestRunAt: row.oldest ? new Date(row.oldest) : null,
  }));
}

export async function deleteFinishedBefore(db: Db, before: Date): Promise<number> {
  const result = await db
    .deleteFrom('jobs')
    .where('status', 'in', ['succeeded', 'failed'])
    .where('finished_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
