import { offsetAt, zonedTimeToUtc } from '../../lib/zoned-time.js';

/**
 * The windows throttles and warm-up caps count in. Pure: callers pass the
 * instant and the workspace's time zone.
 *
 * - minute, hour: clock minutes and hours in UTC (the same everywhere but in
 *   the few zones with a half- or quarter-hour offset);
 * - day: the calendar day in the workspace's time zone, from one local
 *   midnight to the next (23 or 25 hours across a DST change; where DST skips
 *   or repeats midnight, the day starts at its first local instant).
 */

export type WindowKind = 'minute' | 'hour' | 'day';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** DST changes move clocks by whole quarter hours at most (Lord Howe: 30 minutes). */
const STEP_MS = 15 * MINUTE_MS;

/** The local calendar date of `at` in `zone`, as YYYY-MM-DD. */
export function localDate(at: Date, zone: string): string {
  return new Date(at.getTime() + offsetAt(at.getTime(), zone)).toISOString().slice(0, 10);
}

/** `date` (YYYY-MM-DD) moved by `days` calendar days. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** Calendar days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Whether `date` is a real calendar date written YYYY-MM-DD. */
export function isLocalDate(date: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return false;
  const parsed = Date.parse(`${date}T00:00:00Z`);
  return !Number.isNaN(parsed) && new Date(parsed).toISOString().slice(0, 10) === date;
}

/**
 * The first instant of the local date `date` in `zone`. zonedTimeToUtc maps a
 * skipped midnight one offset later and may pick the second of a repeated
 * one, so the answer is moved to the earliest instant whose local date is
 * `date`.
 */
export function startOfDay(date: string, zone: string): Date {
  let at = (zonedTimeToUtc(`${date}T00:00`, zone) as Date).getTime();
  for (let i = 0; i < 8 && localDate(new Date(at), zone) < date; i++) at += STEP_MS;
  for (let i = 0; i < 8 && localDate(new Date(at - STEP_MS), zone) === date; i++) at -= STEP_MS;
  return new Date(at);
}

/** The start of the window of `kind` that `at` falls in. */
export function windowStart(kind: WindowKind, at: Date, zone: string): Date {
  const t = at.getTime();
  if (kind === 'minute') return new Date(Math.floor(t / MINUTE_MS) * MINUTE_MS);
  if (kind === 'hour') return new Date(Math.floor(t / HOUR_MS) * HOUR_MS);
  return startOfDay(localDate(at, zone), zone);
}

/** The start of the window `n` windows after the one starting at `start`. */
export function windowAfter(kind: WindowKind, start: Date, n: number, zone: string): Date {
  if (kind === 'minute') return new Date(start.getTime() + n * MINUTE_MS);
  if (kind === 'hour') return new Date(start.getTime() + n * HOUR_MS);
  return startOfDay(addDays(localDate(start, zone), n), zone);
}

/** When the window that `at` falls in ends (the next one opens). */
export function windowEnd(kind: WindowKind, at: Date, zone: string): Date {
  return windowAfter(kind, windowStart(kind, at, zone), 1, zone);
}

/**
 * In which window after the current one (1 = the next) the recipient at
 * `position` among those waiting (0-based) fits, given what each coming
 * window admits: a number for every window alike, or per window (null: no
 * limit, so everyone left fits). Gives up after `maxWindows` (the recipient
 * is then simply looked at again there).
 */
export function releaseWindow(
  position: number,
  capacity: number | ((n: number) => number | null),
  maxWindows = 400,
): number {
  if (typeof capacity === 'number') return Math.min(maxWindows, Math.floor(position / capacity) + 1);
  let left = position;
  for (let n = 1; n <= maxWindows; n++) {
    const room = capacity(n);
    if (room === null || left < room) return n;
    left -= room;
  }
  return maxWindows;
}
