import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * One default transport per workspace, also when requests race: two creates
 * with is_default, a create and an update, or two first transports of a
 * workspace. On PostgreSQL the requests really run at once (the pool has
 * several connections); the embedded database serializes them.
 */

let t: TestApp;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'herald-transports-default-'));
  t = await createTestApp({ HERALD_DATA_DIR: dataDir });
});
afterAll(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const fileTransport = (name: string, isDefault?: boolean) => ({
  name,
  type: 'file',
  settings: { subfolder: name.replace(/[^A-Za-z0-9_-]/g, '-') },
  ...(isDefault === undefined ? {} : { is_default: isDefault }),
});

async function create(key: string, body: object) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/transports',
    headers: t.auth(key),
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

async function defaults(workspaceId: string): Promise<string[]> {
  const result = await t.container.database.pool.query(
    'SELECT id FROM transports WHERE workspace_id = $1 AND is_default',
    [workspaceId],
  );
  return result.rows.map((r: { id: string }) => r.id);
}

describe('the default transport under concurrent requests', () => {
  it('keeps exactly one default when two creates with is_default race, and never answers 500', async () => {
    for (let round = 0; round < 8; round++) {
      const ws = await t.createWorkspace(`Race ${round}`);
      const [a, b] = await Promise.all([
        create(ws.adminKey, fileTransport('A', true)),
        create(ws.adminKey, fileTransport('B', true)),
      ]);
      expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([201, 201]);
      const now = await defaults(ws.workspaceId);
      expect(now).toHaveLength(1);
      expect([a.body.id, b.body.id]).toContain(now[0]);
      expect((await t.container.transports.transportFor(ws.workspaceId)).id).toBe(now[0]);
    }
  });

  it('makes exactly one of two racing first transports the default', async () => {
    for (let round = 0; round < 8; round++) {
      const ws = await t.createWorkspace(`First ${round}`);
      const [a, b] = await Promise.all([
        create(ws.adminKey, fileTransport('A')),
        create(ws.adminKey, fileTransport('B')),
      ]);
      expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([201, 201]);
      expect(await defaults(ws.workspaceId)).toHaveLength(1);
      expect([a.body.is_default, b.body.is_default].filter(Boolean)).toHaveLength(1);
    }
  });

  it('keeps exactly one default when a create and an update race', async () => {
    for (let round = 0; round < 8; round++) {
      const ws = await t.createWorkspace(`Mixed ${round}`);
      const first = await create(ws.adminKey, fileTransport('First', true));
      const second = await create(ws.adminKey, fileTransport('Second'));
      expect([first.body.is_default, second.body.is_default]).toEqual([true, false]);
      const [patched, created] = await Promise.all([
        t.app.inject({
          method: 'PATCH',
          url: `/v1/transports/${second.body.id}`,
          headers: t.auth(ws.adminKey),
          payload: { is_default: true },
        }),
        create(ws.adminKey, fileTransport('Third', true)),
      ]);
      expect([patched.statusCode, created.status], patched.body).toEqual([200, 201]);
      const now = await defaults(ws.workspaceId);
      expect(now).toHaveLength(1);
      expect([second.body.id, created.body.id]).toContain(now[0]);
    }
  });

  it('still refuses a duplicate name with 409 TRANSPORT_EXISTS, not as a default conflict', async () => {
    const ws = await t.createWorkspace('Names');
    expect((await create(ws.adminKey, fileTransport('Same', true))).status).toBe(201);
    const dup = await create(ws.adminKey, fileTransport('same', true));
    expect([dup.status, dup.body.code]).toEqual([409, 'TRANSPORT_EXISTS']);
    expect(await defaults(ws.workspaceId)).toHaveLength(1);
  });
});

describe('deleting a transport that campaigns send through', () => {
  it('is refused while an unfinished campaign names it or relies on it as the default', async () => {
    const ws = await t.createWorkspace('In use');
    const main = await create(ws.adminKey, fileTransport('Main', true));
    const bulk = await create(ws.adminKey, fileTransport('Bulk'));
    const spare = await create(ws.adminKey, fileTransport('Spare'));
    const campaign = async (name: string, transportId?: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/campaigns',
        headers: t.auth(ws.adminKey),
        payload: { name, ...(transportId ? { transport_id: transportId } : {}) },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { id: string };
    };
    const del = (id: string) =>
      t.app.inject({ method: 'DELETE', url: `/v1/transports/${id}`, headers: t.auth(ws.adminKey) });
    const named = await campaign('Named bulk', bulk.body.id);
    const byDefault = await campaign('Default user');

    const refused = await del(bulk.body.id);
    expect([refused.statusCode, refused.json().code]).toEqual([409, 'TRANSPORT_IN_USE']);
    expect(refused.json().detail).toContain(`"Named bulk" (${named.id}, draft)`);
    expect(refused.json().detail).not.toContain('Default user');
    const refusedDefault = await del(main.body.id);
    expect([refusedDefault.statusCode, refusedDefault.json().code]).toEqual([409, 'TRANSPORT_IN_USE']);
    expect(refusedDefault.json().detail).toContain(`"Default user" (${byDefault.id}, draft)`);
    expect(refusedDefault.json().detail).toContain('make another transport the default first');
    expect(refusedDefault.json().errors[0]).toMatchObject({ campaign_id: byDefault.id });
    expect(await defaults(ws.workspaceId)).toEqual([main.body.id]);
    // Unsetting the default would send "Default user" to the .eml outbox: refused too.
    const unset = await t.app.inject({
      method: 'PATCH',
      url: `/v1/transports/${main.body.id}`,
      headers: t.auth(ws.adminKey),
      payload: { is_default: false },
    });
    expect([unset.statusCode, unset.json().code]).toEqual([409, 'TRANSPORT_IN_USE']);
    expect(unset.json().detail).toContain('"Default user"');
    expect(unset.json().detail).not.toContain('Named bulk');
    expect(await defaults(ws.workspaceId)).toEqual([main.body.id]);
    // Moving the default to another transport is fine.
    const moved = await t.app.inject({
      method: 'PATCH',
      url: `/v1/transports/${spare.body.id}`,
      headers: t.auth(ws.adminKey),
      payload: { is_default: true },
    });
    expect(moved.statusCode).toBe(200);
    expect(await defaults(ws.workspaceId)).toEqual([spare.body.id]);
    const back = await t.app.inject({
      method: 'PATCH',
      url: `/v1/transports/${main.body.id}`,
      headers: t.auth(ws.adminKey),
      payload: { is_default: true },
    });
    expect(back.statusCode).toBe(200);

    // Unused: deleted. Once the campaigns are cancelled, the others can go too.
    expect((await del(spare.body.id)).statusCode).toBe(204);
    for (const c of [named, byDefault]) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/campaigns/${c.id}/cancel`,
        headers: t.auth(ws.adminKey),
      });
      expect(res.statusCode).toBe(200);
    }
    expect((await del(bulk.body.id)).statusCode).toBe(204);
    expect((await del(main.body.id)).statusCode).toBe(204);
    expect((await del(main.body.id)).statusCode).toBe(404);
  });
});
