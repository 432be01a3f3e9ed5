import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import type { ArmCounts } from './automation-experiments.js';
import * as repo from './experiments.repository.js';

/**
 * The evidence a bandit split decides on, per node, cached in the process
 * for `ttlMs` (of the injected clock; default a minute). A refresh settles
 * the outcomes that became known since the last one (writing them, so each
 * row is judged until it is known and never again) and counts the settled
 * rows per path: two statements per node and minute, whatever the number
 * of runs that choose meanwhile. Concurrent choices share one refresh.
 *
 * Measured (a throwaway script, 2 cores shared with a load of about 10,
 * so roughly halve these on an idle machine) with one node of 20,000
 * assignments, one run every 30 s for a week, of which the last day's
 * 2,900 were pending (576 of them decidable: opened since): settle 80-170
 * ms on PostgreSQL 15 and 145-210 ms on the embedded database (the rows
 * still inside their window are judged again each time, so it grows with
 * the runs per window, not with the history); the count of settled rows
 * 5-15 ms on both; the recorded-choice lookup 0.4-1 ms. Rows that became
 * decidable while no run chose (no enrolments for days, say) are settled
 * by the next refresh, at most 10,000 per refresh: about 0.6 s per 10,000
 * on PostgreSQL, 1-3 s on the embedded database. So a warm choice costs the lookup and the insert, and a refresh
 * about 0.2 s per node and minute; without the cache every choice would
 * pay that 0.2 s, which during a burst (a schedule enrolling a segment) is
 * the difference between minutes and hours. The price: a run decides on
 * evidence up to a minute old, which for windows of hours changes nothing.
 */
export function createBanditArms(deps: { db: Db; clock: Clock; ttlMs?: number }) {
  const { db, clock } = deps;
  const ttlMs = deps.ttlMs ?? 60_000;
  const cache = new Map<string, { at: number; arms: Promise<(ArmCounts | undefined)[]> }>();

  return {
    /** Trials and successes per path (index = path; paths without runs are missing). */
    async arms(key: repo.AssignmentKey): Promise<(ArmCounts | undefined)[]> {
      const id = `${key.automationId}:${key.nodeId}:${key.metric}`;
      const now = clock.now();
      const cached = cache.get(id);
      if (cached && now.getTime() - cached.at < ttlMs && now.getTime() >= cached.at) return cached.arms;
      const arms = (async () => {
        await repo.settleOutcomes(db, key, now);
        const rows = await repo.armCounts(db, key, now, { judgePending: false });
        const out: (ArmCounts | undefined)[] = [];
        for (const row of rows) out[row.path] = { trials: row.trials, successes: row.successes };
        return out;
      })();
      arms.catch(() => {
        if (cache.get(id)?.arms === arms) cache.delete(id);
      });
      cache.set(id, { at: now.getTime(), arms });
      return arms;
    },
  };
}

export type BanditArms = ReturnType<typeof createBanditArms>;
