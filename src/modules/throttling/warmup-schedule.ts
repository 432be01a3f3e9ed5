import { addDays, daysBetween, localDate, startOfDay, windowAfter } from './throttle-windows.js';

/**
 * Warm-up schedules, pure: the daily caps a schedule's input makes, and
 * where a schedule stands on a given day. Days are local dates in the
 * workspace's time zone; day 1 is the start date.
 */

/** Longest schedule: a year of capped days (a new IP is usually warm in 30 to 60). */
export const MAX_SCHEDULE_DAYS = 366;

export interface Growth {
  /** Day 1's cap (of the generated days). */
  start_volume: number;
  /** Each day's cap is the previous one's times this (> 1). */
  factor: number;
  /** The last generated day's cap; no cap after it. */
  target: number;
}

/**
 * Caps from `start_volume` multiplied by `factor` each day, rounded, until
 * the first day that reaches `target` (capped at it). Stops early (returns
 * more than `limit` days) when the growth is too slow to reach the target.
 */
export function growthCaps(growth: Growth, limit = MAX_SCHEDULE_DAYS): number[] {
  const caps: number[] = [];
  for (let day = 0; caps.length <= limit; day++) {
    const cap = Math.min(growth.target, Math.round(growth.start_volume * growth.factor ** day));
    caps.push(Math.max(cap, caps.at(-1) ?? 1));
    if (cap >= growth.target) break;
  }
  return caps;
}

/** The whole schedule: the listed caps, then the generated ones. */
export function scheduleCaps(dailyCaps: readonly number[], growth: Growth | undefined): number[] {
  return [...dailyCaps, ...(growth ? growthCaps(growth) : [])];
}

export interface ScheduleDays {
  start_date: string;
  caps: readonly number[];
}

/** The cap of a local date: null before the start and after the last day (no cap). */
export function capOn(schedule: ScheduleDays, date: string): number | null {
  const index = daysBetween(schedule.start_date, date);
  return index >= 0 && index < schedule.caps.length ? (schedule.caps[index] as number) : null;
}

export interface Standing {
  /** scheduled: before the start date; warming: a capped day; finished: after the last capped day. */
  state: 'scheduled' | 'warming' | 'finished';
  /** Today's day number (1 = the start date); null unless warming. */
  day: number | null;
  /** Capped days in all. */
  days: number;
  today: string;
  today_cap: number | null;
  /** When the current local day ends (today's cap no longer applies). */
  day_ends_at: Date;
  /** The first local date without a cap, and the instant it starts. */
  ends_on: string;
  ends_at: Date;
  starts_at: Date;
}

export function standing(schedule: ScheduleDays, now: Date, zone: string): Standing {
  const today = localDate(now, zone);
  const index = daysBetween(schedule.start_date, today);
  const days = schedule.caps.length;
  const endsOn = addDays(schedule.start_date, days);
  const state = index < 0 ? 'scheduled' : index < days ? 'warming' : 'finished';
  return {
    state,
    day: state === 'warming' ? index + 1 : null,
    days,
    today,
    today_cap: capOn(schedule, today),
    day_ends_at: windowAfter('day', startOfDay(today, zone), 1, zone),
    ends_on: endsOn,
    ends_at: startOfDay(endsOn, zone),
    starts_at: startOfDay(schedule.start_date, zone),
  };
}
