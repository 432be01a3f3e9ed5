import type pg from 'pg';
import type { ProfileRow } from './automations-shared.js';

/**
 * Where a benchmark's database time goes: wraps the query method of every
 * client the pool hands out and sums the time from sending a statement to its
 * answer, per statement shape (parameters are placeholders already, so one
 * shape per query in the code). On PGlite that is the statement's execution;
 * on PostgreSQL it includes the round trip. Opt-in: it costs a timer per query.
 */
export function createQueryProfile(pool: pg.Pool) {
  const totals = new Map<string, { calls: number; totalMs: number }>();
  const wrapped = new WeakSet<object>();
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const record = (text: string, started: number) => {
    const key = text.replace(/\s+/g, ' ').slice(0, 140);
    const entry = totals.get(key) ?? { calls: 0, totalMs: 0 };
    entry.calls++;
    entry.totalMs += performance.now() - started;
    totals.set(key, entry);
  };
  (pool as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
    const client = await connect();
    if (!wrapped.has(client)) {
      wrapped.add(client);
      const query = client.query.bind(client) as (text: unknown, values?: unknown) => Promise<unknown>;
      (client as { query: unknown }).query = (text: unknown, values?: unknown) => {
        const started = performance.now();
        const answer = query(text, values);
        if (typeof text === 'string') answer.finally(() => record(text, started)).catch(() => {});
        return answer;
      };
    }
    return client;
  };
  return {
    reset: () => totals.clear(),
    top(n: number): ProfileRow[] {
      return [...totals]
        .map(([sql, t]) => ({ sql, calls: t.calls, totalMs: Math.round(t.totalMs) }))
        .sort((a, b) => b.totalMs - a.totalMs)
        .slice(0, n);
    },
  };
}
