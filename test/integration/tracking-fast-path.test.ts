import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBeaconFastPath } from '../../src/http/beacon-fast-path.js';
import type { Beacons } from '../../src/modules/tracking/index.js';
import { PIXEL_GIF } from '../../src/modules/tracking/index.js';
import { withFirstCharacterChanged } from '../helpers/tamper.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { trackedMessage as trackedMessageOf } from '../helpers/tracked-message.js';

/**
 * The open pixel and click redirect over real HTTP, where the server answers
 * them before Fastify routes them (src/http/beacon-fast-path.ts): the same
 * answers as the Fastify routes give to `inject`, hits recorded the same way,
 * HEAD not recorded, one rate limit for both, and anything the fast path does
 * not take (other characters, too long, other paths) still answered by Fastify.
 */

let t: TestApp;
let origin: string;
let campaignId: string;
let versionId: string;
let contactId: string;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const BODY = '<p>Hi</p><a href="https://shop.example.com/sale?x=1">Sale</a>';

async function call(method: 'GET' | 'POST', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
}

async function hitsOf(messageId: string) {
  await t.container.tracking.flush();
  return t.container.db
    .selectFrom('tracking_hits')
    .selectAll()
    .where('message_id', '=', messageId)
    .orderBy('id')
    .execute();
}

/** A tracked message: its pixel path and link paths (the honeypot link first). */
async function trackedMessage() {
  const message = await trackedMessageOf(t, {
    templateVersionId: versionId,
    campaignId,
    contactId,
    body: BODY,
  });
  return { ...message, open: message.opens[0] as string };
}

/** A request over the network; redirects are not followed. */
async function http(method: 'GET' | 'HEAD', path: string, userAgent = CHROME) {
  const res = await fetch(`${origin}${path}`, {
    method,
    redirect: 'manual',
    headers: { 'user-agent': userAgent },
  });
  const body = Buffer.from(await res.arrayBuffer());
  const headers = Object.fromEntries(res.headers);
  return { status: res.status, headers, body };
}

/** The answer the Fastify route gives the same request. */
async function injected(method: 'GET' | 'HEAD', path: string) {
  const res = await t.app.inject({ method, url: path, headers: { 'user-agent': CHROME } });
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload };
}

/** Headers both answers must agree on (the server adds date, connection and keep-alive itself). */
function comparable(headers: Record<string, unknown>) {
  const { date: _date, connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
  return rest;
}

beforeAll(async () => {
  t = await createTestApp({
    HERALD_TRACKING_RATE_LIMIT_PER_MINUTE: '4',
    HERALD_TRACKING_FLUSH_INTERVAL_MS: '60000',
  });
  const template = await call('POST', '/v1/templates', {
    name: 'Tracked',
    format: 'html',
    subject: 'Hi',
    body: BODY,
  });
  expect(template.status).toBe(201);
  versionId = template.body.version.id;
  const campaign = await call('POST', '/v1/campaigns', {
    name: 'Spring',
    template_id: template.body.id,
    utm_source: 'herald',
  });
  campaignId = campaign.body.id;
  contactId = (await call('POST', '/v1/contacts', { email: 'reader@example.com' })).body.id;
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await t?.close();
});

describe('the open pixel over the network', () => {
  it('answers the GIF and records the open with the user agent and the anonymized address', async () => {
    const message = await trackedMessage();
    const res = await http('GET', message.open);
    expect(res.status).toBe(200);
    expect(res.body.equals(PIXEL_GIF)).toBe(true);
    expect(res.headers).toMatchObject({
      'content-type': 'image/gif',
      'content-length': '43',
      'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0',
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'cross-origin',
    });
    const hits = await hitsOf(message.messageId);
    expect(hits).toMatchObject([
      { kind: 'open', contact_id: contactId, user_agent: CHROME, ip: '127.0.0.0', classification: 'human' },
    ]);
  });

  it('gives the same answer as the Fastify route, and ignores a query string', async () => {
    const message = await trackedMessage();
    const overNetwork = await http('GET', `${message.open}?utm=x`);
    const routed = await injected('GET', message.open);
    expect(overNetwork.status).toBe(routed.status);
    expect(comparable(overNetwork.headers)).toEqual(comparable(routed.headers));
    expect(overNetwork.body.equals(routed.body)).toBe(true);
    expect(await hitsOf(message.messageId)).toHaveLength(2);
  });

  it('answers HEAD with the headers and no body, and records nothing', async () => {
    const message = await trackedMessage();
    const res = await http('HEAD', message.open);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('43');
    expect(res.body.length).toBe(0);
    expect(await hitsOf(message.messageId)).toEqual([]);
  });

  it('answers a tampered or wrong-kind token 404 with the GIF and records nothing', async () => {
    const message = await trackedMessage();
    const token = message.open.slice(3);
    for (const path of [
      `/o/${withFirstCharacterChanged(token)}`,
      `/o/${(message.clicks[1] as string).slice(3)}`,
    ]) {
      const res = await http('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body.equals(PIXEL_GIF)).toBe(true);
    }
    expect(await hitsOf(message.messageId)).toEqual([]);
  });
});

describe('the click redirect over the network', () => {
  it('redirects to the stored URL with UTM parameters and the recorded click id', async () => {
    const message = await trackedMessage();
    t.clock.advance(60_000);
    const res = await http('GET', message.clicks[1] as string);
    expect(res.status).toBe(302);
    expect(res.body.length).toBe(0);
    expect(res.headers).toMatchObject({ 'referrer-policy': 'no-referrer', 'content-length': '0' });
    const location = new URL(res.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example.com/sale');
    expect(location.searchParams.get('x')).toBe('1');
    expect(location.searchParams.get('utm_source')).toBe('herald');
    const hits = await hitsOf(message.messageId);
    expect(hits).toMatchObject([
      { id: location.searchParams.get('hid'), kind: 'click', classification: 'human' },
    ]);
    expect(hits[0]?.link_id).not.toBeNull();
  });

  it('never redirects for a tampered or wrong-kind token, whatever the query string says', async () => {
    const message = await trackedMessage();
    const token = (message.clicks[1] as string).slice(3);
    for (const path of [
      `/c/${withFirstCharacterChanged(token)}?url=https://evil.example.com`,
      `/c/${message.open.slice(3)}`,
    ]) {
      const res = await http('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body.toString()).toContain('This link is not valid');
      const routed = await injected('GET', path);
      expect(comparable(res.headers)).toEqual(comparable(routed.headers));
      expect(res.body.equals(routed.body)).toBe(true);
    }
    expect(await hitsOf(message.messageId)).toEqual([]);
  });

  it('answers the honeypot link with a plain page and records a scanner click', async () => {
    const message = await trackedMessage();
    const res = await http('GET', message.clicks[0] as string);
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.body.toString()).toContain('There is nothing here');
    expect(await hitsOf(message.messageId)).toMatchObject([
      { classification: 'scanner', reason: 'hidden-link' },
    ]);
  });

  it('shares the per-token rate limit with the Fastify route', async () => {
    const message = await trackedMessage();
    const link = message.clicks[1] as string;
    // Four per minute: two over the network, two routed, then the fifth is refused either way.
    for (const status of [(await http('GET', link)).status, (await http('GET', link)).status])
      expect(status).toBe(302);
    for (let i = 0; i < 2; i++) expect((await injected('GET', link)).status).toBe(302);
    const limited = await http('GET', link);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.body.toString()).toContain('Too many requests');
    expect((await injected('GET', link)).status).toBe(429);
    expect(await hitsOf(message.messageId)).toHaveLength(4);
    const pixel = message.open;
    for (let i = 0; i < 4; i++) expect((await http('GET', pixel)).status).toBe(200);
    const limitedPixel = await http('GET', pixel);
    expect(limitedPixel.status).toBe(429);
    expect(limitedPixel.body.equals(PIXEL_GIF)).toBe(true);
  });
});

describe('requests the fast path leaves to Fastify', () => {
  it('validates, routes and answers them as before', async () => {
    // A token longer than the routes accept: refused by the schema with a problem.
    const long = await http('GET', `/o/${'A'.repeat(401)}`);
    expect(long.status).toBe(400);
    expect(long.headers['content-type']).toContain('application/problem+json');
    // Characters outside base64url: routed, and not a valid token.
    const dotted = await http('GET', '/c/abc.def');
    expect(dotted.status).toBe(404);
    expect(dotted.body.toString()).toContain('This link is not valid');
    // An empty token: routed, and answered like any invalid one.
    const empty = await http('GET', '/o/');
    expect(empty.status).toBe(404);
    expect(empty.body.equals(PIXEL_GIF)).toBe(true);
    // Other paths and methods are not beacons at all.
    for (const [method, path] of [
      ['GET', '/o/abc/def'],
      ['GET', '/x/abc'],
    ] as const) {
      const res = await http(method, path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toContain('application/problem+json');
    }
    const post = await fetch(`${origin}/o/abc`, { method: 'POST' });
    expect(post.status).toBe(404);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });
});

describe('a beacon answer that fails', () => {
  let server: Server;
  let failingOrigin: string;
  beforeAll(async () => {
    // Beacons whose click lookup fails (a database that went away) and whose pixel throws.
    const failing: Beacons = {
      pixel: () => {
        throw new Error('pixel failed');
      },
      click: () => Promise.reject(new Error('lookup failed')),
    };
    const fastPath = createBeaconFastPath(failing, pino({ level: 'silent' }));
    server = createServer((request, response) => {
      if (!fastPath(request, response)) {
        response.writeHead(418);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    failingOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers 500 with a problem, never a redirect, and keeps serving', async () => {
    for (const path of ['/o/abc', '/c/abc']) {
      const res = await fetch(`${failingOrigin}${path}`, { redirect: 'manual' });
      expect(res.status, path).toBe(500);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.json()).toMatchObject({ status: 500, code: 'INTERNAL' });
    }
    expect((await fetch(`${failingOrigin}/other`)).status).toBe(418);
  });
});
