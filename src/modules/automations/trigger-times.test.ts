import { describe, expect, it } from 'vitest';
import { attributeDate, candidateValues, dueOccurrence, latestOccurrence, zoneOf } from './trigger-times.js';

const at = (iso: string) => new Date(iso);

describe('dueOccurrence', () => {
  const birthday = { attribute: 'birthday', hour: 9, every_year: true };

  it('is due on the local day from the local hour on, in the contact’s zone', () => {
    // 09:00 on 10 May in Auckland (NZST, +12) is 21:00 UTC on 9 May.
    expect(
      dueOccurrence(birthday, '1990-05-10', at('2026-05-09T20:59:00Z'), 'Pacific/Auckland'),
    ).toBeUndefined();
    expect(dueOccurrence(birthday, '1990-05-10', at('2026-05-09T21:00:00Z'), 'Pacific/Auckland')).toBe(
      '2026-05-10',
    );
    // Still due later that day (a missed hour), not the next day.
    expect(dueOccurrence(birthday, '1990-05-10', at('2026-05-10T11:00:00Z'), 'Pacific/Auckland')).toBe(
      '2026-05-10',
    );
    expect(
      dueOccurrence(birthday, '1990-05-10', at('2026-05-10T12:00:00Z'), 'Pacific/Auckland'),
    ).toBeUndefined();
    // 09:00 PDT (-7) is 16:00 UTC.
    expect(
      dueOccurrence(birthday, '1990-05-10', at('2026-05-10T15:59:00Z'), 'America/Los_Angeles'),
    ).toBeUndefined();
    expect(
      dueOccurrence(birthday, '1990-05-10T00:00:00Z', at('2026-05-10T16:00:00Z'), 'America/Los_Angeles'),
    ).toBe('2026-05-10');
  });

  it('shifts by offset_days and, without every_year, matches the full date', () => {
    const renewal = { attribute: 'renews_on', offset_days: -7 };
    expect(dueOccurrence(renewal, '2026-06-01', at('2026-05-25T00:00:00Z'), 'UTC')).toBe('2026-06-01');
    expect(dueOccurrence(renewal, '2026-06-01', at('2026-05-24T23:59:00Z'), 'UTC')).toBeUndefined();
    expect(dueOccurrence(renewal, '2026-06-01', at('2026-06-01T10:00:00Z'), 'UTC')).toBeUndefined();
    expect(dueOccurrence(renewal, '2025-06-01', at('2025-05-25T10:00:00Z'), 'UTC')).toBe('2025-06-01');
    expect(dueOccurrence(renewal, '2025-06-01', at('2026-05-25T10:00:00Z'), 'UTC')).toBeUndefined();
    // every_year with an offset across the new year: 2 January's reminder is on 26 December before it.
    expect(
      dueOccurrence({ ...renewal, every_year: true }, '2020-01-02', at('2026-12-26T10:00:00Z'), 'UTC'),
    ).toBe('2027-01-02');
  });

  it('recurs 29 February on 28 February in years without one, and not before the date itself', () => {
    const leap = { attribute: 'birthday', every_year: true };
    expect(dueOccurrence(leap, '2000-02-29', at('2027-02-28T12:00:00Z'), 'UTC')).toBe('2027-02-28');
    expect(dueOccurrence(leap, '2000-02-29', at('2028-02-28T12:00:00Z'), 'UTC')).toBeUndefined();
    expect(dueOccurrence(leap, '2000-02-29', at('2028-02-29T12:00:00Z'), 'UTC')).toBe('2028-02-29');
    expect(dueOccurrence(leap, '2030-03-01', at('2027-03-01T12:00:00Z'), 'UTC')).toBeUndefined();
  });

  it('refuses values that name no date', () => {
    for (const value of [
      'not a date',
      '2026-02-31',
      '10/05/1990',
      19900510,
      null,
      '1990-05-10x',
      '1990-05-10 is the day',
    ])
      expect(attributeDate(value)).toBeUndefined();
    expect(dueOccurrence({ attribute: 'b' }, 'soon', at('2026-05-10T12:00:00Z'), 'UTC')).toBeUndefined();
  });
});

describe('candidateValues', () => {
  it('names the three dates a local day can be, shifted by the offset', () => {
    expect(candidateValues({ attribute: 'a', offset_days: -7 }, at('2026-05-25T03:00:00Z'))).toEqual({
      dates: ['2026-05-31', '2026-06-01', '2026-06-02'],
    });
    expect(candidateValues({ attribute: 'a', every_year: true }, at('2027-03-01T03:00:00Z'))).toEqual({
      monthDays: ['02-28', '03-01', '03-02', '02-29'],
    });
  });
});

describe('zoneOf', () => {
  it('takes the contact’s zone, else the workspace’s, else UTC', () => {
    expect(zoneOf('Pacific/Auckland', 'Europe/Berlin')).toBe('Pacific/Auckland');
    expect(zoneOf(null, 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(zoneOf('Mars/Olympus', 'Nowhere/Else')).toBe('UTC');
  });
});

describe('latestOccurrence', () => {
  it('is the last occurrence in the window, or none', () => {
    const monday10 = '0 10 * * mon';
    expect(
      latestOccurrence(monday10, at('2026-06-01T00:00:00Z'), at('2026-06-01T07:59:00Z'), 'Europe/Berlin'),
    ).toBeUndefined();
    expect(
      latestOccurrence(monday10, at('2026-06-01T00:00:00Z'), at('2026-06-01T08:00:00Z'), 'Europe/Berlin'),
    ).toEqual(at('2026-06-01T08:00:00Z'));
    // Three Mondays missed: only the latest.
    expect(
      latestOccurrence(monday10, at('2026-06-01T08:00:00Z'), at('2026-06-23T12:00:00Z'), 'Europe/Berlin'),
    ).toEqual(at('2026-06-22T08:00:00Z'));
    // A frequent cron over a long outage does not step from its start.
    expect(
      latestOccurrence('* * * * *', at('2025-01-01T00:00:00Z'), at('2026-06-23T12:00:30Z'), 'UTC'),
    ).toEqual(at('2026-06-23T12:00:00Z'));
    expect(
      latestOccurrence('0 0 1 1 *', at('2020-06-01T00:00:00Z'), at('2026-06-23T12:00:00Z'), 'UTC'),
    ).toEqual(at('2026-01-01T00:00:00Z'));
  });
});
