/**
 * How long a delivery waits after its n-th failed attempt: 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h (about 17.6 h in all), then it fails. Each wait is
 * spread by +-20% so endpoints that failed together do not retry together.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000] as const;

/** Attempts in all: the first and one per delay. */
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/** The wait after `attempts` failed attempts, or undefined when none is left. */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number | undefined {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.8 + 0.4 * random()));
}
