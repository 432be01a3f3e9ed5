import { type CronExpression, isTimeZone, nextOccurrence, parseCron, wallClock } from '../../lib/cron.js';

/**
 * The calendar arithmetic of the time-based triggers, without the database:
 * when a `date_attribute` trigger is due for one contact, which attribute
 * values can be due at an instant (so the scan's query can narrow by them),
 * and the latest occurrence of a `schedule` trigger's cron in a window.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface DateTrigger {
  attribute: string;
  offset_days?: number | undefined;
  hour?: number | undefined;
  every_year?: boolean | undefined;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** YYYY-MM-DD of a UTC-fields date. */
function isoDay(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * The date an attribute value names, as UTC-fields ms: an ISO date
 * (YYYY-MM-DD), optionally with a time after it (T10:00, " 10:00:00Z"),
 * whose date part is taken as it is written (not moved to another zone).
 */
export function attributeDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ]\d{2}:\d{2})/.exec(value);
  if (!match) return undefined;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(y, m - 1, d);
  // Date.UTC rolls 2026-02-31 over to March: such a value names no date.
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d)
    return undefined;
  return ms;
}

/** The zone a contact's local time is read in: its own, else the workspace's, else UTC. */
export function zoneOf(contactZone: string | null | undefined, workspaceZone: string | undefined): string {
  if (contactZone && isTimeZone(contactZone)) return contactZone;
  if (workspaceZone && isTimeZone(workspaceZone)) return workspaceZone;
  return 'UTC';
}

/**
 * The occurrence (YYYY-MM-DD: the attribute's date, or with every_year its
 * recurrence in that year) for which the contact is due at `now`, if any:
 * its local date in `zone` is the occurrence plus offset_days and its local
 * time is at or past `hour` (default 0). "At or past" rather than "in" the
 * hour, so a scan that missed the hour (the server was down) still enrols
 * the day's contacts later that day; the trigger id (one per occurrence)
 * keeps it to once.
 *
 * every_year: the month and day recur yearly, from the attribute's own date
 * on (a renewal date in the future has no earlier anniversaries). February 29
 * recurs on February 28 in years without one, so leap-day birthdays are not
 * skipped three years in four.
 */
export function dueOccurrence(
  trigger: DateTrigger,
  value: unknown,
  now: Date,
  zone: string,
): string | undefined {
  const date = attributeDate(value);
  if (date === undefined) return undefined;
  const wall = wallClock(now.getTime(), zone);
  const localDay = Math.floor(wall / DAY_MS) * DAY_MS;
  if (wall - localDay < (trigger.hour ?? 0) * HOUR_MS) return undefined;
  const occurrence = localDay - (trigger.offset_days ?? 0) * DAY_MS;
  if (!trigger.every_year) return occurrence === date ? isoDay(occurrence) : undefined;
  if (occurrence < date) return undefined;
  const o = new Date(occurrence);
  const a = new Date(date);
  const sameDay = o.getUTCMonth() === a.getUTCMonth() && o.getUTCDate() === a.getUTCDate();
  const leapDayOnThe28th =
    a.getUTCMonth() === 1 &&
    a.getUTCDate() === 29 &&
    o.getUTCMonth() === 1 &&
    o.getUTCDate() === 28 &&
    !isLeap(o.getUTCFullYear());
  return sameDay || leapDayOnThe28th ? isoDay(occurrence) : undefined;
}

/**
 * What the attribute's value may start with for a contact to be due at
 * `now` in any time zone: local dates on Earth span at most the UTC date and
 * the days either side of it (offsets run from -12 to +14 hours), so the
 * occurrence is one of three dates. Dates (YYYY-MM-DD) for one-off triggers;
 * month-days (MM-DD, the value's characters 6-10) for every_year, with 02-29
 * when 02-28 is among them. `dueOccurrence` decides per contact.
 */
export function candidateValues(trigger: DateTrigger, now: Date): { dates?: string[]; monthDays?: string[] } {
  const utcDay = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const occurrences = [-1, 0, 1].map((d) => isoDay(utcDay + (d - (trigger.offset_days ?? 0)) * DAY_MS));
  if (!trigger.every_year) return { dates: occurrences };
  const monthDays = occurrences.map((d) => d.slice(5));
  if (monthDays.includes('02-28')) monthDays.push('02-29');
  return { monthDays };
}

/** How far back `latestOccurrence` first looks, so a frequent cron is not stepped through from long ago. */
const PROBES_MS = [26 * HOUR_MS, 8 * DAY_MS, 32 * DAY_MS, 367 * DAY_MS];

/**
 * The latest occurrence of the cron in (after, until], in the zone, or
 * undefined when there is none. The scan handles only this one: occurrences
 * missed while no worker ran are not caught up one by one (the segment's
 * members would get the same journey several times in a row).
 */
export function latestOccurrence(
  cron: string | CronExpression,
  after: Date,
  until: Date,
  zone: string,
): Date | undefined {
  const expression = typeof cron === 'string' ? parseCron(cron) : cron;
  const end = until.getTime();
  const first = nextOccurrence(expression, after, zone);
  if (first.getTime() > end) return undefined;
  let latest = first;
  for (const span of PROBES_MS) {
    const from = end - span;
    if (from <= first.getTime()) break;
    const probe = nextOccurrence(expression, new Date(from), zone);
    if (probe.getTime() <= end) {
      latest = probe;
      break;
    }
  }
  for (;;) {
    const next = nextOccurrence(expression, latest, zone);
    if (next.getTime() > end) return latest;
    latest = next;
  }
}
