/**
 * Send-time profiles: when in the week a contact engages, and when a
 * campaign that started at a given instant should reach them. Pure.
 *
 * Glossary:
 * - **hour of the week**: 0-167 in UTC, hour 0 is Monday 00:00-00:59 UTC
 *   (ISO weekday order), hour 167 Sunday 23:00-23:59 UTC.
 * - **counts**: human opens and clicks (hits classified human or proxy) per
 *   hour of the week over the last 180 days: a contact's own, or the whole
 *   workspace's (the population prior).
 * - **scores**: per hour of the week, how good a time it is for one contact:
 *   their own counts plus the workspace's, each pooled over the same hour of
 *   the other days (below).
 */

export const HOURS_PER_WEEK = 168;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Engagements older than this do not shape a profile: habits change. */
export const PROFILE_LOOKBACK_DAYS = 180;

/**
 * Each engagement also counts this much at the same hour of the other six
 * days, so a habit seen on Tuesdays at 9 still points to 9 on a Friday;
 * the day it happened on counts 1 + this.
 */
export const DAY_POOLING_WEIGHT = 1;

/**
 * The workspace's profile counts as this many engagements at its own best
 * hour, and proportionally fewer at other hours (pseudo-counts scaled to
 * the prior's peak). So one engagement of a contact (worth 1 + 1 = 2 at its
 * hour) does not outweigh a clear workspace peak (3), while two at one hour of
 * the week (2 + 2 = 4) or three at one hour of the day on different days
 * (1 + 3 = 4 at each) do.
 */
export const PRIOR_WEIGHT = 3;

/** How long after a campaign's start send-time optimization may hold a recipient. */
export const SEND_WINDOW_MS = DAY_MS;

/** The hour of the week (0 = Monday 00:00 UTC) an instant falls in. */
export function hourOfWeek(at: Date): number {
  return ((at.getUTCDay() + 6) % 7) * 24 + at.getUTCHours();
}

/** Counts by hour from a sparse record ({"33": 4}); other keys and non-positive values are ignored. */
export function countsFromRecord(record: Readonly<Record<string, number>> | null | undefined): Float64Array {
  const counts = new Float64Array(HOURS_PER_WEEK);
  for (const [key, value] of Object.entries(record ?? {})) {
    const hour = Number(key);
    if (Number.isInteger(hour) && hour >= 0 && hour < HOURS_PER_WEEK && value > 0) counts[hour] = value;
  }
  return counts;
}

/** Counts plus DAY_POOLING_WEIGHT times the same hour of the day summed over the week. */
function pooled(counts: ArrayLike<number>): Float64Array {
  const byHourOfDay = new Float64Array(24);
  for (let h = 0; h < HOURS_PER_WEEK; h++)
    byHourOfDay[h % 24] = (byHourOfDay[h % 24] as number) + (counts[h] ?? 0);
  const out = new Float64Array(HOURS_PER_WEEK);
  for (let h = 0; h < HOURS_PER_WEEK; h++)
    out[h] = (counts[h] ?? 0) + DAY_POOLING_WEIGHT * (byHourOfDay[h % 24] as number);
  return out;
}

/**
 * Scores per hour of the week for one contact: pooled own counts plus
 * PRIOR_WEIGHT times the pooled workspace counts divided by their maximum.
 * All zero when neither the contact nor the workspace has any engagement.
 */
export function hourScores(own: ArrayLike<number>, prior: ArrayLike<number>): Float64Array {
  const scores = pooled(own);
  const population = pooled(prior);
  let peak = 0;
  for (const value of population) peak = Math.max(peak, value);
  if (peak > 0)
    for (let h = 0; h < HOURS_PER_WEEK; h++)
      scores[h] = (scores[h] as number) + (PRIOR_WEIGHT * (population[h] as number)) / peak;
  return scores;
}

/** The hour with the highest score (the earliest on ties), or null when every score is 0: no history at all. */
export function bestHour(scores: ArrayLike<number>): number | null {
  let best: number | null = null;
  let bestScore = 0;
  for (let h = 0; h < HOURS_PER_WEEK; h++) {
    const score = scores[h] ?? 0;
    if (score > bestScore) {
      best = h;
      bestScore = score;
    }
  }
  return best;
}

/** The instants [windowStart, windowStart + length) enters a new hour at: the start itself, then each full hour. */
function windowSlots(windowStart: Date, lengthMs: number): Date[] {
  const start = windowStart.getTime();
  const slots = [new Date(start)];
  for (let t = Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS; t < start + lengthMs; t += HOUR_MS)
    slots.push(new Date(t));
  return slots;
}

/**
 * The first instant in [windowStart, windowStart + 24 h) whose hour of the
 * week is `hour`: windowStart itself when it lies in that hour, else the
 * start of that hour; undefined when the hour does not occur in the window
 * (a window covers 24 of the 168 hours, 25 when it starts mid-hour).
 */
export function nextSendTime(windowStart: Date, hour: number, lengthMs = SEND_WINDOW_MS): Date | undefined {
  return windowSlots(windowStart, lengthMs).find((slot) => hourOfWeek(slot) === hour);
}

/**
 * The best hour of the week that occurs in [windowStart, windowStart + 24 h):
 * the contact's best hour when it falls in the window, else the best of the
 * hours that do (earliest on ties); null without any history.
 */
export function bestHourInWindow(
  scores: ArrayLike<number>,
  windowStart: Date,
  lengthMs = SEND_WINDOW_MS,
): number | null {
  if (bestHour(scores) === null) return null;
  let best: number | null = null;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const slot of windowSlots(windowStart, lengthMs)) {
    const hour = hourOfWeek(slot);
    const score = scores[hour] ?? 0;
    if (score > bestScore) {
      best = hour;
      bestScore = score;
    }
  }
  return best;
}

/**
 * When a campaign that started at `startedAt` should reach a contact with
 * these scores: the first instant of their best hour within 24 hours of the
 * start, or `now` when that is not later than now (so a recipient claimed
 * again at its time, or after the window, goes at once). Undefined without
 * any history (neither the contact's nor the workspace's): send at once.
 */
export function deliveryTime(scores: ArrayLike<number>, startedAt: Date, now: Date): Date | undefined {
  const hour = bestHourInWindow(scores, startedAt);
  if (hour === null) return undefined;
  const at = nextSendTime(startedAt, hour) as Date;
  return at.getTime() > now.getTime() ? at : now;
}
