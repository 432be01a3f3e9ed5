/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week)
 * and their next occurrence in an IANA time zone, without a dependency.
 *
 * Semantics across DST changes: every local wall-clock minute the expression
 * names fires exactly once. A wall time the zone skips (02:30 on a
 * spring-forward night) fires at the instant one offset later, as calendars
 * (RFC 5545) do, so a weekly "Sunday 02:30" never silently skips a week; a
 * wall time the zone repeats (02:30 on a fall-back night) fires at its first
 * occurrence only, so "daily at 02:30" does not run twice.
 */

export const CRON_FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
export type CronField = (typeof CRON_FIELDS)[number];

export class CronError extends Error {
  readonly field: CronField | undefined;
  constructor(message: string, field?: CronField) {
    super(message);
    this.name = 'CronError';
    this.field = field;
  }
}

export interface CronExpression {
  readonly source: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday ... 6 = Saturday (7 is read as 0). */
  readonly weekdays: ReadonlySet<number>;
  /** Whether day-of-month / day-of-week were restricted (did not start with "*"): both restricted means either matches. */
  readonly dayRestricted: boolean;
  readonly weekdayRestricted: boolean;
}

const RANGES: Record<CronField, { min: number; max: number; names?: readonly string[] }> = {
  minute: { min: 0, max: 59 },
  hour: { min: 0, max: 23 },
  'day-of-month': { min: 1, max: 31 },
  month: {
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  'day-of-week': { min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
};

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Longest month lengths (February 29 in leap years). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function parseValue(field: CronField, text: string): number {
  const range = RANGES[field];
  const nameIndex = range.names?.indexOf(text.toLowerCase()) ?? -1;
  if (nameIndex >= 0) return nameIndex + (field === 'month' ? 1 : 0);
  if (!/^\d{1,2}$/.test(text)) {
    throw new CronError(
      `${field} field: "${text}" is not a number${range.names ? ` or a name (${range.names.join(', ')})` : ''}`,
      field,
    );
  }
  const value = Number(text);
  if (value < range.min || value > range.max)
    throw new CronError(`${field} field: ${value} is outside ${range.min}-${range.max}`, field);
  return value;
}

function parseField(field: CronField, text: string): Set<number> {
  const range = RANGES[field];
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw new CronError(`${field} field: "${text}" has an empty list item`, field);
    const [base = '', stepText, extra] = item.split('/');
    if (extra !== undefined) throw new CronError(`${field} field: "${item}" has more than one "/"`, field);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) < 1 || Number(stepText) > range.max) {
        throw new CronError(
          `${field} field: the step in "${item}" must be a whole number from 1 to ${range.max}`,
          field,
        );
      }
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (base === '*') {
      low = range.min;
      high = field === 'day-of-week' ? 6 : range.max;
    } else if (base.includes('-')) {
      const [a = '', b = '', more] = base.split('-');
      if (more !== undefined) throw new CronError(`${field} field: "${base}" is not a range like 1-5`, field);
      low = parseValue(field, a);
      high = parseValue(field, b);
      // "fri-sun" ends on Sunday: read it as 5-7.
      if (field === 'day-of-week' && high === 0 && low > 0) high = 7;
      if (low > high)
        throw new CronError(`${field} field: the range "${base}" runs backwards; write it low-high`, field);
    } else {
      low = parseValue(field, base);
      // "5/15" means from 5 to the end in steps of 15, as in Vixie cron.
      high = stepText !== undefined ? range.max : low;
    }
    for (let v = low; v <= high; v += step) values.add(field === 'day-of-week' && v === 7 ? 0 : v);
  }
  return values;
}

/** Parses an expression; throws CronError naming the field that is wrong. */
export function parseCron(expression: string): CronExpression {
  if (typeof expression !== 'string') throw new CronError('a cron expression is a string');
  const source = expression.trim();
  const expanded = MACROS[source.toLowerCase()] ?? source;
  const parts = expanded.split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 5) {
    throw new CronError(
      `a cron expression has 5 fields (minute hour day-of-month month day-of-week), e.g. "0 9 * * mon"; this one has ${parts.length}`,
    );
  }
  const [minute, hour, day, month, weekday] = parts as [string, string, string, string, string];
  const days = parseField('day-of-month', day);
  const months = parseField('month', month);
  const weekdays = parseField('day-of-week', weekday);
  const dayRestricted = !day.startsWith('*');
  const weekdayRestricted = !weekday.startsWith('*');
  if (dayRestricted && !weekdayRestricted) {
    const possible = [...months].some((m) => [...days].some((d) => d <= (MONTH_DAYS[m - 1] ?? 0)));
    if (!possible)
      throw new CronError(
        `day-of-month field: day ${[...days].join(',')} never occurs in month ${[...months].join(',')}`,
        'day-of-month',
      );
  }
  return {
    source,
    minutes: [...parseField('minute', minute)].sort((a, b) => a - b),
    hours: [...parseField('hour', hour)].sort((a, b) => a - b),
    days,
    months,
    weekdays,
    dayRestricted,
    weekdayRestricted,
  };
}

/** The error message for a bad expression, undefined for a good one. */
export function cronError(expression: string): string | undefined {
  try {
    parseCron(expression);
    return undefined;
  } catch (error) {
    if (error instanceof CronError) return error.message;
    throw error;
  }
}

/** Whether the zone is one Intl knows (IANA names such as Europe/Berlin, or UTC). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

// Creating a DateTimeFormat costs far more than formatting with one, and the search formats many instants.
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock time at `instant` in the zone, as milliseconds of a UTC date with the same fields. */
export function wallClock(instant: number, timeZone: string): number {
  const fields: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant)))
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  const wholeSeconds = Date.UTC(
    fields.year ?? 0,
    (fields.month ?? 1) - 1,
    fields.day ?? 1,
    fields.hour ?? 0,
    fields.minute ?? 0,
    fields.second ?? 0,
  );
  return wholeSeconds + (((instant % 1000) + 1000) % 1000);
}

function offsetAt(instant: number, timeZone: string): number {
  return wallClock(instant, timeZone) - instant;
}

/**
 * No zone changes its offset twice within a day and twice this span, so the
 * offsets on either side of a change are found by looking this far.
 */
const SPAN = 14 * 3600_000;

/**
 * The instant of a wall-clock time (UTC-fields milliseconds) in the zone:
 * the first of two in a repeated hour, the one an offset later in a skipped one.
 */
export function wallToInstant(wall: number, timeZone: string): number {
  const before = offsetAt(wall - SPAN, timeZone);
  const after = offsetAt(wall + SPAN, timeZone);
  const candidates = [wall - before, wall - after]
    .filter((t) => offsetAt(t, timeZone) === wall - t)
    .sort((a, b) => a - b);
  return candidates[0] ?? wall - before;
}

function dayMatches(cron: CronExpression, day: Date): boolean {
  if (!cron.months.has(day.getUTCMonth() + 1)) return false;
  const byDay = cron.days.has(day.getUTCDate());
  const byWeekday = cron.weekdays.has(day.getUTCDay());
  if (cron.dayRestricted && cron.weekdayRestricted) return byDay || byWeekday;
  return byDay && byWeekday;
}

/** Whether the wall-clock minute (UTC-fields milliseconds) is one the expression names. */
export function matchesWall(cron: CronExpression, wall: number): boolean {
  const d = new Date(wall);
  return (
    dayMatches(cron, d) && cron.hours.includes(d.getUTCHours()) && cron.minutes.includes(d.getUTCMinutes())
  );
}

const DAY = 86_400_000;
/** Longer than any DST shift, so occurrences a shift moves out of wall-clock order are still compared. */
const SHIFT = 3 * 3600_000;
/** Enough for February 29 in a leap year after a run of non-leap years. */
const MAX_DAYS = 366 * 9;

/** The first instant strictly after `after` at which the expression fires in the zone. */
export function nextOccurrence(expression: string | CronExpression, after: Date, timeZone: string): Date {
  const cron = typeof expression === 'string' ? parseCron(expression) : expression;
  const afterMs = after.getTime();
  if (Number.isNaN(afterMs)) throw new RangeError('after is not a valid date');
  const scanFrom = wallClock(afterMs, timeZone) - SHIFT;
  let best: number | undefined;
  let bestWall = 0;
  const firstDay = Math.floor(scanFrom / DAY) * DAY;
  for (let i = 0, day = firstDay; i <= MAX_DAYS; i++, day += DAY) {
    if (best !== undefined && day > bestWall + SHIFT) break;
    if (!dayMatches(cron, new Date(day))) continue;
    // The same offset on both sides of the day means no change within it: each wall time is one subtraction
    // away, without formatting an instant per candidate minute.
    const offset = offsetAt(day - SPAN, timeZone);
    const steady = offset === offsetAt(day + DAY + SPAN, timeZone);
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const wall = day + hour * 3600_000 + minute * 60_000;
        if (wall < scanFrom) continue;
        if (best !== undefined && wall > bestWall + SHIFT) return new Date(best);
        const instant = steady ? wall - offset : wallToInstant(wall, timeZone);
        if (instant > afterMs && (best === undefined || instant < best)) {
          best = instant;
          bestWall = wall;
        }
      }
    }
  }
  if (best === undefined)
    throw new CronError(`"${cron.source}" has no occurrence in the next ${MAX_DAYS} days`);
  return new Date(best);
}
