import { createConnectorHttp, type Sleep } from './connector-http.js';

export interface HubspotContact {
  id: string;
  properties: Record<string, string | null>;
  updatedAt?: string;
}

export interface HubspotUpsertInput {
  idProperty: 'email';
  id: string;
  properties: Record<string, string>;
}

/** HubSpot's batch endpoints take at most 100 inputs. */
export const HUBSPOT_BATCH = 100;

/**
 * HubSpot CRM v3 through a private app token (Bearer). Reads contacts in
 * pages of 100 with paging.next.after, lists contact properties, and upserts
 * contacts by email in batches.
 */
export function createHubspotClient(options: {
  token: string;
  /** Default https://api.hubapi.com (HERALD_HUBSPOT_BASE_URL: tests, proxies). */
  baseUrl?: string | undefined;
  sleep: Sleep;
  now: () => number;
  signal?: AbortSignal | undefined;
}) {
  const http = createConnectorHttp({
    provider: 'HubSpot',
    baseUrl: options.baseUrl ?? 'https://api.hubapi.com',
    headers: { authorization: `Bearer ${options.token.trim()}` },
    sleep: options.sleep,
    now: options.now,
    signal: options.signal,
  });

  return {
    async propertyNames(): Promise<Set<string>> {
      const body = await http.get<{ results?: { name: string }[] }>('/crm/v3/properties/contacts');
      return new Set((body.results ?? []).map((p) => p.name));
    },

    async contacts(page: {
      after?: string | null | undefined;
      properties: string[];
    }): Promise<{ results: HubspotContact[]; after: string | null }> {
      const query = new URLSearchParams({ limit: '100', properties: page.properties.join(',') });
      if (page.after) query.set('after', page.after);
      const body = await http.get<{ results?: HubspotContact[]; paging?: { next?: { after?: string } } }>(
        `/crm/v3/objects/contacts?${query}`,
      );
      return { results: body.results ?? [], after: body.paging?.next?.after ?? null };
    },

    async upsertByEmail(inputs: HubspotUpsertInput[]): Promise<void> {
      await http.post('/crm/v3/objects/contacts/batch/upsert', { inputs });
    },
  };
}
