import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** A Mailgun events API on 127.0.0.1: Basic api:<key>, items oldest first, paging.next as an absolute URL. */
let server: Server;
let base: string;
const KEY = 'key-mailgun-test';
const requests: string[] = [];
let t: TestApp;
let transportId: string;

function event(kind: string, recipient: string, at: number, extra: Record<string, unknown> = {}) {
  return {
    event: kind,
    recipient,
    timestamp: at,
    id: `${kind}-${recipient}`,
    message: { headers: { 'message-id': `${kind}.${at}@mg.example.com` } },
    ...extra,
  };
}

const PAGES: Record<string, unknown[]> = {
  first: [
    event('failed', 'gone@example.com', 1767225600.5, {
      severity: 'permanent',
      reason: 'bounce',
      'delivery-status': {
        code: 550,
        message: '5.1.1 The email account that you tried to reach does not exist',
      },
    }),
    event('complained', 'angry@example.com', 1767225700),
    event('opened', 'reader@example.com', 1767225800),
  ],
  second: [event('delivered', 'fine@example.com', 1767225900)],
  third: [],
};

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url.pathname + url.search);
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`) {
      res.statusCode = 401;
      return res.end(JSON.stringify({ message: 'Invalid private key' }));
    }
    const match = /^\/v3\/mg\.example\.com\/events(?:\/(\w+))?$/.exec(url.pathname);
    if (!match) {
      res.statusCode = 404;
      return res.end(JSON.stringify({ message: 'not found' }));
    }
    const page = match[1] ?? 'first';
    const next = { first: 'second', second: 'third', third: 'third' }[page] ?? 'third';
    res.end(
      JSON.stringify({
        items: PAGES[page] ?? [],
        paging: { next: `${base}/v3/mg.example.com/events/${next}` },
      }),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await createTestApp();
  const created = await call('POST', '/v1/transports', {
    name: 'Mailgun',
    type: 'mailgun',
    settings: { domain: 'mg.example.com', base_url: base },
    secrets: { api_key: KEY },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  transportId = created.body.id;
});

afterAll(async () => {
  await t?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function bounceEventCount(): Promise<number> {
  const row = await t.container.db
    .selectFrom('bounce_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('Mailgun event retrieval', () => {
  it('pages through the events and applies bounces and complaints', async () => {
    const res = await call('POST', '/v1/connectors/mailgun/events', {
      transport_id: transportId,
      begin: '2026-01-01T00:00:00Z',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      pages: 3,
      fetched: 4,
      bounces: 1,
      complaints: 1,
      deliveries: 1,
      ignored: 1,
      unreadable: 0,
      last_event_at: '2026-01-01T00:05:00.000Z',
    });
    expect(requests[0]).toBe('/v3/mg.example.com/events?begin=1767225600&ascending=yes&limit=300');
    expect(requests.slice(1)).toEqual([
      '/v3/mg.example.com/events/second',
      '/v3/mg.example.com/events/third',
    ]);
    const suppressed = await t.container.db
      .selectFrom('suppressions')
      .select(['email', 'reason'])
      .orderBy('email')
      .execute();
    expect(suppressed).toEqual([
      { email: 'angry@example.com', reason: 'complaint' },
      { email: 'gone@example.com', reason: 'hard_bounce' },
    ]);
  });

  it('changes nothing when the same window is read again', async () => {
    const before = await bounceEventCount();
    const res = await call('POST', '/v1/connectors/mailgun/events', {
      transport_id: transportId,
      begin: '2026-01-01T00:00:00Z',
    });
    expect(res.status).toBe(200);
    expect(await bounceEventCount()).toBe(before);
  });

  it('says clearly when Mailgun refuses the key or the transport is not mailgun', async () => {
    await call('PATCH', `/v1/transports/${transportId}`, { secrets: { api_key: 'key-wrong' } });
    const refused = await call('POST', '/v1/connectors/mailgun/events', {
      transport_id: transportId,
      begin: '2026-01-01T00:00:00Z',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('CONNECTOR_CREDENTIALS_REJECTED');
    expect(refused.body.detail).toContain('Mailgun refused the credentials (401: Invalid private key)');

    const file = await call('POST', '/v1/transports', { name: 'Outbox', type: 'file' });
    const wrongType = await call('POST', '/v1/connectors/mailgun/events', {
      transport_id: file.body.id,
      begin: '2026-01-01T00:00:00Z',
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.code).toBe('TRANSPORT_INVALID');
  });
});
