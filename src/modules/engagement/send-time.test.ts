import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bestHour,
  bestHourInWindow,
  countsFromRecord,
  deliveryTime,
  HOURS_PER_WEEK,
  hourOfWeek,
  hourScores,
  nextSendTime,
} from './send-time.js';

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);
/** Monday 2026-01-05 00:00 UTC: hour 0 of its week. */
const MONDAY = at('2026-01-05T00:00:00Z');
const counts = (record: Record<number, number>) => countsFromRecord(record);
const NONE = new Float64Array(HOURS_PER_WEEK);
/** A workspace whose people engage on Tuesdays at 14:00 UTC (hour 38), with a little everywhere else. */
const PRIOR = (() => {
  const c = new Float64Array(HOURS_PER_WEEK).fill(1);
  c[38] = 200;
  return c;
})();

describe('hour of the week', () => {
  it('is 0 on Monday 00:00-00:59 UTC and 167 on Sunday 23:00-23:59 UTC', () => {
    expect(hourOfWeek(MONDAY)).toBe(0);
    expect(hourOfWeek(at('2026-01-05T00:59:59.999Z'))).toBe(0);
    expect(hourOfWeek(at('2026-01-05T01:00:00Z'))).toBe(1);
    expect(hourOfWeek(at('2026-01-06T14:30:00Z'))).toBe(38);
    expect(hourOfWeek(at('2026-01-11T23:59:59Z'))).toBe(167);
    expect(hourOfWeek(at('2026-01-12T00:00:00Z'))).toBe(0);
  });

  it('ignores the local time zone of the process: it is UTC', () => {
    expect(hourOfWeek(at('2026-01-05T00:30:00+02:00'))).toBe(166); // Sunday 22:30 UTC
  });
});

describe('best hour', () => {
  it('is null without any history, the contact’s or the workspace’s', () => {
    expect(bestHour(hourScores(NONE, NONE))).toBeNull();
  });

  it('is the workspace’s best hour for a contact without history', () => {
    expect(bestHour(hourScores(NONE, PRIOR))).toBe(38);
  });

  it('stays the workspace’s after one engagement elsewhere: the prior dominates', () => {
    expect(bestHour(hourScores(counts({ 105: 1 }), PRIOR))).toBe(38); // Friday 09:00
  });

  it('becomes the contact’s own after a few engagements at one hour', () => {
    expect(bestHour(hourScores(counts({ 105: 2 }), PRIOR))).toBe(105);
    // Monday, Wednesday and Friday at 09:00 (hours 9, 57, 105): three at one hour of the day.
    const habit = hourScores(counts({ 9: 1, 57: 1, 105: 1 }), PRIOR);
    expect([9, 57, 105]).toContain(bestHour(habit));
    expect(habit[105]).toBeGreaterThan(habit[38] as number);
  });

  it('is the contact’s own without any workspace prior', () => {
    expect(bestHour(hourScores(counts({ 100: 1 }), NONE))).toBe(100);
  });

  it('pools a habit over the days: 09:00 on another day beats other hours of that day', () => {
    const scores = hourScores(counts({ 9: 1, 33: 1, 57: 1 }), NONE); // Mon, Tue, Wed at 09:00
    expect(scores[105]).toBeGreaterThan(0); // Friday 09:00 never seen, still pooled
    expect(bestHourInWindow(scores, at('2026-01-09T00:00:00Z'))).toBe(105); // a window on Friday picks 09:00
  });

  it('reads sparse counts and ignores keys that are not hours', () => {
    const c = countsFromRecord({ '3': 2, '200': 5, x: 1, '-1': 4, '7': 0 } as Record<string, number>);
    expect(c[3]).toBe(2);
    expect([...c].reduce((a, b) => a + b, 0)).toBe(2);
  });
});

describe('next send time', () => {
  it('is the start itself when the window starts inside that hour', () => {
    const start = at('2026-01-06T14:20:00Z');
    expect(nextSendTime(start, 38)).toEqual(start);
  });

  it('is the start of the hour later in the window', () => {
    expect(nextSendTime(at('2026-01-06T10:20:00Z'), 38)).toEqual(at('2026-01-06T14:00:00Z'));
  });

  it('wraps from Sunday to Monday across the week boundary', () => {
    const start = at('2026-01-11T22:30:00Z'); // Sunday 22:30, hour 166
    expect(nextSendTime(start, 167)).toEqual(at('2026-01-11T23:00:00Z'));
    expect(nextSendTime(start, 0)).toEqual(at('2026-01-12T00:00:00Z'));
    expect(nextSendTime(start, 21)).toEqual(at('2026-01-12T21:00:00Z'));
  });

  it('takes the hour the window ends in when it started mid-hour, never the end itself', () => {
    const start = at('2026-01-06T14:20:00Z'); // Tuesday 14:20, window to Wednesday 14:20
    expect(nextSendTime(start, 62)).toEqual(at('2026-01-07T14:00:00Z')); // Wednesday 14:00-14:20 is inside
    expect(nextSendTime(start, 63)).toBeUndefined(); // Wednesday 15:00 is after the window
    const onTheHour = at('2026-01-06T14:00:00Z');
    expect(nextSendTime(onTheHour, 62)).toBeUndefined(); // Wednesday 14:00 is the window's end, excluded
    expect(nextSendTime(onTheHour, 61)).toEqual(at('2026-01-07T13:00:00Z'));
  });

  it('is undefined for an hour the 24 hours do not reach', () => {
    expect(nextSendTime(at('2026-01-06T10:00:00Z'), 0)).toBeUndefined();
  });

  it('always lies in the window and in the hour asked for', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-01-01') }),
        fc.integer({ min: 0, max: 167 }),
        (ms, hour) => {
          const start = new Date(ms);
          const next = nextSendTime(start, hour);
          const inWindow = Array.from({ length: 25 }, (_, i) =>
            hourOfWeek(new Date(Math.floor(ms / HOUR) * HOUR + i * HOUR)),
          ).filter((_, i) => Math.floor(ms / HOUR) * HOUR + i * HOUR < ms + 24 * HOUR);
          if (!inWindow.includes(hour)) return next === undefined;
          return (
            next !== undefined &&
            next.getTime() >= ms &&
            next.getTime() < ms + 24 * HOUR &&
            hourOfWeek(next) === hour &&
            (next.getTime() === ms || next.getTime() % HOUR === 0)
          );
        },
      ),
    );
  });
});

describe('delivery time', () => {
  const start = at('2026-01-06T10:00:00Z'); // Tuesday 10:00

  it('is the best hour in the window, later than now', () => {
    expect(deliveryTime(hourScores(NONE, PRIOR), start, start)).toEqual(at('2026-01-06T14:00:00Z'));
  });

  it('is now once that hour has come or passed (a re-claim at its time, or after the window)', () => {
    const scores = hourScores(NONE, PRIOR);
    expect(deliveryTime(scores, start, at('2026-01-06T14:00:00Z'))).toEqual(at('2026-01-06T14:00:00Z'));
    expect(deliveryTime(scores, start, at('2026-01-08T09:00:00Z'))).toEqual(at('2026-01-08T09:00:00Z'));
  });

  it('is the best of the hours the window reaches when the best of the week is outside it', () => {
    // Best of the week: Tuesday 14:00 (38); a window from Thursday 10:00 has Thursday and Friday morning only.
    const scores = hourScores(counts({ 85: 3 }), PRIOR); // Thursday 13:00, seen three times (and 38 via the prior)
    const thursday = at('2026-01-08T10:00:00Z');
    expect(deliveryTime(scores, thursday, thursday)).toEqual(at('2026-01-08T13:00:00Z'));
  });

  it('is undefined without any history: send at once', () => {
    expect(deliveryTime(hourScores(NONE, NONE), start, start)).toBeUndefined();
  });
});
