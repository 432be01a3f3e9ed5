import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { JobQueue } from './job-queue.js';

export interface Schedule {
  task: string;
  /** One job per period: its idempotency key is the period's number since the epoch. */
  everyMs: number;
  payload?: unknown;
}

/**
 * Periodic jobs without a cron daemon: every worker process offers each
 * schedule's job for the current period, keyed `<period number>`, and the
 * jobs table's unique (task, idempotency_key) lets exactly one through however
 * many workers offer it. The job then runs on whichever worker claims it, with
 * the queue's retries and leases.
 */
export function createJobScheduler(deps: {
  jobs: Pick<JobQueue, 'enqueue'>;
  clock: Clock;
  logger: Logger;
  schedules: Schedule[];
}) {
  let timer: NodeJS.Timeout | undefined;

  async function tick(): Promise<void> {
    const now = deps.clock.now().getTime();
    for (const schedule of deps.schedules) {
      const period = Math.floor(now / schedule.everyMs);
      await deps.jobs.enqueue(schedule.task, schedule.payload ?? {}, {
        idempotencyKey: String(period),
        // A job left from a crashed period must not pile up: one try per period, the next period retries.
        maxAttempts: 1,
      });
    }
  }

  return {
    tick,
    /** Offers the jobs now and then every half of the shortest period (between 1 s and 60 s). */
    start() {
      if (timer) return;
      const shortest = Math.min(...deps.schedules.map((s) => s.everyMs));
      const checkEveryMs = Math.max(1000, Math.min(60_000, Math.floor(shortest / 2)));
      const run = () =>
        tick().catch((error: Error) =>
          deps.logger.warn({ err: error.message }, 'could not schedule periodic jobs'),
        );
      void run();
      timer = setInterval(run, checkEveryMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type JobScheduler = ReturnType<typeof createJobScheduler>;
