import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, headers: res.headers };
}

describe('contacts', () => {
  it('creates a contact with a normalized email and refuses a duplicate regardless of case', async () => {
    const created = await call('POST', '/v1/contacts', {
      email: '  Ann@Example.COM ',
      attributes: { first_name: 'Ann' },
      tags: ['vip', 'vip', 'beta'],
      timezone: 'Europe/Berlin',
      locale: 'de-de',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'Ann@example.com',
      status: 'active',
      attributes: { first_name: 'Ann' },
      tags: ['beta', 'vip'],
      timezone: 'Europe/Berlin',
      locale: 'de-DE',
    });
    const dup = await call('POST', '/v1/contacts', { email: 'ann@EXAMPLE.com' });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('CONTACT_EXISTS');
  });

  it('upserts by email, then by external_id, merging attributes', async () => {
    const first = await call('PUT', '/v1/contacts', {
      email: 'bo@example.com',
      attributes: { plan: 'free', age: 30 },
    });
    expect(first.status).toBe(201);
    const second = await call('PUT', '/v1/contacts', {
      email: 'BO@example.com',
      external_id: 'crm-1',
      attributes: { plan: 'pro' },
    });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.attributes).toEqual({ plan: 'pro', age: 30 });
    const byExternal = await call('PUT', '/v1/contacts', {
      email: 'bo.new@example.com',
      external_id: 'crm-1',
    });
    expect(byExternal.status).toBe(200);
    expect(byExternal.body).toMatchObject({ id: first.body.id, email: 'bo.new@example.com' });
  });

  it('merges concurrent upserts of one new address into one contact, without errors', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call('PUT', '/v1/contacts', { email: 'race@example.com', attributes: { [`k${i}`]: i } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([...Array(19).fill(200), 201]);
    const stored = await call('GET', '/v1/contacts?email=race@example.com');
    expect(stored.body.data).toHaveLength(1);
    expect(Object.keys(stored.body.data[0].attributes)).toHaveLength(20);
  });

  it('patches: null removes an attribute, tags add and remove, status change is in the consent ledger', async () => {
    const { body: c } = await call('POST', '/v1/contacts', {
      email: 'cy@example.com',
      attributes: { a: 1, b: 2 },
      tags: ['x'],
    });
    const patched = await call('PATCH', `/v1/contacts/${c.id}`, {
      attributes: { a: null, c: 3 },
      add_tags: ['y'],
      remove_tags: ['x'],
      status: 'unsubscribed',
    });
    expect(patched.status).toBe(200);
    expect(patched.body.attributes).toEqual({ b: 2, c: 3 });
    expect(patched.body.tags).toEqual(['y']);
    expect(patched.body.status).toBe('unsubscribed');
    const consent = await call('GET', `/v1/contacts/${c.id}/consent`);
    expect(consent.body.data).toHaveLength(1);
    expect(consent.body.data[0]).toMatchObject({
      action: 'status_change',
      source: 'api',
      detail: { from: 'active', to: 'unsubscribed' },
    });
  });

  it('validates defined attributes by type and names every bad field', async () => {
    expect((await call('POST', '/v1/attributes', { name: 'score', type: 'number' })).status).toBe(201);
    expect((await call('POST', '/v1/attributes', { name: 'signup', type: 'date' })).status).toBe(201);
    const bad = await call('POST', '/v1/contacts', {
      email: 'dee@example.com',
      attributes: { score: 'high', signup: 'yesterday' },
      timezone: 'Mars/Olympus',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    const paths = bad.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['/attributes/score', '/attributes/signup', '/timezone']);
    const stored = await call('GET', '/v1/contacts?email=dee@example.com');
    expect(stored.body.data).toHaveLength(0);
    const good = await call('POST', '/v1/contacts', {
      email: 'dee@example.com',
      attributes: { score: 7, signup: '2026-01-31' },
    });
    expect(good.status).toBe(201);
  });

  it('refuses an invalid email with the reason', async () => {
    const res = await call('POST', '/v1/contacts', { email: 'no-at-sign.example.com' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_EMAIL');
    expect(res.body.detail).toContain('no @');
  });

  it('filters by status, attribute, tag and creation time', async () => {
    await call('POST', '/v1/contacts', {
      email: 'f1@example.com',
      attributes: { country: 'DE', score: 5 },
      tags: ['t1'],
    });
    await call('POST', '/v1/contacts', { email: 'f2@example.com', attributes: { country: 'FR', score: 5 } });
    const de = await call('GET', '/v1/contacts?attribute=country:DE');
    expect(de.body.data.map((c: { email: string }) => c.email)).toEqual(['f1@example.com']);
    const score = await call('GET', '/v1/contacts?attribute=score:5&attribute=country:FR');
    expect(score.body.data.map((c: { email: string }) => c.email)).toEqual(['f2@example.com']);
    const tagged = await call('GET', '/v1/contacts?tag=t1');
    expect(tagged.body.data).toHaveLength(1);
    const unsub = await call('GET', '/v1/contacts?status=unsubscribed');
    expect(unsub.body.data.every((c: { status: string }) => c.status === 'unsubscribed')).toBe(true);
    const future = await call(
      'GET',
      `/v1/contacts?created_after=${new Date(Date.now() + 86_400_000).toISOString()}`,
    );
    expect(future.body.data).toHaveLength(0);
  });

  it('deletes a contact', async () => {
    const { body: c } = await call('POST', '/v1/contacts', { email: 'gone@example.com' });
    expect((await call('DELETE', `/v1/contacts/${c.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/contacts/${c.id}`)).status).toBe(404);
  });
});
