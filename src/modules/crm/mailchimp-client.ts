import { ConnectorError, type ConnectorHttp, createConnectorHttp, type Sleep } from './connector-http.js';

/** Mailchimp Marketing API v3 member statuses. */
export type MailchimpStatus =
  | 'subscribed'
  | 'unsubscribed'
  | 'cleaned'
  | 'pending'
  | 'transactional'
  | 'archived';

export interface MailchimpMember {
  email_address: string;
  status: MailchimpStatus;
  merge_fields?: Record<string, unknown>;
  tags?: { id: number; name: string }[];
  last_changed?: string;
  timestamp_opt?: string;
  ip_opt?: string;
}

export interface MailchimpAudience {
  id: string;
  name: string;
  member_count: number | null;
}

export interface MailchimpMergeField {
  tag: string;
  name: string;
  type: string;
}

/** The fields Herald reads of each member: smaller pages than the full member objects. */
const MEMBER_FIELDS = [
  'members.email_address',
  'members.status',
  'members.merge_fields',
  'members.tags',
  'members.last_changed',
  'members.timestamp_opt',
  'members.ip_opt',
  'total_items',
].join(',');

/** A Mailchimp API key ends in its data center (`…-us21`), which names the API host. */
const API_KEY = /^[0-9a-f]{16,64}-([a-z]{2,4}[0-9]{1,3})$/i;

export function dataCenterOf(apiKey: string): string | undefined {
  return API_KEY.exec(apiKey.trim())?.[1]?.toLowerCase();
}

export function createMailchimpClient(options: {
  apiKey: string;
  /** Overrides https://<dc>.api.mailchimp.com/3.0 (HERALD_MAILCHIMP_BASE_URL: tests, proxies). */
  baseUrl?: string | undefined;
  sleep: Sleep;
  now: () => number;
  signal?: AbortSignal | undefined;
}) {
  const dc = dataCenterOf(options.apiKey);
  if (!dc) {
    throw new ConnectorError(
      'credentials',
      'a Mailchimp API key looks like 0123456789abcdef0123456789abcdef-us21 (the part after the dash names the data center)',
    );
  }
  const http: ConnectorHttp = createConnectorHttp({
    provider: 'Mailchimp',
    baseUrl: options.baseUrl ?? `https://${dc}.api.mailchimp.com/3.0`,
    // Basic auth: Mailchimp ignores the user name and checks the key as the password.
    headers: { authorization: `Basic ${Buffer.from(`herald:${options.apiKey.trim()}`).toString('base64')}` },
    sleep: options.sleep,
    now: options.now,
    signal: options.signal,
  });
  const listPath = (listId: string) => `/lists/${encodeURIComponent(listId)}`;

  return {
    async audience(listId: string): Promise<MailchimpAudience> {
      const body = await http.get<{ id: string; name: string; stats?: { member_count?: number } }>(
        `${listPath(listId)}?fields=id,name,stats.member_count`,
      );
      return { id: body.id, name: body.name, member_count: body.stats?.member_count ?? null };
    },

    async mergeFields(listId: string): Promise<MailchimpMergeField[]> {
      const body = await http.get<{ merge_fields?: MailchimpMergeField[] }>(
        `${listPath(listId)}/merge-fields?count=1000&fields=merge_fields.tag,merge_fields.name,merge_fields.type`,
      );
      return body.merge_fields ?? [];
    },

    /** One page of the audience's members, oldest offset first; `since` keeps only members changed after it. */
    async members(
      listId: string,
      page: { count: number; offset: number; since?: Date | null | undefined },
    ): Promise<{ members: MailchimpMember[]; total_items: number }> {
      const query = new URLSearchParams({
        count: String(page.count),
        offset: String(page.offset),
        fields: MEMBER_FIELDS,
      });
      if (page.since) query.set('since_last_changed', page.since.toISOString());
      const body = await http.get<{ members?: MailchimpMember[]; total_items?: number }>(
        `${listPath(listId)}/members?${query}`,
      );
      return { members: body.members ?? [], total_items: body.total_items ?? 0 };
    },
  };
}

export type MailchimpClient = ReturnType<typeof createMailchimpClient>;
