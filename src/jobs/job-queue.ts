import type { Db } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import * as repo from './jobs.repository.js';

export interface EnqueueOptions {
  workspaceId?: string | null;
  /** When the job may run first; default now. */
  runAt?: Date;
  /** Attempts before the job fails for good; default 5. */
  maxAttempts?: number;
  /** A second enqueue with the same task and key returns the first job instead of adding one. */
  idempotencyKey?: string;
}

/**
 * Adds work to the jobs table. Pass a transaction as `db` to enqueue in the
 * same transaction as the change that causes the work (an outbox), so the job
 * exists if and only if the change committed.
 */
export function createJobQueue(deps: { db: Db; clock: Clock; onEnqueued?: () => void }) {
  return {
    async enqueue(
      task: string,
      payload: unknown,
      options: EnqueueOptions = {},
      db: Db = deps.db,
    ): Promise<{ id: string; created: boolean }> {
      const now = deps.clock.now();
      const result = await repo.insertJob(
        db,
        {
          task,
          payload,
          workspaceId: options.workspaceId ?? null,
          runAt: options.runAt ?? now,
          maxAttempts: options.maxAttempts ?? 5,
          idempotencyKey: options.idempotencyKey ?? null,
        },
        now,
      );
      deps.onEnqueued?.();
      return result;
    },

    /**
     * Enqueues one job per item in one statement (same options for all, each
     * with its own payload and idempotency key). Returns how many were added.
     */
    async enqueueMany(
      task: string,
      items: { payload: unknown; idempotencyKey?: string | undefined }[],
      options: Omit<EnqueueOptions, 'idempotencyKey'> = {},
      db: Db = deps.db,
    ): Promise<number> {
      const now = deps.clock.now();
      const added = await repo.insertJobs(
        db,
        items.map((item) => ({
          task,
          payload: item.payload,
          workspaceId: options.workspaceId ?? null,
          runAt: options.runAt ?? now,
          maxAttempts: options.maxAttempts ?? 5,
          idempotencyKey: item.idempotencyKey ?? null,
        })),
        now,
      );
      if (added > 0) deps.onEnqueued?.();
      return added;
    },

    get: (id: string) => repo.findJob(deps.db, id),
    stats: () => repo.queueStats(deps.db, deps.clock.now()),
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;
