/**
 * The engagement score and the at-risk rule: pure, so the refresh job, the
 * contact view and the tests share one definition.
 *
 * An *engagement* is a human open or a human click of one email (hits
 * classified human or proxy; prefetches, scanners and bots never count),
 * each email counted once per kind at its first such hit, or a conversion.
 */

const DAY_MS = 86_400_000;

/**
 * Weights per kind: a click says more than an open (a link was worth
 * following), a conversion more than a click (money or a sign-up).
 */
export const SCORE_WEIGHTS = { open: 1, click: 3, conversion: 5 } as const;

/** An engagement loses half its weight every this many days: a month-old open counts 0.5, a year-old one 0.0002. */
export const SCORE_HALF_LIFE_DAYS = 30;

/** Engagements older than this are not read at all (their weight is below 0.0003). */
export const SCORE_LOOKBACK_DAYS = 365;

/** 2^(-age / half-life); an event in the future (clock skew) counts in full. */
export function decayWeight(ageMs: number, halfLifeDays: number = SCORE_HALF_LIFE_DAYS): number {
  if (!(halfLifeDays > 0)) throw new RangeError(`halfLifeDays must be positive, got ${halfLifeDays}`);
  return ageMs <= 0 ? 1 : 0.5 ** (ageMs / (halfLifeDays * DAY_MS));
}

/** Decayed counts per kind: each engagement contributes decayWeight(its age). */
export interface DecayedCounts {
  opens: number;
  clicks: number;
  conversions: number;
}

/** Score = 1 · decayed opens + 3 · decayed clicks + 5 · decayed conversions. */
export function engagementScore(decayed: DecayedCounts): number {
  return (
    SCORE_WEIGHTS.open * decayed.opens +
    SCORE_WEIGHTS.click * decayed.clicks +
    SCORE_WEIGHTS.conversion * decayed.conversions
  );
}

/**
 * The score of a list of engagements as of `now`, from scratch: the
 * reference the SQL of the refresh (which sums the decay per kind) is
 * checked against. Engagements at or after `now`, or older than the
 * lookback, do not count.
 */
export function scoreOf(
  engagements: readonly { kind: 'open' | 'click' | 'conversion'; at: Date }[],
  now: Date,
): number {
  const decayed: DecayedCounts = { opens: 0, clicks: 0, conversions: 0 };
  const since = now.getTime() - SCORE_LOOKBACK_DAYS * DAY_MS;
  for (const { kind, at } of engagements) {
    const t = at.getTime();
    if (t >= now.getTime() || t < since) continue;
    const w = decayWeight(now.getTime() - t);
    if (kind === 'open') decayed.opens += w;
    else if (kind === 'click') decayed.clicks += w;
    else decayed.conversions += w;
  }
  return engagementScore(decayed);
}

/**
 * At risk: engaged (a human open or click) within the last 180 days, but
 * either silent for the last 60 days or predicted to open with probability
 * below 0.1. Contacts who never engaged, or not for 180 days, are not at
 * risk: they are already lost (or new), which other conditions describe.
 */
export const AT_RISK = { engagedWithinDays: 180, silentForDays: 60, openProbabilityBelow: 0.1 } as const;

export function isAtRisk(
  figures: { lastEngagedAt: Date | null; openProbability: number | null },
  now: Date,
): boolean {
  const last = figures.lastEngagedAt?.getTime();
  if (last === undefined || last < now.getTime() - AT_RISK.engagedWithinDays * DAY_MS) return false;
  const silent = last < now.getTime() - AT_RISK.silentForDays * DAY_MS;
  const unlikely = figures.openProbability !== null && figures.openProbability < AT_RISK.openProbabilityBelow;
  return silent || unlikely;
}
