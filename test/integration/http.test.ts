import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
const logLines: string[] = [];

beforeAll(async () => {
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  t = await createTestApp({ HERALD_RATE_LIMIT_PER_MINUTE: '5' }, { logStream });
});
afterAll(async () => {
  await t.close();
});

describe('HTTP conventions', () => {
  it('limits requests per API key, with a problem and Retry-After, without affecting other keys', async () => {
    const key = await t.createKey(['contacts:read']);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof t.app.inject>> | undefined;
    for (let i = 0; i < 6; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: t.auth(key) });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) limited = res;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(limited?.headers['content-type']).toContain('application/problem+json');
    expect(limited?.json().code).toBe('RATE_LIMITED');
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
    const other = await t.createKey(['contacts:read']);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: t.auth(other) })).statusCode,
    ).toBe(200);
  });

  it('does not rate-limit health checks', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    }
  });

  it('sets security headers and echoes or assigns a request id', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'abc-123' },
    });
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toBeDefined();
    const bad = await t.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'no spaces <allowed>' },
    });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with a problem', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('publishes an OpenAPI document describing every route, its scope and its errors', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    for (const route of t.app.routeTable.filter((r) => r.url.startsWith('/v1/'))) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${path} missing from OpenAPI`).toBeDefined();
      // The Segment-compatible ingestion routes also take the key as a Basic user name (a write key).
      const ingestion = ['/v1/track', '/v1/identify', '/v1/page', '/v1/screen', '/v1/batch'].includes(path);
      // Sign-in and accepting an invitation carry their own credential in the body.
      if (route.public) {
        expect(operation.security, `${route.method} ${path}`).toBeUndefined();
        continue;
      }
      // Routes for the signed-in user only take the session cookie; every other route also takes it.
      const expected = route.session
        ? [{ sessionCookie: [] }]
        : ingestion
          ? [{ apiKey: [] }, { writeKey: [] }, { sessionCookie: [] }]
          : [{ apiKey: [] }, { sessionCookie: [] }];
      expect(operation.security).toEqual(expected);
      expect(operation.description).toContain(
        route.session ? 'Requires a signed-in user' : `Requires scope \`${route.scope}\``,
      );
      expect(operation.responses['401']).toBeDefined();
    }
    expect(doc.components.schemas.Problem).toBeDefined();
    expect(doc.components.securitySchemes.writeKey).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(doc.components.securitySchemes.sessionCookie).toMatchObject({
      type: 'apiKey',
      in: 'cookie',
      name: 'herald_session',
    });
    const docs = await t.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });

  it('logs one line per request with the route pattern and never the address or key', async () => {
    logLines.length = 0;
    const secret = await t.createKey(['contacts:write', 'contacts:read']);
    await t.app.inject({
      method: 'PUT',
      url: '/v1/contacts',
      headers: t.auth(secret),
      payload: { email: 'private.person@example.com', attributes: { phone: '+49 170 1234567' } },
    });
    await t.app.inject({
      method: 'GET',
      url: '/v1/contacts?email=private.person@example.com',
      headers: t.auth(secret),
    });
    await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: t.auth(secret),
      payload: { email: 'bad@@x' },
    });
    const all = logLines.join('');
    expect(all).toContain('"route":"/v1/contacts"');
    expect(all).not.toContain('private.person');
    expect(all).not.toContain('1234567');
    expect(all).not.toContain('bad@@x');
    expect(all).not.toContain(secret);
  });

  it('serves readiness and liveness', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });
});

describe('OpenAPI for streaming uploads', () => {
  it('documents the CSV body of POST /v1/imports', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const body = doc.paths['/v1/imports'].post.requestBody;
    expect(body.content['text/csv'].schema.type).toBe('string');
  });
});
