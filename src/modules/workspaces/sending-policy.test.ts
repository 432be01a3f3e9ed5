import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capFreeAt, nextAllowedSend, quietHoursEnd } from './sending-policy.js';
import type { SendingPolicy } from './workspaces.service.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy = (over: Partial<SendingPolicy> = {}): SendingPolicy => ({
  frequency_caps: { per_day: null, per_week: null },
  quiet_hours: null,
  ...over,
});
const at = (iso: string) => new Date(iso);

describe('quiet hours', () => {
  const night = policy({ quiet_hours: { start: '21:00', end: '08:00' } });

  it('span midnight: late evening and early morning are quiet, the day is not', () => {
    expect(quietHoursEnd(night, 'UTC', at('2026-12-02T21:00:00Z'))).toEqual(at('2026-12-03T08:00:00Z'));
    expect(quietHoursEnd(night, 'UTC', at('2026-12-03T07:59:00Z'))).toEqual(at('2026-12-03T08:00:00Z'));
    expect(quietHoursEnd(night, 'UTC', at('2026-12-03T08:00:00Z'))).toBeUndefined();
    expect(quietHoursEnd(night, 'UTC', at('2026-12-02T20:59:00Z'))).toBeUndefined();
  });

  it("are the contact's local hours", () => {
    // 23:00 UTC is 18:00 in New York (allowed) and 08:00 the next morning in Tokyo (allowed) but 00:00 in Berlin.
    const t = at('2026-12-02T23:00:00Z');
    expect(quietHoursEnd(night, 'America/New_York', t)).toBeUndefined();
    expect(quietHoursEnd(night, 'Asia/Tokyo', t)).toBeUndefined();
    expect(quietHoursEnd(night, 'Europe/Berlin', t)).toEqual(at('2026-12-03T07:00:00Z'));
  });

  it('within one day when the start comes before the end', () => {
    const lunch = policy({ quiet_hours: { start: '12:00', end: '14:00' } });
    expect(quietHoursEnd(lunch, 'UTC', at('2026-12-02T13:00:00Z'))).toEqual(at('2026-12-02T14:00:00Z'));
    expect(quietHoursEnd(lunch, 'UTC', at('2026-12-02T14:00:00Z'))).toBeUndefined();
    expect(quietHoursEnd(lunch, 'UTC', at('2026-12-02T11:59:00Z'))).toBeUndefined();
  });

  it('end at the local time across a DST change', () => {
    // Berlin moves from UTC+1 to UTC+2 in the night of 2027-03-28: 08:00 that morning is 06:00 UTC.
    expect(quietHoursEnd(night, 'Europe/Berlin', at('2027-03-27T22:00:00Z'))).toEqual(
      at('2027-03-28T06:00:00Z'),
    );
  });
});

describe('frequency caps', () => {
  it('admit the next email when the oldest one that must leave the window has left it', () => {
    const caps = policy({ frequency_caps: { per_day: 2, per_week: null } });
    const now = at('2026-12-02T12:00:00Z');
    const sends = [at('2026-12-02T01:00:00Z'), at('2026-12-02T05:00:00Z'), at('2026-12-01T09:00:00Z')];
    expect(capFreeAt(caps, sends, now)).toEqual({ until: at('2026-12-03T01:00:00Z'), cap: 'per_day' });
    expect(capFreeAt(caps, sends.slice(1), now)).toBeUndefined();
  });

  it('take the later of the daily and the weekly cap', () => {
    const caps = policy({ frequency_caps: { per_day: 1, per_week: 2 } });
    const now = at('2026-12-08T12:00:00Z');
    const sends = [at('2026-12-03T10:00:00Z'), at('2026-12-08T09:00:00Z')];
    expect(capFreeAt(caps, sends, now)).toEqual({ until: at('2026-12-10T10:00:00Z'), cap: 'per_week' });
  });
});

describe('the next allowed send', () => {
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Auckland'];
  const clock = fc.integer({ min: 0, max: 23 * 60 + 59 }).map((m) => {
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
  });
  const arbitraryPolicy = fc
    .record({
      per_day: fc.option(fc.integer({ min: 1, max: 3 })),
      per_week: fc.option(fc.integer({ min: 1, max: 6 })),
      quiet: fc.option(fc.tuple(clock, clock).filter(([a, b]) => a !== b)),
    })
    .map(
      (p): SendingPolicy => ({
        frequency_caps: { per_day: p.per_day, per_week: p.per_week },
        quiet_hours: p.quiet ? { start: p.quiet[0], end: p.quiet[1] } : null,
      }),
    );
  const base = at('2027-03-20T00:00:00Z').getTime(); // spans the spring DST changes of Europe and the US

  it('is allowed, and no earlier minute is', () => {
    fc.assert(
      fc.property(
        arbitraryPolicy,
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 14 * DAY }),
        fc.array(fc.integer({ min: 0, max: 7 * DAY }), { maxLength: 8 }),
        (p, zone, offset, ago) => {
          const now = new Date(base + offset);
          const sends = ago.map((a) => new Date(now.getTime() - a));
          const deferral = nextAllowedSend(p, zone, sends, now);
          const allowed = (t: Date) => !capFreeAt(p, sends, t) && !quietHoursEnd(p, zone, t);
          if (!deferral) return allowed(now);
          if (!allowed(deferral.until) || deferral.until <= now) return false;
          for (let t = now.getTime(); t < deferral.until.getTime() - 60_000; t += 15 * 60_000)
            if (allowed(new Date(t))) return false;
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
