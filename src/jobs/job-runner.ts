import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { uuidv7 } from '../lib/ids.js';
import * as repo from './jobs.repository.js';

export interface JobContext {
  jobId: string;
  workspaceId: string | null;
  attempt: number;
  /** Aborted when the runner stops; long handlers should stop at a safe point. */
  signal: AbortSignal;
}

export type TaskHandler = (payload: unknown, context: JobContext) => Promise<void>;

export interface TaskDefinition {
  run: TaskHandler;
  /**
   * Called once when the runner gives up on a job (last attempt failed, or its
   * lease expired on every attempt), so the task can record the failure on
   * its own domain object instead of leaving it "running" forever.
   */
  onGiveUp?: (payload: unknown, reason: string) => Promise<void>;
}

/**
 * Thrown by a handler when retrying cannot help (missing configuration, bad
 * data): the job fails at once, with this message as its last_error.
 */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** Task name -> handler or definition. Each module registers its own tasks from its *.jobs.ts file. */
export type TaskRegistry = Record<string, TaskHandler | TaskDefinition>;

function definitionOf(task: TaskHandler | TaskDefinition | undefined): TaskDefinition | undefined {
  return typeof task === 'function' ? { run: task } : task;
}

export interface JobRunnerOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  tasks: TaskRegistry;
  concurrency: number;
  pollIntervalMs: number;
  /** How long a claim holds a job before another worker may take it; renewed while the handler runs. */
  leaseMs?: number;
  /** Delay before retry n (1-based) is min(base * 2^(n-1), max), with jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Finished jobs older than this are deleted. */
  keepFinishedMs?: number;
}

/**
 * Runs due jobs from the jobs table. Any number of runners (in any number of
 * processes) may run against one database: claims use SKIP LOCKED, so each job
 * goes to one runner at a time; a runner that dies loses its lease and the job
 * is claimed again. Handlers must therefore be idempotent.
 */
export function createJobRunner(options: JobRunnerOptions) {
  const { db, clock, logger, tasks } = options;
  const leaseMs = options.leaseMs ?? 60_000;
  const retryBaseMs = options.retryBaseMs ?? 5_000;
  const retryMaxMs = options.retryMaxMs ?? 3_600_000;
  const keepFinishedMs = options.keepFinishedMs ?? 7 * 24 * 3_600_000;
  const workerId = `${hostname()}:${process.pid}:${uuidv7().slice(-8)}`;
  const taskNames = Object.keys(tasks);
  const inFlight = new Set<Promise<void>>();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let polling = false;
  let lastPurge = 0;

  async function runJob(job: repo.JobRow): Promise<void> {
    const task = definitionOf(tasks[job.task]);
    const log = logger.child({ job_id: job.id, task: job.task, attempt: job.attempts });
    if (!task) return;
    const giveUp = async (reason: string) => {
      try {
        await task.onGiveUp?.(job.payload, reason);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'onGiveUp failed');
      }
    };
    if (job.attempts > job.max_attempts) {
      // Its lease expired on every attempt: the handler keeps crashing its process.
      await repo.markFailedAttempt(
        db,
        job.id,
        workerId,
        'lease expired on every attempt',
        clock.now(),
        undefined,
      );
      log.error('job failed: lease expired on every attempt');
      await giveUp('lease expired on every attempt');
      return;
    }
    const heartbeat = setInterval(() => {
      repo
        .extendLease(db, job.id, workerId, new Date(clock.now().getTime() + leaseMs))
        .catch((error: Error) => log.warn({ err: error.message }, 'could not extend job lease'));
    }, leaseMs / 3);
    heartbeat.unref();
    try {
      await task.run(job.payload, {
        jobId: job.id,
        workspaceId: job.workspace_id,
        attempt: job.attempts,
        signal: abort.signal,
      });
      await repo.markSucceeded(db, job.id, workerId, clock.now());
      log.debug('job succeeded');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const now = clock.now();
      const retryAt =
        job.attempts < job.max_attempts && !(error instanceof PermanentJobError)
          ? new Date(now.getTime() + retryDelay(job.attempts))
          : undefined;
      await repo.markFailedAttempt(db, job.id, workerId, message.slice(0, 2000), now, retryAt);
      if (retryAt) log.warn({ err: message, retry_at: retryAt }, 'job attempt failed; will retry');
      else {
        log.error({ err: message }, 'job failed after its last attempt');
        await giveUp(message);
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  function retryDelay(attempt: number): number {
    const base = Math.min(retryBaseMs * 2 ** (attempt - 1), retryMaxMs);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** Claims and starts as many due jobs as there are free slots; resolves once they are started. */
  async function poll(): Promise<number> {
    if (polling) return 0;
    polling = true;
    try {
      const free = options.concurrency - inFlight.size;
      if (free <= 0) return 0;
      const now = clock.now();
      const jobs = await repo.claimJobs(db, {
        tasks: taskNames,
        limit: free,
        workerId,
        now,
        leaseUntil: new Date(now.getTime() + leaseMs),
      });
      for (const job of jobs) {
        const promise = runJob(job)
          .catch((error: Error) =>
            logger.error({ err: error.message, job_id: job.id }, 'job bookkeeping failed'),
          )
          .finally(() => {
            inFlight.delete(promise);
            if (running) schedule(0);
          });
        inFlight.add(promise);
      }
      if (now.getTime() - lastPurge > 3_600_000) {
        lastPurge = now.getTime();
        await repo.deleteFinishedBefore(db, new Date(now.getTime() - keepFinishedMs));
      }
      return jobs.length;
    } finally {
      polling = false;
    }
  }

  function schedule(delay: number) {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      poll()
        .then((claimed) => schedule(claimed > 0 ? 0 : options.pollIntervalMs))
        .catch((error: Error) => {
          logger.error({ err: error.message }, 'job poll failed');
          schedule(options.pollIntervalMs);
        });
    }, delay);
  }

  return {
    workerId,
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    /** Called after an enqueue in this process, so new work starts without waiting for the next poll. */
    wake() {
      if (running && !polling) schedule(0);
    },
    /**
     * Runs due jobs until none is left, then returns how many ran. For tests
     * and the CLI: no timers involved, time comes from the injected clock.
     */
    async drain(): Promise<number> {
      let total = 0;
      for (;;) {
        const claimed = await poll();
        await Promise.all([...inFlight]);
        if (claimed === 0) return total;
        total += claimed;
      }
    },
    /** Stops claiming, signals running handlers to stop, and waits for them. */
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      abort.abort();
      await Promise.all([...inFlight]);
    },
  };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
