import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrmService, createCrmService } from '../../src/modules/crm/index.js';
import { type FakeMailchimp, type FakeMember, startFakeMailchimp } from '../helpers/fake-mailchimp.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const KEY = '0123456789abcdef0123456789abcdef-us21';
let t: TestApp;
let mc: FakeMailchimp;
let listId: string;
let vipListId: string;
/** The pauses the connector asked for (429 Retry-After, 5xx backoff), instead of sleeping them. */
const sleeps: number[] = [];
/** The same service as the container's, except that it records its pauses instead of waiting. */
let crm: CrmService;

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

function member(i: number, status: string, extra: Partial<FakeMember> = {}): FakeMember {
  return {
    email_address: `m${i}@example.com`,
    status,
    merge_fields: { FNAME: `Ann${i}`, LNAME: '', SCORE: i },
    tags: [],
    last_changed: '2026-01-01T00:00:00+00:00',
    timestamp_opt: '2025-06-01T10:00:00+00:00',
    ip_opt: '',
    ...extra,
  };
}

async function contactByEmail(email: string) {
  return t.container.db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', t.workspaceId)
    .where('email', '=', email)
    .executeTakeFirst();
}

async function membership(email: string, list = listId) {
  const row = await t.container.db
    .selectFrom('list_memberships')
    .innerJoin('contacts', 'contacts.id', 'list_memberships.contact_id')
    .select('list_memberships.status')
    .where('contacts.email', '=', email)
    .where('list_memberships.list_id', '=', list)
    .executeTakeFirst();
  return row?.status;
}

async function consentCount(): Promise<number> {
  const row = await t.container.db
    .selectFrom('consent_records')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', t.workspaceId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const connection = () => ({
  api_key: KEY,
  audience_id: 'aud1',
  list_id: listId,
  merge_fields: { FNAME: 'first_name', LNAME: 'last_name', SCORE: 'score' },
  tags: { mode: 'lists', lists: { vip: vipListId } },
});

/** Starts an import or sync through the API and runs its job with the recording service. */
async function runThroughApi(kind: 'import' | 'sync') {
  const started = await call('POST', `/v1/connectors/mailchimp/${kind}`);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  await crm.execute({ workspaceId: t.workspaceId, runId: started.body.id });
  return (await call('GET', `/v1/connectors/runs/${started.body.id}`)).body;
}

beforeAll(async () => {
  mc = await startFakeMailchimp(KEY);
  t = await createTestApp({ HERALD_MAILCHIMP_BASE_URL: mc.baseUrl, HERALD_MAILCHIMP_PAGE_SIZE: '10' });
  crm = createCrmService(serviceDeps());
  await call('POST', '/v1/attributes', { name: 'score', type: 'number' });
  listId = (await call('POST', '/v1/lists', { name: 'Newsletter', opt_in: 'single' })).body.id;
  vipListId = (await call('POST', '/v1/lists', { name: 'VIP', opt_in: 'single' })).body.id;
  const members: FakeMember[] = [];
  for (let i = 0; i < 15; i++) members.push(member(i, 'subscribed'));
  members[0] = member(0, 'subscribed', { ip_opt: '203.0.113.7', tags: [{ id: 1, name: 'vip' }] });
  for (let i = 15; i < 18; i++) members.push(member(i, 'unsubscribed'));
  for (let i = 18; i < 20; i++) members.push(member(i, 'cleaned'));
  for (let i = 20; i < 22; i++) members.push(member(i, 'pending'));
  members.push(member(22, 'transactional'));
  members.push(member(23, 'archived'));
  members.push(member(24, 'subscribed', { merge_fields: { FNAME: 'Bad', SCORE: 'lots' } }));
  members.push({ ...member(25, 'subscribed'), email_address: 'someone@mailinator.com' });
  mc.audiences.set('aud1', {
    id: 'aud1',
    name: 'Main audience',
    merge_fields: [
      { tag: 'FNAME', name: 'First Name', type: 'text' },
      { tag: 'LNAME', name: 'Last Name', type: 'text' },
      { tag: 'SCORE', name: 'Score', type: 'number' },
    ],
    members,
  });
});

afterAll(async () => {
  await t?.close();
  await mc?.close();
});

describe('Mailchimp connection', () => {
  it('refuses a key Mailchimp rejects, with a clear error, and stores nothing', async () => {
    const res = await call('PUT', '/v1/connectors/mailchimp', {
      ...connection(),
      api_key: 'ffffffffffffffffffffffffffffffff-us21',
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('CONNECTOR_CREDENTIALS_REJECTED');
    expect(res.body.detail).toContain('Mailchimp refused the credentials (401');
    expect((await call('GET', '/v1/connectors')).body.data).toEqual([]);
  });

  it('refuses bad configuration with every problem named', async () => {
    const malformed = await call('PUT', '/v1/connectors/mailchimp', {
      ...connection(),
      api_key: 'not-a-key',
      merge_fields: { fname: 'first name' },
      list_id: '00000000-0000-7000-8000-000000000000',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('CONNECTOR_INVALID');
    const paths = malformed.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/api_key', '/merge_fields/fname', '/list_id']));

    const unknownAudience = await call('PUT', '/v1/connectors/mailchimp', {
      ...connection(),
      audience_id: 'nope',
    });
    expect(unknownAudience.status).toBe(400);
    expect(unknownAudience.body.errors[0].path).toBe('/audience_id');

    const unknownTag = await call('PUT', '/v1/connectors/mailchimp', {
      ...connection(),
      merge_fields: { BIRTHDAY: 'birthday' },
    });
    expect(unknownTag.status).toBe(400);
    expect(unknownTag.body.detail).toContain('no merge field BIRTHDAY');
    expect(unknownTag.body.detail).toContain('FNAME, LNAME, SCORE');

    const tagsIntoNumber = await call('PUT', '/v1/connectors/mailchimp', {
      ...connection(),
      tags: { mode: 'attribute', attribute: 'score' },
    });
    expect(tagsIntoNumber.status).toBe(400);
    expect(tagsIntoNumber.body.errors[0]).toMatchObject({ path: '/tags/attribute' });

    const noLists = await call('PUT', '/v1/connectors/mailchimp', {
      ...connection(),
      tags: { mode: 'lists' },
    });
    expect(noLists.status).toBe(400);
    expect(noLists.body.errors[0]).toMatchObject({ path: '/tags/lists' });

    expect((await call('GET', '/v1/connectors')).body.data).toEqual([]);
    expect((await call('POST', '/v1/connectors/mailchimp/import')).body.code).toBe('CONNECTOR_NOT_FOUND');
  });

  it('stores a checked connection with its key encrypted and never returned', async () => {
    const res = await call('PUT', '/v1/connectors/mailchimp', connection());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      audience_name: 'Main audience',
      data_center: 'us21',
      sync_enabled: true,
    });
    expect(JSON.stringify(res.body)).not.toContain(KEY);
    const row = await t.container.db.selectFrom('crm_connections').selectAll().executeTakeFirstOrThrow();
    expect(row.secret).not.toContain(KEY.slice(0, 16));
    expect(mc.requests.at(-1)?.authorized).toBe(true);

    // Changing the mapping without the key keeps the stored key.
    const again = await call('PUT', '/v1/connectors/mailchimp', { ...connection(), api_key: undefined });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
    const listed = await call('GET', '/v1/connectors');
    expect(listed.body.data).toEqual([again.body]);

    expect((await call('POST', '/v1/connectors/mailchimp/sync')).body.code).toBe('CONNECTOR_NOT_READY');
  });
});

describe('Mailchimp import', () => {
  let first: Record<string, unknown> & { counts: Record<string, number> };

  it('pages through the audience, waits out a 429 and a 503, and maps every status', async () => {
    // Herald state before: one member Mailchimp has unsubscribed, one Herald unsubscribed itself.
    await call('POST', `/v1/lists/${listId}/members`, { emails: ['m15@example.com', 'm3@example.com'] });
    await call('POST', `/v1/lists/${listId}/members/unsubscribe`, { emails: ['m3@example.com'] });
    mc.requests.length = 0;
    mc.failures.push({ status: 429, retryAfter: '7' }, { status: 503 });

    first = await runThroughApi('import');
    expect(first.status, JSON.stringify(first)).toBe('completed');
    expect(first).toMatchObject({ pages: 3, processed: 26, total: 26, error: null });
    // Retry-After honoured; without one, the second retry waits 2 s.
    expect(sleeps).toEqual([7000, 2000]);
    const pages = mc.requests.filter((r) => r.path.endsWith('/members'));
    expect(pages.map((r) => r.query.get('offset'))).toEqual(['0', '0', '0', '10', '20']);
    expect(pages.every((r) => r.query.get('count') === '10' && r.query.has('fields'))).toBe(true);
    expect(pages.some((r) => r.query.has('since_last_changed'))).toBe(false);

    expect(first.counts).toMatchObject({
      fetched: 26,
      suppressed: 2,
      skipped_transactional: 1,
      skipped_archived: 1,
      failed: 2,
      memberships_kept_unsubscribed: 1,
    });
    const problems = first.problems as { position: number; reason: string }[];
    expect(problems.map((p) => p.position)).toEqual([24, 25]);
    expect(problems[0]?.reason).toContain('score');
    expect(problems[1]?.reason).toContain('disposable');

    // subscribed -> confirmed, with Mailchimp's opt-in evidence in the consent records.
    const m0 = await contactByEmail('m0@example.com');
    expect(m0?.attributes).toEqual({ first_name: 'Ann0', score: 0 });
    expect(await membership('m0@example.com')).toBe('confirmed');
    expect(await membership('m0@example.com', vipListId)).toBe('confirmed');
    expect(await membership('m1@example.com', vipListId)).toBeUndefined();
    const records = await t.container.db
      .selectFrom('consent_records')
      .selectAll()
      .where('contact_id', '=', m0?.id as string)
      .where('list_id', '=', listId)
      .orderBy('id')
      .execute();
    expect(records.map((r) => r.action)).toEqual(['subscribe', 'confirm']);
    // Mailchimp's opt-in IP, stored as the workspace's IP anonymization says (truncate by default).
    expect(records[0]).toMatchObject({ source: 'import', ip: '203.0.113.0', source_id: first.id });
    expect(records[0]?.detail).toMatchObject({
      provider: 'mailchimp',
      audience_id: 'aud1',
      opt_in_at: '2025-06-01T10:00:00.000Z',
    });
    // unsubscribed -> unsubscribed, for members and non-members; Herald's own unsubscribe stays.
    expect(await membership('m15@example.com')).toBe('unsubscribed');
    expect(await membership('m16@example.com')).toBe('unsubscribed');
    expect(await membership('m3@example.com')).toBe('unsubscribed');
    // pending -> unconfirmed; cleaned -> suppressed as a hard bounce; transactional and archived skipped.
    expect(await membership('m20@example.com')).toBe('unconfirmed');
    const suppression = await t.container.db
      .selectFrom('suppressions')
      .selectAll()
      .where('email', '=', 'm18@example.com')
      .executeTakeFirst();
    expect(suppression).toMatchObject({ reason: 'hard_bounce', source: 'mailchimp' });
    expect(await contactByEmail('m22@example.com')).toBeUndefined();
    expect(await contactByEmail('m23@example.com')).toBeUndefined();
    expect(await contactByEmail('someone@mailinator.com')).toBeUndefined();
  });

  it('changes nothing when the same audience is imported again', async () => {
    const before = await consentCount();
    const again = await runThroughApi('import');
    expect(again.status).toBe('completed');
    expect(again.counts.fetched).toBe(26);
    expect(again.counts.contacts_updated).toBe(20);
    for (const unchanged of ['contacts_created', 'memberships_added', 'memberships_changed'])
      expect(again.counts[unchanged], unchanged).toBeUndefined();
    expect(await consentCount()).toBe(before);
  });

  it('resumes a run at the page after the last one stored', async () => {
    mc.requests.length = 0;
    mc.failAtOffset = { offset: 10, status: 502, times: 5 };
    const started = await call('POST', '/v1/connectors/mailchimp/import');
    const runId = started.body.id;
    // Every attempt at the second page fails: the job fails this time and keeps the first page's progress.
    await expect(crm.execute({ workspaceId: t.workspaceId, runId })).rejects.toThrow(
      'Mailchimp answered 502 5 times',
    );
    const stopped = (await call('GET', `/v1/connectors/runs/${runId}`)).body;
    expect(stopped).toMatchObject({ status: 'running', processed: 10, pages: 1 });
    expect(stopped.error).toContain('502');
    // A second request while it is unfinished gets the same run.
    const same = await call('POST', '/v1/connectors/mailchimp/import');
    expect(same.status).toBe(200);
    expect(same.body.id).toBe(runId);

    mc.requests.length = 0;
    await crm.execute({ workspaceId: t.workspaceId, runId });
    const done = (await call('GET', `/v1/connectors/runs/${runId}`)).body;
    expect(done).toMatchObject({ status: 'completed', processed: 26, pages: 3 });
    const offsets = mc.requests.filter((r) => r.path.endsWith('/members')).map((r) => r.query.get('offset'));
    expect(offsets).toEqual(['10', '20']);
  });
});

describe('Mailchimp sync', () => {
  it('reads only members changed since the last run, through the job runner', async () => {
    const audience = mc.audiences.get('aud1');
    if (!audience) throw new Error('no audience');
    const later = new Date(t.clock.now().getTime() + 3_600_000);
    audience.members[1] = member(1, 'unsubscribed', { last_changed: later.toISOString() });
    audience.members.push(member(30, 'subscribed', { last_changed: later.toISOString() }));
    t.clock.advance(2 * 3_600_000);
    mc.requests.length = 0;
    const before = await consentCount();

    const started = await call('POST', '/v1/connectors/mailchimp/sync');
    expect(started.status).toBe(202);
    expect(started.body.kind).toBe('sync');
    await t.container.runner.drain();
    const done = (await call('GET', `/v1/connectors/runs/${started.body.id}`)).body;
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.counts).toMatchObject({
      fetched: 2,
      contacts_created: 1,
      memberships_added: 1,
      memberships_changed: 1,
    });
    const since = mc.requests.find((r) => r.path.endsWith('/members'))?.query.get('since_last_changed');
    expect(since).toBeTruthy();
    expect(await membership('m1@example.com')).toBe('unsubscribed');
    expect(await membership('m30@example.com')).toBe('confirmed');
    expect(await membership('m2@example.com')).toBe('confirmed');
    // Unsubscribe of m1 (one record), subscribe+confirm of m30 (two).
    expect(await consentCount()).toBe(before + 3);

    const runs = await call('GET', '/v1/connectors/mailchimp/runs?limit=2');
    expect(runs.body.data.map((r: { id: string }) => r.id)[0]).toBe(started.body.id);
  });

  it('the periodic task starts syncs for imported connections only once at a time', async () => {
    expect(await crm.scheduleSyncs()).toBe(1);
    expect(await crm.scheduleSyncs()).toBe(0);
    await t.container.runner.drain();
  });

  it('fails the run with a clear error when Mailchimp stops accepting the key', async () => {
    mc.apiKey = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-us21';
    try {
      const run = await runThroughApi('sync');
      expect(run.status).toBe('failed');
      expect(run.error).toContain('Mailchimp refused the credentials (401');
    } finally {
      mc.apiKey = KEY;
    }
  });

  it("keeps each workspace's connection and runs to itself", async () => {
    const other = await t.createWorkspace();
    const mine = (await call('GET', '/v1/connectors/mailchimp/runs')).body.data[0];
    expect((await call('GET', `/v1/connectors/runs/${mine.id}`, undefined, other.adminKey)).status).toBe(404);
    expect((await call('GET', '/v1/connectors', undefined, other.adminKey)).body.data).toEqual([]);
    expect((await call('GET', '/v1/connectors/mailchimp/runs', undefined, other.adminKey)).body.data).toEqual(
      [],
    );
    expect((await call('DELETE', '/v1/connectors/mailchimp', undefined, other.adminKey)).status).toBe(404);
  });
});

describe('Mailchimp tag removal (lists mode)', () => {
  /** Changes a member's tags the documented way: POST /lists/{id}/members/{md5 of the address}/tags. */
  async function setTags(email: string, tags: { name: string; status: 'active' | 'inactive' }[]) {
    const hash = createHash('md5').update(email.toLowerCase()).digest('hex');
    const res = await fetch(`${mc.baseUrl}/lists/aud1/members/${hash}/tags`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ tags }),
    });
    expect(res.status).toBe(204);
  }

  async function sync() {
    t.clock.advance(60_000);
    const run = await runThroughApi('sync');
    expect(run.status, JSON.stringify(run)).toBe('completed');
    return run as { counts: Record<string, number> };
  }

  it('removes only the memberships the tag created; hand-made ones and unsubscribes stay', async () => {
    mc.now = () => t.clock.now();
    // m2 was on VIP by hand before Mailchimp tagged it; m5 joins VIP through the tag.
    expect(
      (await call('POST', `/v1/lists/${vipListId}/members`, { emails: ['m2@example.com'] })).status,
    ).toBe(200);
    await setTags('m2@example.com', [{ name: 'vip', status: 'active' }]);
    await setTags('m5@example.com', [{ name: 'vip', status: 'active' }]);
    await sync();
    expect(await membership('m2@example.com', vipListId)).toBe('confirmed');
    expect(await membership('m5@example.com', vipListId)).toBe('confirmed');
    // m5 then leaves VIP in Herald: an unsubscribe, the person's own choice.
    await call('POST', `/v1/lists/${vipListId}/members/unsubscribe`, { emails: ['m5@example.com'] });

    // The tag goes in Mailchimp from m0 (tagged since the import), m2 and m5.
    for (const email of ['m0@example.com', 'm2@example.com', 'm5@example.com']) {
      await setTags(email, [{ name: 'vip', status: 'inactive' }]);
    }
    const before = await consentCount();
    const run = await sync();
    expect(run.counts.memberships_removed).toBe(1);
    expect(await membership('m0@example.com', vipListId)).toBeUndefined();
    expect(await membership('m2@example.com', vipListId)).toBe('confirmed');
    expect(await membership('m5@example.com', vipListId)).toBe('unsubscribed');
    // Their audience membership is not a tag's: untouched.
    expect(await membership('m0@example.com')).toBe('confirmed');
    // The removal is in the consent ledger, with why.
    expect(await consentCount()).toBe(before + 1);
    const m0 = await contactByEmail('m0@example.com');
    const [record] = await t.container.db
      .selectFrom('consent_records')
      .selectAll()
      .where('contact_id', '=', m0?.id as string)
      .where('list_id', '=', vipListId)
      .orderBy('id', 'desc')
      .limit(1)
      .execute();
    expect(record).toMatchObject({ action: 'unsubscribe', source: 'import' });
    expect(record?.detail).toMatchObject({ reason: 'mailchimp_tag_removed', tag: 'vip', removed: true });

    // Nothing more on the next sync or a full import; the tag coming back adds the member again.
    const again = await sync();
    expect(again.counts.memberships_removed).toBeUndefined();
    expect(await consentCount()).toBe(before + 1);
    await setTags('m0@example.com', [{ name: 'vip', status: 'active' }]);
    await sync();
    expect(await membership('m0@example.com', vipListId)).toBe('confirmed');
  });

  it('the fake refuses a malformed tag change as Mailchimp does, changing nothing', async () => {
    const hash = createHash('md5').update('m0@example.com').digest('hex');
    const tags = mc.audiences.get('aud1')?.members[0]?.tags;
    const res = await fetch(`${mc.baseUrl}/lists/aud1/members/${hash}/tags`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}` },
      body: JSON.stringify({ tags: [{ name: 'vip', status: 'gone' }] }),
    });
    expect(res.status).toBe(400);
    expect(mc.audiences.get('aud1')?.members[0]?.tags).toEqual(tags);
  });
});

function serviceDeps() {
  const c = t.container;
  return {
    db: c.db,
    clock: c.clock,
    cipher: c.dataKeys.cipher,
    logger: c.logger,
    jobs: c.jobs,
    contacts: c.contacts,
    lists: c.lists,
    attributes: c.attributes,
    suppressions: c.routeDeps.deliverability,
    mailchimp: { baseUrl: mc.baseUrl, pageSize: 10 },
    hubspot: {},
    mayShare: () => true,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  };
}
