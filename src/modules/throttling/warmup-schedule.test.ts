import { describe, expect, it } from 'vitest';
import { capOn, growthCaps, MAX_SCHEDULE_DAYS, scheduleCaps, standing } from './warmup-schedule.js';

const at = (iso: string) => new Date(iso);

describe('generated caps', () => {
  it('grow by the factor from the start volume and end on the first day at the target', () => {
    expect(growthCaps({ start_volume: 50, factor: 2, target: 1000 })).toEqual([50, 100, 200, 400, 800, 1000]);
    expect(growthCaps({ start_volume: 100, factor: 1.5, target: 500 })).toEqual([100, 150, 225, 338, 500]);
    expect(growthCaps({ start_volume: 500, factor: 3, target: 500 })).toEqual([500]);
  });

  it('never fall from one day to the next, however the rounding goes', () => {
    const caps = growthCaps({ start_volume: 1, factor: 1.1, target: 20 });
    for (let i = 1; i < caps.length; i++) expect(caps[i]).toBeGreaterThanOrEqual(caps[i - 1] as number);
    expect(caps.at(-1)).toBe(20);
  });

  it('stop past the longest schedule when the growth is too slow, so the caller can refuse it', () => {
    expect(growthCaps({ start_volume: 10, factor: 1.001, target: 1_000_000 }).length).toBe(
      MAX_SCHEDULE_DAYS + 1,
    );
  });

  it('follow the listed days when both are given', () => {
    expect(scheduleCaps([20, 40], { start_volume: 100, factor: 2, target: 300 })).toEqual([
      20, 40, 100, 200, 300,
    ]);
    expect(scheduleCaps([20, 40], undefined)).toEqual([20, 40]);
  });
});

describe('where a schedule stands', () => {
  const schedule = { start_date: '2026-03-28', caps: [100, 200, 400] };

  it('has no cap before its start and after its last day', () => {
    expect(capOn(schedule, '2026-03-27')).toBeNull();
    expect(capOn(schedule, '2026-03-28')).toBe(100);
    expect(capOn(schedule, '2026-03-30')).toBe(400);
    expect(capOn(schedule, '2026-03-31')).toBeNull();
  });

  it("counts days in the workspace's zone, across a DST change", () => {
    // 22:30 UTC on 28 March is 23:30 in Berlin (day 1), 23:00 UTC is already 29 March (day 2).
    const first = standing(schedule, at('2026-03-28T22:30:00Z'), 'Europe/Berlin');
    expect(first).toMatchObject({ state: 'warming', day: 1, days: 3, today: '2026-03-28', today_cap: 100 });
    expect(first.day_ends_at).toEqual(at('2026-03-28T23:00:00Z'));
    const second = standing(schedule, at('2026-03-28T23:00:00Z'), 'Europe/Berlin');
    expect(second).toMatchObject({ day: 2, today_cap: 200 });
    // 29 March has 23 hours in Berlin: day 3 starts at 22:00 UTC.
    expect(second.day_ends_at).toEqual(at('2026-03-29T22:00:00Z'));
    expect(second.ends_on).toBe('2026-03-31');
    expect(second.ends_at).toEqual(at('2026-03-30T22:00:00Z'));
    expect(second.starts_at).toEqual(at('2026-03-27T23:00:00Z'));
  });

  it('is scheduled before the start and finished after the end', () => {
    expect(standing(schedule, at('2026-03-27T12:00:00Z'), 'UTC')).toMatchObject({
      state: 'scheduled',
      day: null,
      today_cap: null,
    });
    expect(standing(schedule, at('2026-03-31T00:00:00Z'), 'UTC')).toMatchObject({
      state: 'finished',
      day: null,
      today_cap: null,
      ends_on: '2026-03-31',
    });
  });
});
