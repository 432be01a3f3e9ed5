import type { Clock } from '../../lib/clock.js';

/**
 * Fixed-window counters in memory, per process (like the API rate limit):
 * `take(key)` is true while the key has submissions left in the current
 * window. Keys are only ever IP addresses and hashed email addresses, and the
 * map is bounded: when full, windows that have ended are dropped first, then
 * the oldest entries.
 */
export function createWindowLimiter(options: {
  clock: Clock;
  max: number;
  windowMs: number;
  maxKeys?: number;
}) {
  const { clock, max, windowMs } = options;
  const maxKeys = options.maxKeys ?? 50_000;
  const windows = new Map<string, { start: number; count: number }>();

  function prune(now: number): void {
    for (const [key, w] of windows) if (now - w.start >= windowMs) windows.delete(key);
    while (windows.size >= maxKeys) {
      const oldest = windows.keys().next().value;
      if (oldest === undefined) break;
      windows.delete(oldest);
    }
  }

  return {
    take(key: string): boolean {
      const now = clock.now().getTime();
      let w = windows.get(key);
      if (!w || now - w.start >= windowMs) {
        if (!w && windows.size >= maxKeys) prune(now);
        w = { start: now, count: 0 };
        windows.delete(key);
        windows.set(key, w);
      }
      if (w.count >= max) return false;
      w.count += 1;
      return true;
    },
  };
}

export type WindowLimiter = ReturnType<typeof createWindowLimiter>;
