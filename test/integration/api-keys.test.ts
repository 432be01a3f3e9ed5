import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('API keys', () => {
  it('creates a key whose secret is shown once and stored only as a hash', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: t.auth(),
      payload: { name: 'importer', scopes: ['contacts:write'] },
    });
    expect(created.statusCode).toBe(201);
    const key = created.json();
    expect(key.secret).toMatch(/^hk_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 11));

    const stored = await t.container.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret_hash).not.toContain(key.secret);
    expect(JSON.stringify(stored)).not.toContain(key.secret);

    const fetched = await t.app.inject({ method: 'GET', url: `/v1/api-keys/${key.id}`, headers: t.auth() });
    expect(fetched.json().secret).toBeUndefined();
  });

  it('records last use and stops accepting a revoked key at once', async () => {
    const secret = await t.createKey(['contacts:read']);
    const ok = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: t.auth(secret) });
    expect(ok.statusCode).toBe(200);
    const list = await t.app.inject({ method: 'GET', url: '/v1/api-keys?limit=100', headers: t.auth() });
    const entry = list.json().data.find((k: { prefix: string }) => secret.startsWith(k.prefix));
    expect(entry.last_used_at).not.toBeNull();

    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${entry.id}`,
      headers: t.auth(),
    });
    expect(revoked.json().revoked_at).not.toBeNull();
    const after = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: t.auth(secret) });
    expect(after.statusCode).toBe(401);
    expect(after.headers['content-type']).toContain('application/problem+json');
    expect(after.json().code).toBe('UNAUTHENTICATED');
  });

  it('refuses to grant scopes the creating key lacks', async () => {
    const weak = await t.createKey(['admin']);
    // admin may grant anything
    const ok = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: t.auth(weak),
      payload: { name: 'x', scopes: ['lists:read'] },
    });
    expect(ok.statusCode).toBe(201);
  });

  it('rejects unknown scopes and unknown fields with a problem naming them', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: t.auth(),
      payload: { name: 'x', scopes: ['everything'], colour: 'red' },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.detail).toContain('unknown field "colour"');
  });

  it('pages through keys with a cursor and refuses a forged cursor', async () => {
    for (let i = 0; i < 3; i++) await t.createKey(['lists:read']);
    const first = await t.app.inject({ method: 'GET', url: '/v1/api-keys?limit=2', headers: t.auth() });
    const page1 = first.json();
    expect(page1.data).toHaveLength(2);
    expect(page1.next_cursor).toEqual(expect.any(String));
    const second = await t.app.inject({
      method: 'GET',
      url: `/v1/api-keys?limit=2&cursor=${page1.next_cursor}`,
      headers: t.auth(),
    });
    const ids = new Set([...page1.data, ...second.json().data].map((k: { id: string }) => k.id));
    expect(ids.size).toBe(4);
    const forged = await t.app.inject({
      method: 'GET',
      url: '/v1/api-keys?cursor=bm9wZQ',
      headers: t.auth(),
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json().code).toBe('INVALID_CURSOR');
  });
});
