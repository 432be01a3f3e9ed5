import type { Clock } from '../../lib/clock.js';

/**
 * Limits for one transport. They hold per process: N processes sending
 * through the same transport may together send N times as much, so the
 * sending engine divides the limits by its worker count (or coordinates
 * through the database) before building a limiter.
 */
export interface RateLimits {
  perSecond?: number | undefined;
  perHour?: number | undefined;
  perDay?: number | undefined;
  /** Sends in flight at once. */
  maxConcurrency: number;
}

/** How the limiter waits; injected so tests drive it with a manual clock instead of sleeping. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class RateLimiterClosedError extends Error {
  constructor() {
    super('rate limiter closed');
    this.name = 'RateLimiterClosedError';
  }
}

/**
 * Counts sends in fixed buckets over a sliding window. A bucket is counted
 * while any part of it lies inside the window, so the limit is never exceeded
 * in any window; the price is a rate at most one bucket's share lower.
 */
class WindowCounter {
  private readonly buckets: { id: number; count: number }[] = [];
  private total = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly bucketMs: number,
  ) {}

  private prune(now: number): void {
    while (this.buckets.length > 0) {
      const oldest = this.buckets[0] as { id: number; count: number };
      if ((oldest.id + 1) * this.bucketMs + this.windowMs > now) break;
      this.total -= oldest.count;
      this.buckets.shift();
    }
  }

  /** 0 when a send is allowed now, else the milliseconds until one is. */
  waitMs(now: number): number {
    this.prune(now);
    if (this.total < this.limit) return 0;
    let remaining = this.total;
    for (const bucket of this.buckets) {
      remaining -= bucket.count;
      if (remaining < this.limit) return (bucket.id + 1) * this.bucketMs + this.windowMs - now;
    }
    return 0;
  }

  record(now: number): void {
    const id = Math.floor(now / this.bucketMs);
    const last = this.buckets[this.buckets.length - 1];
    if (last?.id === id) last.count += 1;
    else this.buckets.push({ id, count: 1 });
    this.total += 1;
  }
}

export interface RateLimiter {
  /** Resolves when a send may start; call the returned function when it has finished. */
  acquire(): Promise<() => void>;
  /** Sends in flight and waiting, for metrics. */
  stats(): { active: number; waiting: number };
  /** Rejects everyone still waiting. */
  close(): void;
}

export function createRateLimiter(
  limits: RateLimits,
  deps: { clock: Clock; timers?: Timers | undefined },
): RateLimiter {
  const timers = deps.timers ?? realTimers;
  const windows: WindowCounter[] = [];
  if (limits.perSecond) windows.push(new WindowCounter(limits.perSecond, 1_000, 10));
  if (limits.perHour) windows.push(new WindowCounter(limits.perHour, 3_600_000, 60_000));
  if (limits.perDay) windows.push(new WindowCounter(limits.perDay, 86_400_000, 900_000));
  const maxConcurrency = Math.max(1, limits.maxConcurrency);
  const waiting: { resolve: (release: () => void) => void; reject: (error: Error) => void }[] = [];
  let active = 0;
  let timer: unknown;
  let closed = false;

  function release(): void {
    active -= 1;
    pump();
  }

  function pump(): void {
    while (waiting.length > 0 && active < maxConcurrency) {
      const now = deps.clock.now().getTime();
      const wait = Math.max(0, ...windows.map((w) => w.waitMs(now)));
      if (wait > 0) {
        if (timer === undefined) {
          timer = timers.setTimeout(() => {
            timer = undefined;
            pump();
          }, wait);
        }
        return;
      }
      for (const w of windows) w.record(now);
      active += 1;
      let released = false;
      (waiting.shift() as (typeof waiting)[number]).resolve(() => {
        if (released) return;
        released = true;
        release();
      });
    }
  }

  return {
    acquire() {
      if (closed) return Promise.reject(new RateLimiterClosedError());
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        pump();
      });
    },
    stats: () => ({ active, waiting: waiting.length }),
    close() {
      closed = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      for (const w of waiting.splice(0)) w.reject(new RateLimiterClosedError());
    },
  };
}
