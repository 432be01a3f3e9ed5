import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrmService, createCrmService } from '../../src/modules/crm/index.js';
import { expectUnderActiveDataKey, legacyEncrypted, rotateWorkspace } from '../helpers/data-keys.js';
import { type FakeHubspot, startFakeHubspot } from '../helpers/fake-hubspot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555';
let t: TestApp;
let hs: FakeHubspot;
const sleeps: number[] = [];
/** The container's service, except that it records its pauses instead of waiting and refuses one address. */
let crm: CrmService;

async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function execute(runId: string) {
  await crm.execute({ workspaceId: t.workspaceId, runId });
  return (await call('GET', `/v1/connectors/runs/${runId}`)).body;
}

async function storedToken(): Promise<string> {
  const row = await t.container.db
    .selectFrom('crm_connections')
    .select(['id', 'secret'])
    .where('workspace_id', '=', t.workspaceId)
    .where('provider', '=', 'hubspot')
    .executeTakeFirstOrThrow();
  return row.secret;
}

async function contact(email: string) {
  return t.container.db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', t.workspaceId)
    .where('email', '=', email)
    .executeTakeFirst();
}

const pushedEmails = () => hs.upserts.flatMap((u) => u.inputs.map((i) => i.id));

beforeAll(async () => {
  hs = await startFakeHubspot(TOKEN);
  t = await createTestApp({ HERALD_HUBSPOT_BASE_URL: hs.baseUrl });
  const c = t.container;
  crm = createCrmService({
    db: c.db,
    clock: c.clock,
    cipher: c.dataKeys.cipher,
    logger: c.logger,
    jobs: c.jobs,
    contacts: c.contacts,
    lists: c.lists,
    attributes: c.attributes,
    suppressions: c.routeDeps.deliverability,
    mailchimp: { pageSize: 10 },
    hubspot: { baseUrl: hs.baseUrl },
    // Stands in for the do-not-sell flag: this contact must never leave Herald.
    mayShare: (contact) => contact.email !== 'private@example.com',
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  for (let i = 0; i < 250; i++) {
    hs.contacts.push({
      id: String(1000 + i),
      properties: { email: `h${i}@example.com`, firstname: `Hub${i}`, lastname: null, company: 'Acme' },
      updatedAt: '2026-01-01T00:00:00.000Z',
    });
  }
  hs.contacts[7] = {
    id: '1007',
    properties: { email: null, firstname: 'No mail' },
    updatedAt: '2026-01-01T00:00:00Z',
  };
  hs.contacts[8] = {
    id: '1008',
    properties: { email: 'x@mailinator.com' },
    updatedAt: '2026-01-01T00:00:00Z',
  };
  await call('POST', '/v1/contacts', {
    email: 'herald-only@example.com',
    attributes: { first_name: 'Hera' },
  });
  await call('POST', '/v1/contacts', { email: 'private@example.com', attributes: { first_name: 'Priv' } });
});

afterAll(async () => {
  await t?.close();
  await hs?.close();
});

describe('HubSpot connection', () => {
  it('refuses a token HubSpot rejects and unknown or malformed properties, storing nothing', async () => {
    const badToken = await call('PUT', '/v1/connectors/hubspot', {
      token: 'pat-na1-wrong',
      properties: { firstname: 'first_name' },
    });
    expect(badToken.status).toBe(400);
    expect(badToken.body.code).toBe('CONNECTOR_CREDENTIALS_REJECTED');
    expect(badToken.body.errors[0].path).toBe('/token');
    expect(badToken.body.detail).toContain(
      'HubSpot refused the credentials (401: Authentication credentials not found.)',
    );

    const unknown = await call('PUT', '/v1/connectors/hubspot', {
      token: TOKEN,
      properties: { shoe_size: 'shoe' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('CONNECTOR_INVALID');
    expect(unknown.body.errors).toEqual([
      { path: '/properties/shoe_size', message: 'no such HubSpot contact property' },
    ]);

    const malformed = await call('PUT', '/v1/connectors/hubspot', {
      properties: { 'First Name': 'first name' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors.map((e: { path: string }) => e.path)).toEqual([
      '/token',
      '/properties/First Name',
      '/properties/First Name',
    ]);
    expect((await call('GET', '/v1/connectors')).body.data).toEqual([]);
  });

  it('stores a checked connection without ever returning the token', async () => {
    const res = await call('PUT', '/v1/connectors/hubspot', {
      token: TOKEN,
      properties: { firstname: 'first_name', company: 'company' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      provider: 'hubspot',
      push_enabled: true,
      sync_enabled: true,
      pushed_until: null,
    });
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    expect((await call('GET', '/v1/connectors')).body.data).toEqual([res.body]);
    await expectUnderActiveDataKey(t, t.workspaceId, await storedToken(), TOKEN);
  });
});

describe('HubSpot sync', () => {
  it('pulls every contact by email over three pages, waiting out a 429', async () => {
    hs.requests.length = 0;
    hs.failures.push({ status: 429, retryAfter: '3' });
    const started = await call('POST', '/v1/connectors/hubspot/import');
    expect(started.status).toBe(202);
    const run = await execute(started.body.id);
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run).toMatchObject({ pages: 3, processed: 250 });
    expect(run.counts).toMatchObject({ fetched: 250, contacts_created: 248, skipped_no_email: 1, failed: 1 });
    expect(run.problems).toEqual([expect.objectContaining({ position: 8, email: 'x@mailinator.com' })]);
    expect(sleeps).toEqual([3000]);
    const pages = hs.requests.filter((r) => r.path === '/crm/v3/objects/contacts');
    expect(pages.map((r) => r.query.get('after'))).toEqual([null, null, '100', '200']);
    expect(pages[0]?.query.get('properties')?.split(',').sort()).toEqual(['company', 'email', 'firstname']);
    expect(pages[0]?.query.get('limit')).toBe('100');
    expect((await contact('h3@example.com'))?.attributes).toEqual({ first_name: 'Hub3', company: 'Acme' });
  });

  it('then pushes Herald contacts by email, never one that may not be shared', async () => {
    const runs = (await call('GET', '/v1/connectors/hubspot/runs')).body.data;
    const push = runs.find((r: { kind: string }) => r.kind === 'push');
    expect(push?.status).toBe('queued');
    // A push sends what changed before it started: the pulled contacts too (they are Herald's now).
    t.clock.advance(1000);
    const done = await execute(push.id);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.counts).toMatchObject({ pushed: 249, not_shared: 1 });
    expect(
      hs.upserts.every((u) => u.inputs.length <= 100 && u.inputs.every((i) => i.idProperty === 'email')),
    ).toBe(true);
    expect(pushedEmails()).not.toContain('private@example.com');
    const hera = hs.upserts.flatMap((u) => u.inputs).find((i) => i.id === 'herald-only@example.com');
    expect(hera?.properties).toEqual({ firstname: 'Hera' });
  });

  it('pushes only contacts changed since the last push', async () => {
    hs.upserts.length = 0;
    t.clock.advance(60_000);
    const herald = await contact('herald-only@example.com');
    const patched = await call('PATCH', `/v1/contacts/${herald?.id}`, {
      attributes: { company: 'Herald Inc' },
    });
    expect(patched.status).toBe(200);
    t.clock.advance(60_000);
    const started = await call('POST', '/v1/connectors/hubspot/push');
    const done = await execute(started.body.id);
    expect(done.counts).toMatchObject({ pushed: 1 });
    expect(hs.upserts.flatMap((u) => u.inputs)).toEqual([
      {
        idProperty: 'email',
        id: 'herald-only@example.com',
        properties: { firstname: 'Hera', company: 'Herald Inc' },
      },
    ]);
  });

  it('a sync applies only the HubSpot contacts updated since the last pull', async () => {
    const updated = new Date(t.clock.now().getTime() + 60_000).toISOString();
    hs.contacts[5] = {
      id: '1005',
      properties: { email: 'h5@example.com', firstname: 'Renamed', company: 'Acme' },
      updatedAt: updated,
    };
    t.clock.advance(120_000);
    const started = await call('POST', '/v1/connectors/hubspot/sync');
    expect(started.status).toBe(202);
    const done = await execute(started.body.id);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ fetched: 250, contacts_updated: 1, unchanged_skipped: 249 });
    expect((await contact('h5@example.com'))?.attributes).toMatchObject({ first_name: 'Renamed' });
    expect((await contact('h6@example.com'))?.attributes).toMatchObject({ first_name: 'Hub6' });
  });

  it('authenticates with a token stored the old way, and after herald keys rotate-data re-encrypted it', async () => {
    const { id } = await t.container.db
      .selectFrom('crm_connections')
      .select('id')
      .where('workspace_id', '=', t.workspaceId)
      .executeTakeFirstOrThrow();
    const properties = { firstname: 'first_name', company: 'company' };
    // A token written before data keys (master key directly, same purpose) still authenticates.
    await t.container.db
      .updateTable('crm_connections')
      .set({ secret: legacyEncrypted(TOKEN, `crm:${id}`) })
      .where('id', '=', id)
      .execute();
    hs.requests.length = 0;
    // Saved without a token: Herald checks the stored one with HubSpot (a wrong one is refused with 400).
    expect((await call('PUT', '/v1/connectors/hubspot', { properties })).status).toBe(200);
    expect(hs.requests.length).toBeGreaterThan(0);
    const before = await storedToken();
    const keyId = await rotateWorkspace(t, t.workspaceId);
    const after = await storedToken();
    expect(after).not.toBe(before);
    expect(after).toMatch(new RegExp(`^hdk1\\.${keyId}\\.`));
    await expectUnderActiveDataKey(t, t.workspaceId, after, TOKEN);
    hs.requests.length = 0;
    expect((await call('PUT', '/v1/connectors/hubspot', { properties })).status).toBe(200);
    expect(hs.requests.length).toBeGreaterThan(0);
  });

  it('fails the run with a clear error when the token is revoked', async () => {
    const runs = (await call('GET', '/v1/connectors/hubspot/runs')).body.data;
    const queuedPush = runs.find((r: { status: string }) => r.status === 'queued');
    expect(queuedPush?.kind).toBe('push');
    await execute(queuedPush.id);
    hs.token = 'pat-na1-revoked';
    const started = await call('POST', '/v1/connectors/hubspot/sync');
    expect(started.status).toBe(202);
    const done = await execute(started.body.id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('HubSpot refused the credentials (401');
  });
});
