import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { type SignedIn, userWithRole } from '../helpers/user-session.js';

/**
 * Bad input on every write endpoint gets a problem+json 4xx that says what
 * was wrong, and writes nothing. Walks the route table, so new endpoints are
 * covered automatically.
 */

let t: TestApp;
let contactId: string;
let listId: string | undefined;
/** An owner's session, for the routes only a signed-in user may call. */
let owner: SignedIn;

function headersFor(route: { session: boolean }): Record<string, string> {
  return route.session ? owner.write : t.auth();
}

function snapshot(): Promise<string> {
  return databaseSnapshot(t.container.database.pool);
}

function concrete(url: string): string {
  return url
    .replace('/v1/contacts/:id', `/v1/contacts/${contactId}`)
    .replace('/v1/lists/:id', `/v1/lists/${listId}`)
    .replace('/v1/attributes/:name', '/v1/attributes/plan')
    .replace(/:id/g, '00000000-0000-7000-8000-000000000000');
}

beforeAll(async () => {
  t = await createTestApp({ HERALD_BODY_LIMIT_BYTES: '4096' });
  const contact = await t.app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: t.auth(),
    payload: { email: 'keep@example.com' },
  });
  contactId = contact.json().id;
  owner = await userWithRole(t, 'owner');
  await t.app.inject({
    method: 'POST',
    url: '/v1/attributes',
    headers: t.auth(),
    payload: { name: 'plan', type: 'string' },
  });
  if (t.app.routeTable.some((r) => r.url === '/v1/lists')) {
    const list = await t.app.inject({
      method: 'POST',
      url: '/v1/lists',
      headers: t.auth(),
      payload: { name: 'Keep', opt_in: 'single', visibility: 'public' },
    });
    listId = list.json().id;
  }
});
afterAll(async () => {
  await t?.close();
});

/**
 * Protocol endpoints that answer bad input in their protocol's error shape
 * instead of problem+json: the OAuth token endpoint (RFC 6749 §5.2; its bad
 * input is tested in oauth-clients.test.ts).
 */
const PROTOCOL_ENDPOINTS = new Set(['/oauth/token']);

function writeRoutes() {
  return t.app.routeTable.filter(
    (r) => r.jsonBody && ['POST', 'PUT', 'PATCH'].includes(r.method) && !PROTOCOL_ENDPOINTS.has(r.url),
  );
}

describe('bad input on every write endpoint', () => {
  it('has write endpoints to check', () => {
    expect(writeRoutes().length).toBeGreaterThanOrEqual(6);
  });

  it('refuses unknown fields, naming them', async () => {
    const before = await snapshot();
    for (const route of writeRoutes()) {
      const res = await t.app.inject({
        method: route.method as 'POST',
        url: concrete(route.url),
        headers: headersFor(route),
        payload: { surprise_field: 1 },
      });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const body = res.json();
      expect(body.code).toBe('VALIDATION_FAILED');
      expect(body.detail, `${route.method} ${route.url}`).toMatch(/surprise_field|required/);
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses bodies of the wrong type', async () => {
    const before = await snapshot();
    for (const route of writeRoutes()) {
      for (const payload of ['"a string"', '[1,2,3]', '42', 'null']) {
        const res = await t.app.inject({
          method: route.method as 'POST',
          url: concrete(route.url),
          headers: { ...headersFor(route), 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, `${route.method} ${route.url} ${payload}`).toBe(400);
        expect(res.json().code).toBe('VALIDATION_FAILED');
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses malformed JSON and says so', async () => {
    const before = await snapshot();
    for (const route of writeRoutes()) {
      const res = await t.app.inject({
        method: route.method as 'POST',
        url: concrete(route.url),
        headers: { ...headersFor(route), 'content-type': 'application/json' },
        payload: '{"email": ',
      });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(400);
      expect(res.json().detail).toContain('not valid JSON');
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses oversize bodies with 413', async () => {
    const before = await snapshot();
    const big = JSON.stringify({ email: 'big@example.com', attributes: { blob: 'x'.repeat(5000) } });
    for (const route of writeRoutes()) {
      const res = await t.app.inject({
        method: route.method as 'POST',
        url: concrete(route.url),
        headers: { ...headersFor(route), 'content-type': 'application/json' },
        payload: big,
      });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(413);
      expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses wrongly typed fields with the path of each', async () => {
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: t.auth(),
      payload: { email: 42, tags: 'vip', status: 'happy' },
    });
    expect(res.statusCode).toBe(400);
    const paths = res.json().errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/body/email', '/body/tags', '/body/status']));
    expect(await snapshot()).toBe(before);
  });

  it('refuses invalid emails on every endpoint that takes one', async () => {
    const before = await snapshot();
    for (const [method, url] of [
      ['POST', '/v1/contacts'],
      ['PUT', '/v1/contacts'],
      ['PATCH', `/v1/contacts/${contactId}`],
    ] as const) {
      const res = await t.app.inject({
        method,
        url,
        headers: t.auth(),
        payload: { email: 'ann@@example..com' },
      });
      expect(res.statusCode, `${method} ${url}`).toBe(400);
      expect(res.json().code).toBe('INVALID_EMAIL');
      expect(res.json().errors[0].path).toBe('/email');
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses a forged or garbled cursor on every paginated endpoint', async () => {
    const paginated = t.app.routeTable.filter((r) => r.method === 'GET' && r.paginated);
    expect(paginated.length).toBeGreaterThanOrEqual(3);
    for (const route of paginated) {
      for (const cursor of ['garbage', Buffer.from('{"after":42}').toString('base64url')]) {
        const res = await t.app.inject({
          method: 'GET',
          url: `${concrete(route.url)}?cursor=${cursor}`,
          headers: t.auth(),
        });
        expect(res.statusCode, `${route.url}`).toBe(400);
        expect(res.json().code).toBe('INVALID_CURSOR');
      }
    }
  });

  it('refuses malformed ids in paths with 400, not 500', async () => {
    for (const route of t.app.routeTable.filter((r) => r.url.includes('/:id') && r.method === 'GET')) {
      const res = await t.app.inject({
        method: 'GET',
        url: route.url.replace(':id', 'not-a-uuid'),
        headers: t.auth(),
      });
      expect(res.statusCode, route.url).toBe(400);
    }
  });
});
