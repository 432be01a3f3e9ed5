import type { ProviderCounts } from './deliverability.repository.js';

/**
 * The deliverability health report, pure: counts per mailbox provider and
 * window -> rates and a status per rate.
 *
 * Thresholds: complaints follow the Gmail/Yahoo bulk-sender rules (stay under
 * 0.1%, never reach 0.3%). Hard bounces: 2% is a list needing cleaning, 5% is
 * where ESPs start suspending senders (commonly 5-10%). Soft bounces are
 * mostly temporary (full mailboxes, throttling): warning 5%, critical 10%.
 */
export const HEALTH_THRESHOLDS = {
  complaint_rate: { warning: 0.001, critical: 0.003 },
  hard_bounce_rate: { warning: 0.02, critical: 0.05 },
  soft_bounce_rate: { warning: 0.05, critical: 0.1 },
} as const;

export const PROVIDERS = ['gmail', 'yahoo', 'microsoft', 'apple', 'other'] as const;
export type Provider = (typeof PROVIDERS)[number];
export type HealthStatus = 'ok' | 'warning' | 'critical';

export interface HealthLine {
  sent: number;
  hard_bounces: number;
  soft_bounces: number;
  complaints: number;
  /** Per recipient sent in the window; null when nothing was sent. */
  hard_bounce_rate: number | null;
  soft_bounce_rate: number | null;
  complaint_rate: number | null;
  status: { hard_bounce_rate: HealthStatus; soft_bounce_rate: HealthStatus; complaint_rate: HealthStatus };
}

export interface HealthWindow {
  days: number;
  since: Date;
  total: HealthLine;
  providers: ({ provider: Provider } & HealthLine)[];
}

/** herald_mailbox_provider() names Microsoft's domains `outlook` (analytics); the report says microsoft. */
function providerName(sqlName: string): Provider {
  if (sqlName === 'outlook') return 'microsoft';
  return (PROVIDERS as readonly string[]).includes(sqlName) ? (sqlName as Provider) : 'other';
}

function status(rate: number | null, t: { warning: number; critical: number }): HealthStatus {
  if (rate === null || rate < t.warning) return 'ok';
  return rate < t.critical ? 'warning' : 'critical';
}

function line(c: { sent: number; hard: number; soft: number; complaints: number }): HealthLine {
  const rate = (n: number) => (c.sent > 0 ? n / c.sent : null);
  const rates = {
    hard_bounce_rate: rate(c.hard),
    soft_bounce_rate: rate(c.soft),
    complaint_rate: rate(c.complaints),
  };
  return {
    sent: c.sent,
    hard_bounces: c.hard,
    soft_bounces: c.soft,
    complaints: c.complaints,
    ...rates,
    status: {
      hard_bounce_rate: status(rates.hard_bounce_rate, HEALTH_THRESHOLDS.hard_bounce_rate),
      soft_bounce_rate: status(rates.soft_bounce_rate, HEALTH_THRESHOLDS.soft_bounce_rate),
      complaint_rate: status(rates.complaint_rate, HEALTH_THRESHOLDS.complaint_rate),
    },
  };
}

/** Both windows, every provider listed (zeros included) in a fixed order, and the totals. */
export function buildHealthWindows(
  rows: ProviderCounts[],
  windows: { days: number; since: Date; pick: 'short' | 'long' }[],
): HealthWindow[] {
  return windows.map(({ days, since, pick }) => {
    const zero = () => ({ sent: 0, hard: 0, soft: 0, complaints: 0 });
    const byProvider = new Map<Provider, ReturnType<typeof zero>>(PROVIDERS.map((p) => [p, zero()]));
    const total = zero();
    for (const row of rows) {
      const into = byProvider.get(providerName(row.provider)) as ReturnType<typeof zero>;
      for (const key of ['sent', 'hard', 'soft', 'complaints'] as const) {
        into[key] += row[pick][key];
        total[key] += row[pick][key];
      }
    }
    return {
      days,
      since,
      total: line(total),
      providers: PROVIDERS.map((provider) => ({ provider, ...line(byProvider.get(provider) ?? zero()) })),
    };
  });
}
