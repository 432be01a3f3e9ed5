import { describe, expect, it } from 'vitest';
import { zonedTimeToUtc } from './zoned-time.js';

describe('zonedTimeToUtc', () => {
  it('applies the zone offset, summer and winter', () => {
    expect(zonedTimeToUtc('2026-12-01T09:00', 'Europe/Berlin')?.toISOString()).toBe(
      '2026-12-01T08:00:00.000Z',
    );
    expect(zonedTimeToUtc('2026-07-01T09:00:00', 'Europe/Berlin')?.toISOString()).toBe(
      '2026-07-01T07:00:00.000Z',
    );
    expect(zonedTimeToUtc('2026-07-01 09:00', 'America/New_York')?.toISOString()).toBe(
      '2026-07-01T13:00:00.000Z',
    );
    expect(zonedTimeToUtc('2026-01-15T23:30', 'Asia/Kolkata')?.toISOString()).toBe(
      '2026-01-15T18:00:00.000Z',
    );
    expect(zonedTimeToUtc('2026-01-15T12:00', 'UTC')?.toISOString()).toBe('2026-01-15T12:00:00.000Z');
  });

  it('handles the hours around DST changes', () => {
    // Berlin springs forward at 02:00 on 2026-03-29: 02:30 does not exist and lands after the jump.
    expect(zonedTimeToUtc('2026-03-29T02:30', 'Europe/Berlin')?.toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(zonedTimeToUtc('2026-03-29T03:30', 'Europe/Berlin')?.toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(zonedTimeToUtc('2026-03-29T01:30', 'Europe/Berlin')?.toISOString()).toBe(
      '2026-03-29T00:30:00.000Z',
    );
  });

  it('refuses text that is not a wall-clock time', () => {
    expect(zonedTimeToUtc('tomorrow 9am', 'Europe/Berlin')).toBeUndefined();
    expect(zonedTimeToUtc('2026-12-01T09:00Z', 'Europe/Berlin')).toBeUndefined();
  });
});
