import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { ConnectorError, connectorProblem, createConnectorHttp, type Sleep } from './connector-http.js';

/** SendGrid's metric names (GET /v3/stats), in the order reports show them. */
export const SENDGRID_METRICS = [
  'requests',
  'processed',
  'delivered',
  'deferred',
  'bounces',
  'bounce_drops',
  'blocks',
  'invalid_emails',
  'spam_reports',
  'spam_report_drops',
  'unsubscribes',
  'unsubscribe_drops',
  'opens',
  'unique_opens',
  'clicks',
  'unique_clicks',
] as const;

export type SendgridMetrics = Record<(typeof SENDGRID_METRICS)[number], number>;

export interface SendgridStats {
  aggregated_by: 'day' | 'week' | 'month';
  periods: { date: string; metrics: SendgridMetrics }[];
  totals: SendgridMetrics;
}

/** Longest window asked for at once: SendGrid keeps statistics per day, and a year is ample for a report. */
const MAX_DAYS = 366;

function emptyMetrics(): SendgridMetrics {
  return Object.fromEntries(SENDGRID_METRICS.map((name) => [name, 0])) as SendgridMetrics;
}

/** One period of GET /v3/stats: `{ date, stats: [{ metrics: {...} }] }`; unknown metrics are left out. */
function readPeriod(item: unknown): { date: string; metrics: SendgridMetrics } | undefined {
  const period = item as { date?: unknown; stats?: { metrics?: Record<string, unknown> }[] };
  if (typeof period?.date !== 'string' || !Array.isArray(period.stats)) return undefined;
  const metrics = emptyMetrics();
  for (const entry of period.stats) {
    for (const name of SENDGRID_METRICS) {
      const value = entry?.metrics?.[name];
      if (typeof value === 'number' && Number.isFinite(value)) metrics[name] += value;
    }
  }
  return { date: period.date, metrics };
}

/**
 * Reads a SendGrid account's global email statistics (GET /v3/stats) through
 * a sendgrid transport's API key: what SendGrid counted (requests, deliveries,
 * bounces, blocks, spam reports...), to set beside Herald's own reports. The
 * API key needs SendGrid's "Stats" read permission.
 */
export function createSendgridStatsFetcher(deps: {
  clock: Clock;
  sleep: Sleep;
  transports: {
    providerCredentials(
      workspaceId: string,
      id: string,
      type: 'sendgrid',
    ): Promise<{ baseUrl: string | undefined; apiKey: string }>;
  };
}) {
  return {
    async fetch(
      workspaceId: string,
      input: { transport_id: string; from: string; to: string; aggregated_by?: 'day' | 'week' | 'month' },
    ): Promise<SendgridStats> {
      const from = Date.parse(`${input.from}T00:00:00Z`);
      const to = Date.parse(`${input.to}T00:00:00Z`);
      if (to < from) {
        throw new DomainError('VALIDATION_FAILED', `to (${input.to}) is before from (${input.from})`, [
          { path: '/to', message: 'must not be before from' },
        ]);
      }
      if ((to - from) / 86_400_000 >= MAX_DAYS) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `a window of at most ${MAX_DAYS} days can be read at once`,
          [{ path: '/to', message: `at most ${MAX_DAYS} days after from` }],
        );
      }
      const credentials = await deps.transports.providerCredentials(
        workspaceId,
        input.transport_id,
        'sendgrid',
      );
      const http = createConnectorHttp({
        provider: 'SendGrid',
        baseUrl: credentials.baseUrl ?? 'https://api.sendgrid.com',
        headers: { authorization: `Bearer ${credentials.apiKey}` },
        sleep: deps.sleep,
        now: () => deps.clock.now().getTime(),
      });
      const aggregatedBy = input.aggregated_by ?? 'day';
      const query = new URLSearchParams({
        start_date: input.from,
        end_date: input.to,
        aggregated_by: aggregatedBy,
      });
      let body: unknown;
      try {
        body = await http.get<unknown>(`/v3/stats?${query}`);
      } catch (error) {
        if (error instanceof ConnectorError) throw connectorProblem(error, 'SendGrid', '/transport_id');
        throw error;
      }
      if (!Array.isArray(body)) {
        throw new DomainError(
          'CONNECTOR_INVALID',
          'SendGrid answered GET /v3/stats with something other than a list',
        );
      }
      const periods = body.map(readPeriod).filter((p): p is NonNullable<typeof p> => p !== undefined);
      const totals = emptyMetrics();
      for (const period of periods) for (const name of SENDGRID_METRICS) totals[name] += period.metrics[name];
      return { aggregated_by: aggregatedBy, periods, totals };
    },
  };
}

export type SendgridStatsFetcher = ReturnType<typeof createSendgridStatsFetcher>;
