import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A HubSpot CRM v3 server on 127.0.0.1 with the documented shapes Herald uses:
 * Bearer private app token, GET /crm/v3/properties/contacts, GET
 * /crm/v3/objects/contacts (limit, after, properties; paging.next.after), POST
 * /crm/v3/objects/contacts/batch/upsert (idProperty email), 401 for a bad
 * token, and scripted 429s with Retry-After.
 */
export interface FakeHubspotContact {
  id: string;
  properties: Record<string, string | null>;
  updatedAt: string;
}

export interface FakeHubspot {
  baseUrl: string;
  token: string;
  properties: string[];
  contacts: FakeHubspotContact[];
  /** Every batch upsert body received. */
  upserts: { inputs: { idProperty: string; id: string; properties: Record<string, string> }[] }[];
  failures: { status: number; retryAfter?: string }[];
  requests: { method: string; path: string; query: URLSearchParams }[];
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeHubspot(
  token = 'pat-na1-11111111-2222-3333-4444-555555555555',
): Promise<FakeHubspot> {
  const fake = {
    token,
    properties: ['email', 'firstname', 'lastname', 'company', 'lifecyclestage'],
    contacts: [] as FakeHubspotContact[],
    upserts: [] as FakeHubspot['upserts'],
    failures: [] as FakeHubspot['failures'],
    requests: [] as FakeHubspot['requests'],
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    fake.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams });
    if (req.headers.authorization !== `Bearer ${fake.token}`) {
      return send(res, 401, {
        status: 'error',
        message: 'Authentication credentials not found.',
        category: 'INVALID_AUTHENTICATION',
      });
    }
    const failure = fake.failures.shift();
    if (failure) {
      return send(
        res,
        failure.status,
        { status: 'error', message: 'You have reached your secondly limit.', category: 'RATE_LIMITS' },
        failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
      );
    }
    if (req.method === 'GET' && url.pathname === '/crm/v3/properties/contacts') {
      return send(res, 200, {
        results: fake.properties.map((name) => ({ name, label: name, type: 'string' })),
      });
    }
    if (req.method === 'GET' && url.pathname === '/crm/v3/objects/contacts') {
      const limit = Number(url.searchParams.get('limit') ?? '10');
      if (limit > 100) return send(res, 400, { status: 'error', message: 'limit must be at most 100' });
      const start = Number(url.searchParams.get('after') ?? '0');
      const wanted = (url.searchParams.get('properties') ?? '').split(',').filter(Boolean);
      const page = fake.contacts.slice(start, start + limit).map((c) => ({
        id: c.id,
        properties: Object.fromEntries(wanted.map((p) => [p, c.properties[p] ?? null])),
        updatedAt: c.updatedAt,
        archived: false,
      }));
      const next =
        start + limit < fake.contacts.length ? { next: { after: String(start + limit) } } : undefined;
      return send(res, 200, { results: page, ...(next ? { paging: next } : {}) });
    }
    if (req.method === 'POST' && url.pathname === '/crm/v3/objects/contacts/batch/upsert') {
      const body = JSON.parse(await readBody(req)) as FakeHubspot['upserts'][number];
      if (body.inputs.length > 100) return send(res, 400, { status: 'error', message: 'at most 100 inputs' });
      fake.upserts.push(body);
      return send(res, 200, { status: 'COMPLETE', results: [] });
    }
    send(res, 404, { status: 'error', message: 'not found' });
  }

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  // Longer than a page takes to apply, so a kept-alive connection is not closed under the client.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
