import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDays,
  daysBetween,
  isLocalDate,
  localDate,
  releaseWindow,
  startOfDay,
  windowAfter,
  windowEnd,
  windowStart,
} from './throttle-windows.js';

const at = (iso: string) => new Date(iso);
const HOUR = 3_600_000;

describe('minute and hour windows', () => {
  it('are clock minutes and hours in UTC, whatever the zone', () => {
    const t = at('2026-12-02T10:17:42.500Z');
    expect(windowStart('minute', t, 'Asia/Kolkata')).toEqual(at('2026-12-02T10:17:00Z'));
    expect(windowEnd('minute', t, 'Asia/Kolkata')).toEqual(at('2026-12-02T10:18:00Z'));
    expect(windowStart('hour', t, 'America/New_York')).toEqual(at('2026-12-02T10:00:00Z'));
    expect(windowEnd('hour', t, 'America/New_York')).toEqual(at('2026-12-02T11:00:00Z'));
    expect(windowAfter('minute', at('2026-12-02T10:17:00Z'), 3, 'UTC')).toEqual(at('2026-12-02T10:20:00Z'));
  });

  it('start at their own first instant and end at the next one', () => {
    expect(windowStart('minute', at('2026-12-02T10:18:00Z'), 'UTC')).toEqual(at('2026-12-02T10:18:00Z'));
    expect(windowEnd('minute', at('2026-12-02T10:17:59.999Z'), 'UTC')).toEqual(at('2026-12-02T10:18:00Z'));
  });
});

describe('day windows', () => {
  it("are calendar days in the workspace's zone", () => {
    // 03:30 UTC is still the evening before in New York (UTC-5 in December).
    const t = at('2026-12-03T03:30:00Z');
    expect(localDate(t, 'America/New_York')).toBe('2026-12-02');
    expect(windowStart('day', t, 'America/New_York')).toEqual(at('2026-12-02T05:00:00Z'));
    expect(windowEnd('day', t, 'America/New_York')).toEqual(at('2026-12-03T05:00:00Z'));
    expect(windowStart('day', t, 'UTC')).toEqual(at('2026-12-03T00:00:00Z'));
    expect(windowStart('day', t, 'Asia/Tokyo')).toEqual(at('2026-12-02T15:00:00Z'));
  });

  it('last 23 and 25 hours across DST changes (Berlin)', () => {
    const spring = windowStart('day', at('2026-03-29T12:00:00Z'), 'Europe/Berlin');
    expect(spring).toEqual(at('2026-03-28T23:00:00Z'));
    expect(windowEnd('day', spring, 'Europe/Berlin').getTime() - spring.getTime()).toBe(23 * HOUR);
    const autumn = windowStart('day', at('2026-10-25T12:00:00Z'), 'Europe/Berlin');
    expect(autumn).toEqual(at('2026-10-24T22:00:00Z'));
    expect(windowEnd('day', autumn, 'Europe/Berlin').getTime() - autumn.getTime()).toBe(25 * HOUR);
    // Counting days on from a DST day lands on local midnights.
    expect(windowAfter('day', spring, 2, 'Europe/Berlin')).toEqual(at('2026-03-30T22:00:00Z'));
  });

  it('start at the first local instant where DST skips or repeats midnight', () => {
    // Havana skips 00:00-01:00 on 8 March 2026 and repeats 00:00-01:00 on 1 November.
    expect(startOfDay('2026-03-08', 'America/Havana')).toEqual(at('2026-03-08T05:00:00Z'));
    expect(startOfDay('2026-11-01', 'America/Havana')).toEqual(at('2026-11-01T04:00:00Z'));
    expect(windowEnd('day', at('2026-11-01T12:00:00Z'), 'America/Havana')).toEqual(
      at('2026-11-02T05:00:00Z'),
    );
    // Santiago skips midnight on 6 September 2026: that day has 23 hours.
    const skipped = startOfDay('2026-09-06', 'America/Santiago');
    expect(skipped).toEqual(at('2026-09-06T04:00:00Z'));
    expect(windowEnd('day', skipped, 'America/Santiago')).toEqual(at('2026-09-07T03:00:00Z'));
  });

  it('contain every instant of their local date and no other (property)', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'America/Havana', 'Australia/Lord_Howe'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) }),
        fc.constantFrom(...zones),
        (ms, zone) => {
          const t = new Date(ms);
          const start = windowStart('day', t, zone);
          const end = windowEnd('day', t, zone);
          expect(start.getTime()).toBeLessThanOrEqual(ms);
          expect(end.getTime()).toBeGreaterThan(ms);
          expect(localDate(start, zone)).toBe(localDate(t, zone));
          expect(localDate(new Date(start.getTime() - 1), zone)).not.toBe(localDate(t, zone));
          expect(localDate(new Date(end.getTime() - 1), zone)).toBe(localDate(t, zone));
          expect(localDate(end, zone)).toBe(addDays(localDate(t, zone), 1));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('calendar dates', () => {
  it('add, count and check days', () => {
    expect(addDays('2026-02-27', 2)).toBe('2026-03-01');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
    expect(daysBetween('2026-03-28', '2026-03-30')).toBe(2);
    expect(daysBetween('2026-03-30', '2026-03-28')).toBe(-2);
    expect(isLocalDate('2026-02-28')).toBe(true);
    expect(isLocalDate('2026-02-30')).toBe(false);
    expect(isLocalDate('2026-2-3')).toBe(false);
  });
});

describe('spreading waiting recipients over the coming windows', () => {
  it('puts `limit` recipients in each window after the current one', () => {
    expect([0, 1, 2, 3, 4].map((p) => releaseWindow(p, 2))).toEqual([1, 1, 2, 2, 3]);
  });

  it('follows capacities that change per window, and stops at the first window without a limit', () => {
    const caps = [3, 5];
    const capacity = (n: number) => caps[n - 1] ?? null;
    expect([0, 2, 3, 7, 8, 500].map((p) => releaseWindow(p, capacity))).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('never looks further than its bound', () => {
    expect(releaseWindow(1_000_000, 1, 400)).toBe(400);
    expect(releaseWindow(1_000_000, () => 1, 50)).toBe(50);
  });
});
