import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** The segment API: saving, live counts and previews, explain, references between segments. */

let t: TestApp;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const proDefinition = { attribute: 'plan', operator: 'equals', value: 'pro' };

beforeAll(async () => {
  t = await createTestApp();
  for (let i = 0; i < 5; i++) {
    await call('POST', '/v1/contacts', { email: `pro${i}@example.com`, attributes: { plan: 'pro' } });
  }
  await call('POST', '/v1/contacts', { email: 'free@example.com', attributes: { plan: 'free' } });
});
afterAll(async () => {
  await t?.close();
});

describe('segments', () => {
  let proId: string;

  it('creates, reads, lists and renames a segment', async () => {
    const created = await call('POST', '/v1/segments', {
      name: 'Pro',
      description: 'Paying',
      definition: proDefinition,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Pro',
      description: 'Paying',
      definition: proDefinition,
      recorded_members: { count: 0, checked_at: null },
    });
    proId = created.body.id;
    expect((await call('GET', `/v1/segments/${proId}`)).body.name).toBe('Pro');
    const listed = await call('GET', '/v1/segments?limit=10');
    expect(listed.body.data.map((s: { id: string }) => s.id)).toEqual([proId]);
    const renamed = await call('PATCH', `/v1/segments/${proId}`, { name: 'Pro plan', description: null });
    expect(renamed.body).toMatchObject({ name: 'Pro plan', description: null, definition: proDefinition });
  });

  it('refuses a second segment with the same name (any case) and says which one has it', async () => {
    const res = await call('POST', '/v1/segments', { name: 'PRO PLAN', definition: proDefinition });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('SEGMENT_EXISTS');
    expect(res.body.detail).toContain(proId);
  });

  it('counts and previews live, page by page', async () => {
    expect((await call('GET', `/v1/segments/${proId}/count`)).body.count).toBe(5);
    await call('PUT', '/v1/contacts', { email: 'free@example.com', attributes: { plan: 'pro' } });
    expect((await call('GET', `/v1/segments/${proId}/count`)).body.count).toBe(6);
    const first = await call('GET', `/v1/segments/${proId}/contacts?limit=4`);
    expect(first.body.data).toHaveLength(4);
    const second = await call(
      'GET',
      `/v1/segments/${proId}/contacts?limit=4&cursor=${first.body.next_cursor}`,
    );
    expect(second.body.data).toHaveLength(2);
    expect(second.body.next_cursor).toBeNull();
    const emails = [...first.body.data, ...second.body.data].map((c: { email: string }) => c.email);
    expect(new Set(emails).size).toBe(6);
    expect(first.body.data[0]).toEqual({
      id: expect.any(String),
      email: expect.any(String),
      external_id: null,
      status: 'active',
      created_at: expect.any(String),
    });
  });

  it('changes its definition with the same checks as on create', async () => {
    const bad = await call('PATCH', `/v1/segments/${proId}`, {
      definition: { all: [proDefinition, { field: 'nope' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('SEGMENT_INVALID');
    expect(bad.body.errors[0].path).toBe('/definition/all/1/field');
    const good = await call('PATCH', `/v1/segments/${proId}`, {
      definition: { all: [proDefinition, { field: 'email', operator: 'starts_with', value: 'pro' }] },
    });
    expect(good.status).toBe(200);
    expect((await call('GET', `/v1/segments/${proId}/count`)).body.count).toBe(5);
  });

  it('names other segments, refuses unknown ones and cycles, and protects the ones in use', async () => {
    const outer = await call('POST', '/v1/segments', {
      name: 'Pro or free',
      definition: { any: [{ segment: proId }, { attribute: 'plan', operator: 'equals', value: 'free' }] },
    });
    expect(outer.status).toBe(201);
    expect((await call('GET', `/v1/segments/${outer.body.id}/count`)).body.count).toBe(5);

    const unknown = await call('POST', '/v1/segments', {
      name: 'Ghost',
      definition: { not: { segment: '01900000-0000-7000-8000-000000000000' } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].path).toBe('/definition/not/segment');

    const before = await databaseSnapshot(t.container.database.pool);
    const cycle = await call('PATCH', `/v1/segments/${proId}`, {
      definition: { all: [{ segment: outer.body.id }] },
    });
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors[0]).toMatchObject({
      path: '/definition/all/0/segment',
      cycle: ['Pro plan', 'Pro or free', 'Pro plan'],
    });
    expect(cycle.body.detail).toContain('Pro plan -> Pro or free -> Pro plan');
    const self = await call('PATCH', `/v1/segments/${proId}`, { definition: { segment: proId } });
    expect(self.status).toBe(400);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);

    const inUse = await call('DELETE', `/v1/segments/${proId}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.code).toBe('SEGMENT_IN_USE');
    expect(inUse.body.detail).toContain('Pro or free');
    expect((await call('DELETE', `/v1/segments/${outer.body.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/segments/${outer.body.id}`)).status).toBe(404);
  });

  it('explains the SQL with bound parameters, for admins only', async () => {
    const reader = await t.createKey(['segments:read']);
    expect((await call('GET', `/v1/segments/${proId}/explain`, undefined, reader)).status).toBe(403);
    const res = await call('GET', `/v1/segments/${proId}/explain`);
    expect(res.status).toBe(200);
    expect(res.body.count.sql).toContain('SELECT count(*)');
    expect(res.body.count.sql).not.toContain("'pro'");
    expect(res.body.count.parameters).toContain('{"plan":"pro"}');
    expect(res.body.count.plan.length).toBeGreaterThan(0);
    expect(res.body.probe.sql).toContain('LIMIT 100');
    const analyzed = await call('GET', `/v1/segments/${proId}/explain?analyze=true`);
    expect(analyzed.body.count.plan.join('\n')).toContain('actual');
  });

  it('evaluates a definition without saving it', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const res = await call('POST', '/v1/segments/evaluate', { definition: proDefinition, limit: 2 });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(6);
    expect(res.body.data).toHaveLength(2);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it("keeps every workspace's segments apart", async () => {
    const other = await t.createWorkspace('Others');
    const theirs = await call(
      'POST',
      '/v1/segments',
      { name: 'Pro plan', definition: proDefinition },
      other.adminKey,
    );
    expect(theirs.status).toBe(201);
    expect(
      (await call('GET', `/v1/segments/${theirs.body.id}/count`, undefined, other.adminKey)).body.count,
    ).toBe(0);
    const naming = await call(
      'POST',
      '/v1/segments',
      { name: 'Steal', definition: { segment: proId } },
      other.adminKey,
    );
    expect(naming.status).toBe(400);
    expect(naming.body.errors[0].message).toContain('does not exist in this workspace');
  });
});
