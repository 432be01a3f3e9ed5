import type { Clock } from '../src/lib/clock.js';

/**
 * A clock for benchmarks that measure scheduling: it stands still at `start`
 * (so everything done meanwhile happens "at the same instant") until
 * `runFrom(at)`, from when it runs in real time starting at `at`. Lag
 * measured against it is real elapsed time, unlike a manual clock's.
 */
export function createBenchClock(start: Date): Clock & { runFrom(at: Date): void } {
  let frozen: number | undefined = start.getTime();
  let origin = 0;
  let base = 0;
  return {
    now: () => new Date(frozen ?? base + (performance.now() - origin)),
    runFrom(at: Date) {
      frozen = undefined;
      base = at.getTime();
      origin = performance.now();
    },
  };
}
