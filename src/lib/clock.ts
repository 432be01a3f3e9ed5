/** Source of the current time. Injected everywhere so tests control time without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for tests of schedules, retries and windows. */
export function createManualClock(start: Date = new Date('2026-01-01T00:00:00Z')) {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    set(to: Date) {
      current = to.getTime();
    },
    advance(ms: number) {
      current += ms;
    },
  };
}
