import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CronError,
  cronError,
  matchesWall,
  nextOccurrence,
  parseCron,
  wallClock,
  wallToInstant,
} from './cron.js';

const next = (expression: string, after: string, zone = 'UTC') =>
  nextOccurrence(expression, new Date(after), zone).toISOString();

function fieldOf(expression: string): string | undefined {
  try {
    parseCron(expression);
    return 'ok';
  } catch (error) {
    return error instanceof CronError ? error.field : 'other';
  }
}

describe('parseCron', () => {
  it('reads stars, lists, ranges, steps and names', () => {
    const c = parseCron('*/15 9-17/4 1,15 jan-mar mon-fri');
    expect(c.minutes).toEqual([0, 15, 30, 45]);
    expect(c.hours).toEqual([9, 13, 17]);
    expect([...c.days]).toEqual([1, 15]);
    expect([...c.months]).toEqual([1, 2, 3]);
    expect([...c.weekdays].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(c.dayRestricted && c.weekdayRestricted).toBe(true);
  });

  it('reads 0 and 7 as Sunday, names in any case, and the @ macros', () => {
    expect([...parseCron('0 0 * * 7').weekdays]).toEqual([0]);
    expect([...parseCron('0 0 * * 0').weekdays]).toEqual([0]);
    expect([...parseCron('0 0 * * SUN,Sat').weekdays].sort()).toEqual([0, 6]);
    expect([...parseCron('0 0 * * 5-7').weekdays].sort()).toEqual([0, 5, 6]);
    expect([...parseCron('0 0 * * fri-sun').weekdays].sort()).toEqual([0, 5, 6]);
    expect(parseCron('@weekly').minutes).toEqual([0]);
    expect(parseCron('  0  9 * * *  ').hours).toEqual([9]);
    expect(parseCron('5/20 * * * *').minutes).toEqual([5, 25, 45]);
  });

  it('says which field is wrong', () => {
    expect(fieldOf('60 * * * *')).toBe('minute');
    expect(fieldOf('* 24 * * *')).toBe('hour');
    expect(fieldOf('* * 0 * *')).toBe('day-of-month');
    expect(fieldOf('* * 32 * *')).toBe('day-of-month');
    expect(fieldOf('* * * 13 *')).toBe('month');
    expect(fieldOf('* * * foo *')).toBe('month');
    expect(fieldOf('* * * * 8')).toBe('day-of-week');
    expect(fieldOf('* * * * funday')).toBe('day-of-week');
    expect(fieldOf('*/0 * * * *')).toBe('minute');
    expect(fieldOf('* 5-2 * * *')).toBe('hour');
    expect(fieldOf('1,,2 * * * *')).toBe('minute');
    expect(fieldOf('0 0 31 feb *')).toBe('day-of-month');
    expect(fieldOf('0 0 30 2 mon')).toBe('ok');
    expect(fieldOf('0 0 29 2 *')).toBe('ok');
    expect(cronError('* * 32 * *')).toBe('day-of-month field: 32 is outside 1-31');
    expect(cronError('* * * *')).toMatch(/5 fields .* this one has 4/);
    expect(cronError('* * * * * *')).toMatch(/this one has 6/);
    expect(cronError('0 9 * * mon')).toBeUndefined();
  });
});

describe('nextOccurrence', () => {
  it('finds the next minute, hour, day and weekday', () => {
    expect(next('* * * * *', '2026-05-01T10:00:00Z')).toBe('2026-05-01T10:01:00.000Z');
    expect(next('* * * * *', '2026-05-01T10:00:30Z')).toBe('2026-05-01T10:01:00.000Z');
    expect(next('0 9 * * *', '2026-05-01T09:00:00Z')).toBe('2026-05-02T09:00:00.000Z');
    expect(next('0 9 * * *', '2026-05-01T08:59:59.999Z')).toBe('2026-05-01T09:00:00.000Z');
    // 2026-05-01 is a Friday.
    expect(next('30 8 * * mon', '2026-05-01T00:00:00Z')).toBe('2026-05-04T08:30:00.000Z');
    expect(next('0 0 1 * *', '2026-12-15T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('0 0 29 2 *', '2026-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
  });

  it('fires on either day field when both are restricted', () => {
    // The 13th, or any Friday: Friday 2026-05-01 comes before 2026-05-13.
    expect(next('0 12 13 * fri', '2026-04-30T00:00:00Z')).toBe('2026-05-01T12:00:00.000Z');
    expect(next('0 12 13 * fri', '2026-05-09T00:00:00Z')).toBe('2026-05-13T12:00:00.000Z');
    // Only the day of month restricted: weekday ignored.
    expect(next('0 12 13 * *', '2026-05-09T00:00:00Z')).toBe('2026-05-13T12:00:00.000Z');
  });

  it('uses the time zone, summer and winter', () => {
    expect(next('0 9 * * *', '2026-01-10T00:00:00Z', 'Europe/Berlin')).toBe('2026-01-10T08:00:00.000Z');
    expect(next('0 9 * * *', '2026-07-10T00:00:00Z', 'Europe/Berlin')).toBe('2026-07-10T07:00:00.000Z');
    expect(next('0 9 * * *', '2026-07-10T00:00:00Z', 'America/New_York')).toBe('2026-07-10T13:00:00.000Z');
    expect(next('30 0 * * *', '2026-01-10T00:00:00Z', 'Asia/Kolkata')).toBe('2026-01-10T19:00:00.000Z');
    // Local Monday is still Sunday in UTC.
    expect(next('0 1 * * mon', '2026-05-01T00:00:00Z', 'Asia/Tokyo')).toBe('2026-05-03T16:00:00.000Z');
  });

  it('Berlin spring-forward: a skipped wall time fires once, one offset later', () => {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00Z).
    expect(next('30 2 * * *', '2026-03-28T12:00:00Z', 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z');
    expect(next('30 2 * * *', '2026-03-29T01:30:00Z', 'Europe/Berlin')).toBe('2026-03-30T00:30:00.000Z');
    // The weekly Sunday 02:00 run is not lost: it fires at 03:00 CEST.
    expect(next('0 2 * * sun', '2026-03-28T00:00:00Z', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(next('0 3 * * *', '2026-03-28T12:00:00Z', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(next('0 * * * *', '2026-03-29T00:30:00Z', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(next('0 * * * *', '2026-03-29T01:00:00Z', 'Europe/Berlin')).toBe('2026-03-29T02:00:00.000Z');
  });

  it('Berlin fall-back: a repeated wall time fires once, at its first occurrence', () => {
    // 2026-10-25 03:00 CEST falls back to 02:00 CET (01:00Z); 02:30 happens at 00:30Z and 01:30Z.
    expect(next('30 2 * * *', '2026-10-24T12:00:00Z', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
    expect(next('30 2 * * *', '2026-10-25T00:30:00Z', 'Europe/Berlin')).toBe('2026-10-26T01:30:00.000Z');
    expect(next('0 3 * * *', '2026-10-24T12:00:00Z', 'Europe/Berlin')).toBe('2026-10-25T02:00:00.000Z');
  });

  it('New York: spring-forward and fall-back', () => {
    // 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
    expect(next('15 2 * * *', '2026-03-07T12:00:00Z', 'America/New_York')).toBe('2026-03-08T07:15:00.000Z');
    expect(next('0 9 * * *', '2026-03-08T00:00:00Z', 'America/New_York')).toBe('2026-03-08T13:00:00.000Z');
    expect(next('30 1 * * *', '2026-10-31T12:00:00Z', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    expect(next('30 1 * * *', '2026-11-01T05:30:00Z', 'America/New_York')).toBe('2026-11-02T06:30:00.000Z');
    expect(next('0 9 * * *', '2026-11-01T00:00:00Z', 'America/New_York')).toBe('2026-11-01T14:00:00.000Z');
  });

  it('refuses a bad expression', () => {
    expect(() => nextOccurrence('0 25 * * *', new Date(), 'UTC')).toThrow(/hour field/);
  });
});

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'America/Sao_Paulo',
  'Pacific/Chatham',
];

const item = (min: number, max: number) =>
  fc.oneof(
    fc.constant('*'),
    fc.integer({ min, max }).map(String),
    fc
      .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
      .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.integer({ min: 1, max: Math.min(max, 20) }).map((s) => `*/${s}`),
  );
const field = (min: number, max: number) =>
  fc.array(item(min, max), { minLength: 1, maxLength: 3 }).map((items) => items.join(','));
const expression = fc
  .tuple(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 7))
  .map((parts) => parts.join(' '));
const instant = fc
  .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) })
  .map((ms) => new Date(ms));

/** Whether the instant fires by the rule: its wall minute matches and this is that wall time's instant. */
function fires(expressionText: string, t: number, zone: string): boolean {
  const cron = parseCron(expressionText);
  if (t % 60_000 !== 0) return false;
  const wall = wallClock(t, zone);
  if (matchesWall(cron, wall) && wallToInstant(wall, zone) === t) return true;
  // A skipped wall time fires an offset later: look back across a DST gap (at most 3 hours).
  for (let shift = 30 * 60_000; shift <= 3 * 3600_000; shift += 30 * 60_000) {
    const skipped = wall - shift;
    if (
      matchesWall(cron, skipped) &&
      wallToInstant(skipped, zone) === t &&
      wallClock(t - shift, zone) !== skipped
    )
      return true;
  }
  return false;
}

describe('nextOccurrence properties', () => {
  it('is after `after` and fires by the rule in that zone', () => {
    fc.assert(
      fc.property(expression, instant, fc.constantFrom(...ZONES), (expr, after, zone) => {
        const result = nextOccurrence(expr, after, zone).getTime();
        expect(result).toBeGreaterThan(after.getTime());
        expect(fires(expr, result, zone)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('skips no occurrence in between (frequent expressions, minute by minute)', () => {
    const frequent = fc
      .tuple(field(0, 59), fc.constantFrom('*', '*/2', '1-5,20-23', '2'))
      .map(([m, h]) => `${m} ${h} * * *`);
    // Instants near DST changes of the zones above, where skipping would happen.
    const nearChange = fc.constantFrom(
      Date.UTC(2026, 2, 29, 0, 0),
      Date.UTC(2026, 9, 25, 0, 0),
      Date.UTC(2026, 2, 8, 6, 0),
      Date.UTC(2026, 10, 1, 5, 0),
      Date.UTC(2026, 3, 4, 14, 0),
      Date.UTC(2026, 9, 3, 15, 0),
    );
    fc.assert(
      fc.property(
        frequent,
        nearChange,
        fc.integer({ min: 0, max: 180 }),
        fc.constantFrom(...ZONES),
        (expr, base, minutes, zone) => {
          const after = base + minutes * 60_000;
          const result = nextOccurrence(expr, new Date(after), zone).getTime();
          for (let t = Math.floor(after / 60_000) * 60_000 + 60_000; t < result; t += 60_000)
            expect(fires(expr, t, zone), `${expr} ${zone} ${new Date(t).toISOString()}`).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('chained occurrences strictly increase', () => {
    fc.assert(
      fc.property(expression, instant, fc.constantFrom(...ZONES), (expr, after, zone) => {
        let t = after;
        for (let i = 0; i < 5; i++) {
          const n = nextOccurrence(expr, t, zone);
          expect(n.getTime()).toBeGreaterThan(t.getTime());
          t = n;
        }
      }),
      { numRuns: 50 },
    );
  });
});
