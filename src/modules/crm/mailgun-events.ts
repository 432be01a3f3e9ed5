import type { Clock } from '../../lib/clock.js';
import { mailgunEvents, type ProviderEvent } from '../bounces/index.js';
import { ConnectorError, connectorProblem, createConnectorHttp, type Sleep } from './connector-http.js';

/** Pages read per request: a longer window is fetched in several calls (begin = the last event's time). */
const MAX_PAGES = 50;

export interface MailgunEventsSummary {
  pages: number;
  fetched: number;
  bounces: number;
  complaints: number;
  deliveries: number;
  delays: number;
  /** opened, clicked, accepted, unsubscribed...: engagement Herald tracks itself. */
  ignored: number;
  unreadable: number;
  /** The time of the last event read: pass it as begin to continue. */
  last_event_at: Date | null;
}

/**
 * Reads a Mailgun domain's events (GET /v3/{domain}/events, oldest first,
 * following paging.next) and feeds failures, complaints and deliveries into the
 * deliverability intake, which de-duplicates them, so a window read twice
 * changes nothing.
 */
export function createMailgunEventsFetcher(deps: {
  clock: Clock;
  sleep: Sleep;
  transports: {
    mailgunCredentials(
      workspaceId: string,
      id: string,
    ): Promise<{ domain: string; baseUrl: string | undefined; apiKey: string }>;
  };
  deliverability: {
    applyEvents(workspaceId: string, events: ProviderEvent[], source: 'mailgun'): Promise<unknown>;
  };
}) {
  return {
    async fetch(
      workspaceId: string,
      input: { transport_id: string; begin: Date; end?: Date | undefined },
    ): Promise<MailgunEventsSummary> {
      const credentials = await deps.transports.mailgunCredentials(workspaceId, input.transport_id);
      const base = (credentials.baseUrl ?? 'https://api.mailgun.net').replace(/\/+$/, '');
      const http = createConnectorHttp({
        provider: 'Mailgun',
        baseUrl: base,
        headers: { authorization: `Basic ${Buffer.from(`api:${credentials.apiKey}`).toString('base64')}` },
        sleep: deps.sleep,
        now: () => deps.clock.now().getTime(),
      });
      const query = new URLSearchParams({
        begin: String(input.begin.getTime() / 1000),
        ascending: 'yes',
        limit: '300',
      });
      if (input.end) query.set('end', String(input.end.getTime() / 1000));
      let path = `/v3/${encodeURIComponent(credentials.domain)}/events?${query}`;
      const summary: MailgunEventsSummary = {
        pages: 0,
        fetched: 0,
        bounces: 0,
        complaints: 0,
        deliveries: 0,
        delays: 0,
        ignored: 0,
        unreadable: 0,
        last_event_at: null,
      };
      try {
        while (summary.pages < MAX_PAGES) {
          const page = await http.get<{ items?: unknown[]; paging?: { next?: string } }>(path);
          summary.pages += 1;
          const items = page.items ?? [];
          if (items.length === 0) break;
          const events: ProviderEvent[] = [];
          for (const item of items) {
            summary.fetched += 1;
            const at = (item as { timestamp?: unknown }).timestamp;
            if (typeof at === 'number') summary.last_event_at = new Date(at * 1000);
            let parsed: ProviderEvent[];
            try {
              parsed = mailgunEvents(item);
            } catch {
              summary.unreadable += 1;
              continue;
            }
            if (parsed.length === 0) summary.ignored += 1;
            for (const event of parsed) {
              if (event.type === 'bounce') summary.bounces += 1;
              else if (event.type === 'complaint') summary.complaints += 1;
              else if (event.type === 'delivery') summary.deliveries += 1;
              else summary.delays += 1;
              events.push(event);
            }
          }
          if (events.length > 0) await deps.deliverability.applyEvents(workspaceId, events, 'mailgun');
          const next = page.paging?.next;
          if (!next) break;
          // paging.next is an absolute URL on Mailgun's host: only its path and query are followed, on our base.
          const url = new URL(next, base);
          path = `${url.pathname.replace(new URL(base).pathname.replace(/\/+$/, ''), '')}${url.search}`;
        }
      } catch (error) {
        if (error instanceof ConnectorError) throw connectorProblem(error, 'Mailgun', '/transport_id');
        throw error;
      }
      return summary;
    },
  };
}

export type MailgunEventsFetcher = ReturnType<typeof createMailgunEventsFetcher>;
