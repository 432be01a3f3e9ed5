import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../lib/clock.js';
import { createRateLimiter, RateLimiterClosedError, type Timers } from './rate-limiter.js';

/** Timers that fire only when the manual clock is advanced through them. */
function manualTimers(clock: ReturnType<typeof createManualClock>) {
  let pending: { due: number; fn: () => void; id: number }[] = [];
  let next = 0;
  const timers: Timers = {
    setTimeout(fn, ms) {
      const id = next++;
      pending.push({ due: clock.now().getTime() + ms, fn, id });
      return id;
    },
    clearTimeout(handle) {
      pending = pending.filter((p) => p.id !== handle);
    },
  };
  return {
    timers,
    async advance(ms: number) {
      const end = clock.now().getTime() + ms;
      for (;;) {
        pending.sort((a, b) => a.due - b.due);
        const first = pending[0];
        if (!first || first.due > end) break;
        pending.shift();
        clock.set(new Date(first.due));
        first.fn();
        await flush();
      }
      clock.set(new Date(end));
      await flush();
    },
  };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Starts `n` acquisitions and records when (clock time) each was granted. */
function start(limiter: ReturnType<typeof createRateLimiter>, clock: { now(): Date }, n: number) {
  const granted: number[] = [];
  const releases: (() => void)[] = [];
  for (let i = 0; i < n; i++) {
    void limiter.acquire().then((release) => {
      granted.push(clock.now().getTime());
      releases.push(release);
    });
  }
  return { granted, releases };
}

describe('rate limiter', () => {
  it('lets at most perSecond sends start in any second', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const t0 = clock.now().getTime();
    const { timers, advance } = manualTimers(clock);
    const limiter = createRateLimiter({ perSecond: 5, maxConcurrency: 100 }, { clock, timers });
    const { granted } = start(limiter, clock, 12);
    await flush();
    expect(granted).toHaveLength(5);
    await advance(999);
    expect(granted).toHaveLength(5);
    await advance(20);
    expect(granted).toHaveLength(10);
    await advance(1_010);
    expect(granted).toHaveLength(12);
    // Any one-second window holds at most five starts.
    for (const at of granted)
      expect(granted.filter((g) => g >= at && g < at + 1_000).length).toBeLessThanOrEqual(5);
    expect(Math.max(...granted) - t0).toBeLessThan(2_100);
    limiter.close();
  });

  it('enforces per-hour and per-day limits on top of per-second', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const { timers, advance } = manualTimers(clock);
    const limiter = createRateLimiter({ perSecond: 100, perHour: 3, maxConcurrency: 10 }, { clock, timers });
    const { granted, releases } = start(limiter, clock, 4);
    await flush();
    expect(granted).toHaveLength(3);
    for (const r of releases) r();
    await advance(59 * 60_000);
    expect(granted).toHaveLength(3);
    await advance(2 * 60_000);
    expect(granted).toHaveLength(4);
    limiter.close();

    const daily = createRateLimiter({ perDay: 2, maxConcurrency: 10 }, { clock, timers });
    const day = start(daily, clock, 3);
    await flush();
    expect(day.granted).toHaveLength(2);
    await advance(23 * 3_600_000);
    expect(day.granted).toHaveLength(2);
    // Counted per 15-minute bucket: free again one day after the end of the bucket it fell in.
    await advance(3_600_000 + 15 * 60_000);
    expect(day.granted).toHaveLength(3);
    daily.close();
  });

  it('holds concurrency to maxConcurrency and hands slots on in order', async () => {
    const clock = createManualClock();
    const { timers } = manualTimers(clock);
    const limiter = createRateLimiter({ maxConcurrency: 2 }, { clock, timers });
    const order: number[] = [];
    const releases: (() => void)[] = [];
    for (let i = 0; i < 5; i++) {
      void limiter.acquire().then((release) => {
        order.push(i);
        releases.push(release);
      });
    }
    await flush();
    expect(order).toEqual([0, 1]);
    expect(limiter.stats()).toEqual({ active: 2, waiting: 3 });
    releases[0]?.();
    releases[0]?.(); // a second release of the same slot is ignored
    await flush();
    expect(order).toEqual([0, 1, 2]);
    expect(limiter.stats()).toEqual({ active: 2, waiting: 2 });
    releases[1]?.();
    releases[2]?.();
    await flush();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    limiter.close();
  });

  it('rejects waiters on close', async () => {
    const clock = createManualClock();
    const limiter = createRateLimiter({ maxConcurrency: 1 }, { clock, timers: manualTimers(clock).timers });
    await limiter.acquire();
    const waiting = limiter.acquire();
    limiter.close();
    await expect(waiting).rejects.toBeInstanceOf(RateLimiterClosedError);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(RateLimiterClosedError);
  });
});
