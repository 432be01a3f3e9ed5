import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** SendGrid's stats API on 127.0.0.1: Bearer key, GET /v3/stats answering per-period metrics; one 429 first. */
let server: Server;
let base: string;
const KEY = 'SG.stats-test-key';
const requests: string[] = [];
let rateLimitOnce = true;
let t: TestApp;
let transportId: string;

function period(date: string, metrics: Record<string, number>) {
  return { date, stats: [{ metrics: { requests: 0, delivered: 0, bounces: 0, opens: 0, ...metrics } }] };
}

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
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      res.statusCode = 401;
      return res.end(JSON.stringify({ errors: [{ field: null, message: 'authorization required' }] }));
    }
    if (url.pathname !== '/v3/stats') {
      res.statusCode = 404;
      return res.end(JSON.stringify({ errors: [{ message: 'not found' }] }));
    }
    if (rateLimitOnce) {
      rateLimitOnce = false;
      res.statusCode = 429;
      res.setHeader('retry-after', '2');
      return res.end(JSON.stringify({ errors: [{ message: 'too many requests' }] }));
    }
    res.end(
      JSON.stringify([
        period('2026-11-01', { requests: 120, delivered: 115, bounces: 3, opens: 40, unique_opens: 30 }),
        period('2026-11-02', { requests: 80, delivered: 79, bounces: 1, spam_reports: 1, clicks: 9 }),
      ]),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await createTestApp();
  const created = await call('POST', '/v1/transports', {
    name: 'SendGrid',
    type: 'sendgrid',
    settings: { base_url: base },
    secrets: { api_key: KEY },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  transportId = created.body.id;
});

afterAll(async () => {
  await t?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('SendGrid statistics retrieval', () => {
  it('reads the periods with the transport key, waits out a 429, and totals the metrics', async () => {
    const res = await call(
      'GET',
      `/v1/connectors/sendgrid/stats?transport_id=${transportId}&from=2026-11-01&to=2026-11-02`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(requests).toEqual([
      '/v3/stats?start_date=2026-11-01&end_date=2026-11-02&aggregated_by=day',
      '/v3/stats?start_date=2026-11-01&end_date=2026-11-02&aggregated_by=day',
    ]);
    expect(res.body.periods.map((p: { date: string }) => p.date)).toEqual(['2026-11-01', '2026-11-02']);
    expect(res.body.periods[0].metrics).toMatchObject({
      requests: 120,
      delivered: 115,
      unique_opens: 30,
      clicks: 0,
    });
    expect(res.body.totals).toMatchObject({
      requests: 200,
      delivered: 194,
      bounces: 4,
      spam_reports: 1,
      opens: 40,
      clicks: 9,
    });
  });

  it('refuses a reversed or too long window before asking SendGrid', async () => {
    const asked = requests.length;
    const reversed = await call(
      'GET',
      `/v1/connectors/sendgrid/stats?transport_id=${transportId}&from=2026-11-02&to=2026-11-01`,
    );
    expect(reversed.status).toBe(400);
    expect(reversed.body.detail).toContain('before from');
    const long = await call(
      'GET',
      `/v1/connectors/sendgrid/stats?transport_id=${transportId}&from=2025-01-01&to=2026-11-01`,
    );
    expect(long.status).toBe(400);
    expect(long.body.detail).toContain('at most 366 days');
    expect(requests.length).toBe(asked);
  });

  it('says clearly when SendGrid refuses the key or the transport is not sendgrid', async () => {
    await call('PATCH', `/v1/transports/${transportId}`, { secrets: { api_key: 'SG.wrong' } });
    const refused = await call(
      'GET',
      `/v1/connectors/sendgrid/stats?transport_id=${transportId}&from=2026-11-01&to=2026-11-02`,
    );
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('CONNECTOR_CREDENTIALS_REJECTED');
    expect(refused.body.detail).toContain('SendGrid refused the credentials (401');

    const file = await call('POST', '/v1/transports', { name: 'Outbox', type: 'file' });
    const wrongType = await call(
      'GET',
      `/v1/connectors/sendgrid/stats?transport_id=${file.body.id}&from=2026-11-01&to=2026-11-02`,
    );
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.code).toBe('TRANSPORT_INVALID');
  });
});
