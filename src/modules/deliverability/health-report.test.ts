import { describe, expect, it } from 'vitest';
import { buildHealthWindows } from './health-report.js';

const since = new Date('2026-01-01T00:00:00Z');
const counts = (sent: number, hard: number, soft: number, complaints: number) => ({
  sent,
  hard,
  soft,
  complaints,
});

describe('buildHealthWindows', () => {
  it('names statuses by the thresholds: complaints warning at 0.1%, critical at 0.3%', () => {
    const [window] = buildHealthWindows(
      [
        { provider: 'gmail', short: counts(1000, 0, 0, 0), long: counts(1000, 0, 0, 0) },
        { provider: 'yahoo', short: counts(1000, 20, 50, 1), long: counts(1000, 20, 50, 1) },
        { provider: 'outlook', short: counts(1000, 50, 100, 3), long: counts(1000, 50, 100, 3) },
      ],
      [{ days: 7, since, pick: 'short' }],
    );
    const by = Object.fromEntries((window?.providers ?? []).map((p) => [p.provider, p.status]));
    expect(by.gmail).toEqual({ hard_bounce_rate: 'ok', soft_bounce_rate: 'ok', complaint_rate: 'ok' });
    expect(by.yahoo).toEqual({
      hard_bounce_rate: 'warning',
      soft_bounce_rate: 'warning',
      complaint_rate: 'warning',
    });
    // herald_mailbox_provider() says outlook; the report says microsoft.
    expect(by.microsoft).toEqual({
      hard_bounce_rate: 'critical',
      soft_bounce_rate: 'critical',
      complaint_rate: 'critical',
    });
    expect(window?.total).toMatchObject({ sent: 3000, hard_bounces: 70, complaints: 4 });
  });

  it('gives null rates and ok when nothing was sent', () => {
    const [window] = buildHealthWindows([], [{ days: 30, since, pick: 'long' }]);
    expect(window?.total).toMatchObject({ sent: 0, complaint_rate: null, status: { complaint_rate: 'ok' } });
    expect(window?.providers.map((p) => p.provider)).toEqual([
      'gmail',
      'yahoo',
      'microsoft',
      'apple',
      'other',
    ]);
  });
});
