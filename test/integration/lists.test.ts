import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function createList(body: Record<string, unknown>) {
  const res = await call('POST', '/v1/lists', body);
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string; opt_in: string };
}

async function createContact(email: string): Promise<string> {
  const res = await call('POST', '/v1/contacts', { email });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function consentOf(contactId: string) {
  const res = await call('GET', `/v1/contacts/${contactId}/consent`);
  expect(res.status).toBe(200);
  return res.body.data as { action: string; list_id: string | null; source: string; detail: unknown }[];
}

async function memberStatuses(listId: string): Promise<Record<string, string>> {
  const res = await call('GET', `/v1/lists/${listId}/members?limit=1000`);
  expect(res.status).toBe(200);
  return Object.fromEntries(res.body.data.map((m: { email: string; status: string }) => [m.email, m.status]));
}

async function countRows(table: 'lists' | 'list_memberships' | 'contacts' | 'consent_records') {
  const row = await t.container.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('lists', () => {
  it('creates with defaults, gets with zero counts, patches, and refuses a duplicate name in any case', async () => {
    const created = await call('POST', '/v1/lists', { name: '  Newsletter ', description: 'Weekly' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Newsletter',
      description: 'Weekly',
      opt_in: 'single',
      visibility: 'private',
    });
    const got = await call('GET', `/v1/lists/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.member_counts).toEqual({ unconfirmed: 0, confirmed: 0, unsubscribed: 0 });

    const dup = await call('POST', '/v1/lists', { name: 'NEWSLETTER' });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('LIST_EXISTS');
    expect(dup.body.detail).toContain(created.body.id);

    t.clock.advance(1000);
    const patched = await call('PATCH', `/v1/lists/${created.body.id}`, {
      name: 'newsletter',
      description: null,
      visibility: 'public',
      opt_in: 'double',
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'newsletter',
      description: null,
      visibility: 'public',
      opt_in: 'double',
    });
    expect(new Date(patched.body.updated_at).getTime()).toBeGreaterThan(
      new Date(patched.body.created_at).getTime(),
    );

    const other = await createList({ name: 'Other list' });
    const rename = await call('PATCH', `/v1/lists/${other.id}`, { name: 'NewsLetter' });
    expect(rename.status).toBe(409);
    expect(rename.body.code).toBe('LIST_EXISTS');
    expect((await call('GET', `/v1/lists/${other.id}`)).body.name).toBe('Other list');
  });

  it('refuses bad input and writes nothing', async () => {
    const before = await countRows('lists');
    const cases: [Method, string, unknown][] = [
      ['POST', '/v1/lists', { name: 'X', colour: 'red' }],
      ['POST', '/v1/lists', { name: 'X', opt_in: 'triple' }],
      ['POST', '/v1/lists', { name: 'X', visibility: 'secret' }],
      ['POST', '/v1/lists', { name: '   ' }],
      ['POST', '/v1/lists', { description: 'no name' }],
    ];
    for (const [method, url, body] of cases) {
      const res = await call(method, url, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    const unknown = await call('POST', '/v1/lists', { name: 'X', colour: 'red' });
    expect(unknown.body.detail).toContain('unknown field "colour"');
    expect(await countRows('lists')).toBe(before);

    const list = await createList({ name: 'Validation target' });
    expect((await call('PATCH', `/v1/lists/${list.id}`, {})).status).toBe(400);
    expect((await call('PATCH', `/v1/lists/${list.id}`, { opt_in: 'maybe' })).status).toBe(400);
    expect((await call('GET', '/v1/lists?cursor=nonsense')).body.code).toBe('INVALID_CURSOR');
    expect((await call('GET', '/v1/lists?visibility=hidden')).status).toBe(400);
    expect((await call('GET', '/v1/lists/not-a-uuid')).status).toBe(400);
    expect((await call('GET', '/v1/lists/01900000-0000-7000-8000-000000000000')).body.code).toBe(
      'LIST_NOT_FOUND',
    );
  });

  it('lists lists in pages and filters by visibility', async () => {
    const ws = await t.createWorkspace('Paging');
    const names = ['P1', 'P2', 'P3'];
    for (const name of names) {
      // Ids are UUIDv7: lists made in the same millisecond have no defined order.
      t.clock.advance(1);
      const res = await call(
        'POST',
        '/v1/lists',
        { name, visibility: name === 'P2' ? 'public' : 'private' },
        ws.adminKey,
      );
      expect(res.status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: { name: string }[]; next_cursor: string | null } } =
        await call('GET', `/v1/lists?limit=2${cursor ? `&cursor=${cursor}` : ''}`, undefined, ws.adminKey);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((l) => l.name));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(names);
    const pub = await call('GET', '/v1/lists?visibility=public', undefined, ws.adminKey);
    expect(pub.body.data.map((l: { name: string }) => l.name)).toEqual(['P2']);
  });

  it('adds members as confirmed on a single opt-in list and unconfirmed on a double opt-in list', async () => {
    const single = await createList({ name: 'Single', opt_in: 'single' });
    const double = await createList({ name: 'Double', opt_in: 'double' });
    const id = await createContact('opt@example.com');

    const a = await call('POST', `/v1/lists/${single.id}/members`, { contact_ids: [id] });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      added: 1,
      already_members: 0,
      resubscribed: 0,
      kept_unsubscribed: 0,
      not_found: [],
      invalid: [],
    });
    const b = await call('POST', `/v1/lists/${double.id}/members`, { contact_ids: [id] });
    expect(b.body.added).toBe(1);
    expect(await memberStatuses(single.id)).toEqual({ 'opt@example.com': 'confirmed' });
    expect(await memberStatuses(double.id)).toEqual({ 'opt@example.com': 'unconfirmed' });

    const members = await call('GET', `/v1/lists/${single.id}/members`);
    expect(members.body.data[0].confirmed_at).not.toBeNull();
    expect(members.body.data[0].unsubscribed_at).toBeNull();

    // Directly confirmed: subscribe + confirm. Double opt-in default: subscribe only.
    const records = await consentOf(id);
    const forSingle = records.filter((r) => r.list_id === single.id).map((r) => r.action);
    const forDouble = records.filter((r) => r.list_id === double.id).map((r) => r.action);
    expect(forSingle.sort()).toEqual(['confirm', 'subscribe']);
    expect(forDouble).toEqual(['subscribe']);
    expect(records.every((r) => r.source === 'api')).toBe(true);

    // An explicit status overrides the list's default.
    const id2 = await createContact('asserted@example.com');
    await call('POST', `/v1/lists/${double.id}/members`, { contact_ids: [id2], status: 'confirmed' });
    await call('POST', `/v1/lists/${single.id}/members`, { contact_ids: [id2], status: 'unconfirmed' });
    expect((await memberStatuses(double.id))['asserted@example.com']).toBe('confirmed');
    expect((await memberStatuses(single.id))['asserted@example.com']).toBe('unconfirmed');
    const confirm = (await consentOf(id2)).find((r) => r.action === 'confirm');
    expect(confirm).toMatchObject({ list_id: double.id, detail: { reason: 'asserted_by_caller' } });
  });

  it('adds by ids and emails: creates new contacts, reports invalid emails and foreign ids, adds the rest', async () => {
    const list = await createList({ name: 'Mixed' });
    const known = await createContact('known@example.com');
    const other = await t.createWorkspace('Foreign');
    const foreign = await call('POST', '/v1/contacts', { email: 'foreign@example.com' }, other.adminKey);
    const missing = '01900000-0000-7000-8000-0000000000aa';
    const consentBefore = await countRows('consent_records');

    const res = await call('POST', `/v1/lists/${list.id}/members`, {
      contact_ids: [known, foreign.body.id, missing],
      emails: ['New.Person@Example.COM', 'not-an-email', 'known@EXAMPLE.com', 'x@'],
    });
    expect(res.status).toBe(200);
    expect(res.body.added).toBe(2);
    expect(res.body.already_members).toBe(0);
    expect(res.body.not_found.sort()).toEqual([foreign.body.id, missing].sort());
    expect(res.body.invalid.map((i: { email: string }) => i.email)).toEqual(['not-an-email', 'x@']);
    expect(res.body.invalid[0].reason).toContain('no @');

    const created = await call('GET', '/v1/contacts?email=new.person@example.com');
    expect(created.body.data).toHaveLength(1);
    expect(created.body.data[0].email).toBe('New.Person@example.com');
    expect(await memberStatuses(list.id)).toEqual({
      'known@example.com': 'confirmed',
      'New.Person@example.com': 'confirmed',
    });
    // Two members, each with subscribe + confirm; nothing for the foreign contact.
    expect((await countRows('consent_records')) - consentBefore).toBe(4);
    expect(await consentOf(created.body.data[0].id)).toHaveLength(2);
    const foreignConsent = await call(
      'GET',
      `/v1/contacts/${foreign.body.id}/consent`,
      undefined,
      other.adminKey,
    );
    expect(foreignConsent.body.data).toHaveLength(0);

    const again = await call('POST', `/v1/lists/${list.id}/members`, { emails: ['known@example.com'] });
    expect(again.body).toMatchObject({ added: 0, already_members: 1 });
    expect((await countRows('consent_records')) - consentBefore).toBe(4);
  });

  it('refuses empty and oversized member requests and writes nothing', async () => {
    const list = await createList({ name: 'Limits' });
    const before = {
      contacts: await countRows('contacts'),
      memberships: await countRows('list_memberships'),
      consent: await countRows('consent_records'),
    };
    const emails = Array.from({ length: 600 }, (_, i) => `bulk${i}@example.com`);
    const ids = Array.from(
      { length: 401 },
      (_, i) => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    );
    const tooMany = await call('POST', `/v1/lists/${list.id}/members`, { emails, contact_ids: ids });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.code).toBe('VALIDATION_FAILED');
    expect(tooMany.body.detail).toContain('at most 1000');
    const oneArrayTooLong = await call('POST', `/v1/lists/${list.id}/members`, {
      emails: Array.from({ length: 1001 }, (_, i) => `long${i}@example.com`),
    });
    expect(oneArrayTooLong.status).toBe(400);
    for (const body of [
      {},
      { emails: [] },
      { contact_ids: ['nope'] },
      { emails: ['a@example.com'], extra: 1 },
    ]) {
      const res = await call('POST', `/v1/lists/${list.id}/members`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(
      (
        await call('POST', `/v1/lists/${list.id}/members`, {
          emails: ['a@example.com'],
          status: 'unsubscribed',
        })
      ).status,
    ).toBe(400);
    for (const action of ['unsubscribe', 'confirm', 'remove']) {
      expect((await call('POST', `/v1/lists/${list.id}/members/${action}`, {})).status).toBe(400);
      expect(
        (
          await call('POST', `/v1/lists/${list.id}/members/${action}`, {
            emails: ['a@example.com'],
            status: 'x',
          })
        ).status,
      ).toBe(400);
    }
    expect({
      contacts: await countRows('contacts'),
      memberships: await countRows('list_memberships'),
      consent: await countRows('consent_records'),
    }).toEqual(before);
  });

  it('keeps existing statuses, re-subscribes unsubscribed members only when a status is given', async () => {
    const list = await createList({ name: 'Resubscribe', opt_in: 'double' });
    const id = await createContact('back@example.com');
    await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [id] });
    const unsub = await call('POST', `/v1/lists/${list.id}/members/unsubscribe`, {
      emails: ['BACK@example.com'],
    });
    expect(unsub.body).toEqual({
      unsubscribed: 1,
      already_unsubscribed: 0,
      not_members: 0,
      not_found: [],
      invalid: [],
    });
    const records = (await consentOf(id)).length;

    const plain = await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [id] });
    expect(plain.body).toMatchObject({ added: 0, already_members: 1, resubscribed: 0, kept_unsubscribed: 1 });
    expect((await memberStatuses(list.id))['back@example.com']).toBe('unsubscribed');
    expect(await consentOf(id)).toHaveLength(records);

    t.clock.advance(1000);
    const explicit = await call('POST', `/v1/lists/${list.id}/members`, {
      contact_ids: [id],
      status: 'confirmed',
    });
    expect(explicit.body).toMatchObject({
      added: 0,
      already_members: 0,
      resubscribed: 1,
      kept_unsubscribed: 0,
    });
    const member = (await call('GET', `/v1/lists/${list.id}/members`)).body.data[0];
    expect(member).toMatchObject({ status: 'confirmed', unsubscribed_at: null });
    expect(member.confirmed_at).not.toBeNull();
    const after = await consentOf(id);
    expect(after).toHaveLength(records + 2);
    expect(after.find((r) => (r.detail as { resubscribed?: boolean } | null)?.resubscribed)).toMatchObject({
      action: 'subscribe',
    });

    // An unconfirmed member re-added with status confirmed keeps its status: confirming is its own call.
    const id2 = await createContact('pending@example.com');
    await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [id2] });
    const readd = await call('POST', `/v1/lists/${list.id}/members`, {
      contact_ids: [id2],
      status: 'confirmed',
    });
    expect(readd.body).toMatchObject({ added: 0, already_members: 1 });
    expect((await memberStatuses(list.id))['pending@example.com']).toBe('unconfirmed');
  });

  it('confirms, unsubscribes and removes members, each recorded in the consent ledger', async () => {
    const list = await createList({ name: 'Lifecycle', opt_in: 'double' });
    const a = await createContact('life-a@example.com');
    const b = await createContact('life-b@example.com');
    const outsider = await createContact('outsider@example.com');
    await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [a, b] });

    t.clock.advance(1000);
    const confirmed = await call('POST', `/v1/lists/${list.id}/members/confirm`, {
      contact_ids: [a, outsider],
      emails: ['life-a@example.com', 'nobody@example.com', 'bad'],
    });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toEqual({
      confirmed: 1,
      already_confirmed: 0,
      skipped_unsubscribed: 0,
      not_members: 2,
      not_found: [],
      invalid: [{ email: 'bad', reason: expect.stringContaining('no @') }],
    });
    const again = await call('POST', `/v1/lists/${list.id}/members/confirm`, { contact_ids: [a] });
    expect(again.body).toMatchObject({ confirmed: 0, already_confirmed: 1 });
    expect((await consentOf(a)).map((r) => r.action)).toEqual(['subscribe', 'confirm']);
    expect(await consentOf(outsider)).toHaveLength(0);

    t.clock.advance(1000);
    const unsub = await call('POST', `/v1/lists/${list.id}/members/unsubscribe`, { contact_ids: [a, b] });
    expect(unsub.body).toMatchObject({ unsubscribed: 2, already_unsubscribed: 0, not_members: 0 });
    const members = (await call('GET', `/v1/lists/${list.id}/members`)).body.data;
    expect(
      members.every(
        (m: { status: string; unsubscribed_at: string | null }) =>
          m.status === 'unsubscribed' && m.unsubscribed_at,
      ),
    ).toBe(true);
    const unsubAgain = await call('POST', `/v1/lists/${list.id}/members/unsubscribe`, { contact_ids: [a] });
    expect(unsubAgain.body).toMatchObject({ unsubscribed: 0, already_unsubscribed: 1 });
    const confirmUnsub = await call('POST', `/v1/lists/${list.id}/members/confirm`, { contact_ids: [b] });
    expect(confirmUnsub.body).toMatchObject({ confirmed: 0, skipped_unsubscribed: 1 });
    expect((await consentOf(a)).map((r) => r.action)).toEqual(['subscribe', 'confirm', 'unsubscribe']);
    expect((await consentOf(b)).map((r) => r.action)).toEqual(['subscribe', 'unsubscribe']);
    expect((await consentOf(a))[2]).toMatchObject({
      list_id: list.id,
      source: 'api',
      detail: { from: 'confirmed' },
    });

    t.clock.advance(1000);
    const removed = await call('POST', `/v1/lists/${list.id}/members/remove`, {
      emails: ['life-a@example.com'],
      contact_ids: [outsider, '01900000-0000-7000-8000-0000000000bb'],
    });
    expect(removed.body).toEqual({
      removed: 1,
      not_members: 1,
      not_found: ['01900000-0000-7000-8000-0000000000bb'],
      invalid: [],
    });
    expect(Object.keys(await memberStatuses(list.id))).toEqual(['life-b@example.com']);
    const last = (await consentOf(a)).at(-1);
    expect(last).toMatchObject({ action: 'unsubscribe', list_id: list.id, detail: { removed: true } });
    const removeAgain = await call('POST', `/v1/lists/${list.id}/members/remove`, { contact_ids: [a] });
    expect(removeAgain.body).toMatchObject({ removed: 0, not_members: 1 });
    expect(await consentOf(a)).toHaveLength(4);
  });

  it('lists members by status in pages, counts them, and feeds the contacts list filter', async () => {
    const list = await createList({ name: 'Counting', opt_in: 'double' });
    const emails = Array.from({ length: 5 }, (_, i) => `count${i}@example.com`);
    const add = await call('POST', `/v1/lists/${list.id}/members`, { emails });
    expect(add.body.added).toBe(5);
    await call('POST', `/v1/lists/${list.id}/members/confirm`, { emails: emails.slice(0, 3) });
    await call('POST', `/v1/lists/${list.id}/members/unsubscribe`, { emails: [emails[4]] });

    const got = await call('GET', `/v1/lists/${list.id}`);
    expect(got.body.member_counts).toEqual({ unconfirmed: 1, confirmed: 3, unsubscribed: 1 });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: {
        body: { data: { email: string; status: string; contact_id: string }[]; next_cursor: string | null };
      } = await call(
        'GET',
        `/v1/lists/${list.id}/members?status=confirmed&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.body.data.every((m) => m.status === 'confirmed')).toBe(true);
      seen.push(...page.body.data.map((m) => m.email));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(emails.slice(0, 3));
    expect((await call('GET', `/v1/lists/${list.id}/members?status=gone`)).status).toBe(400);

    const viaContacts = await call('GET', `/v1/contacts?list_id=${list.id}&list_status=confirmed`);
    expect(viaContacts.status).toBe(200);
    expect(viaContacts.body.data.map((c: { email: string }) => c.email).sort()).toEqual(emails.slice(0, 3));
    const all = await call('GET', `/v1/contacts?list_id=${list.id}`);
    expect(all.body.data).toHaveLength(5);
  });

  it('deletes a list', async () => {
    const list = await createList({ name: 'Short-lived' });
    expect((await call('DELETE', `/v1/lists/${list.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/lists/${list.id}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/lists/${list.id}`)).status).toBe(404);
    expect((await call('POST', '/v1/lists', { name: 'Short-lived' })).status).toBe(201);
  });

  it('deletes a list with its memberships but keeps the contacts and their consent records', async () => {
    const list = await createList({ name: 'Doomed' });
    const id = await createContact('survivor@example.com');
    await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [id] });
    expect((await call('GET', `/v1/contacts/${id}`)).body.lists).toHaveLength(1);
    const records = (await consentOf(id)).length;
    expect((await call('DELETE', `/v1/lists/${list.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/lists/${list.id}`)).status).toBe(404);
    const contact = await call('GET', `/v1/contacts/${id}`);
    expect(contact.status).toBe(200);
    expect(contact.body.lists).toEqual([]);
    expect(await consentOf(id)).toHaveLength(records);
    expect((await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [id] })).status).toBe(404);
  });

  it('needs lists scopes', async () => {
    const list = await createList({ name: 'Scoped' });
    const reader = await t.createKey(['lists:read']);
    expect((await call('GET', `/v1/lists/${list.id}`, undefined, reader)).status).toBe(200);
    expect((await call('GET', `/v1/lists/${list.id}/members`, undefined, reader)).status).toBe(200);
    const write = await call('POST', `/v1/lists/${list.id}/members`, { emails: ['r@example.com'] }, reader);
    expect(write.status).toBe(403);
    expect((await call('PATCH', `/v1/lists/${list.id}`, { name: 'Y' }, reader)).status).toBe(403);
    const contactsOnly = await t.createKey(['contacts:read']);
    expect((await call('GET', '/v1/lists', undefined, contactsOnly)).status).toBe(403);
  });

  it("gives another workspace's key 404 on every list route and changes nothing", async () => {
    const list = await createList({ name: 'Private to us' });
    const id = await createContact('ours@example.com');
    await call('POST', `/v1/lists/${list.id}/members`, { contact_ids: [id] });
    const other = await t.createWorkspace('Intruder');
    const body = { contact_ids: [id], emails: ['ours@example.com'] };
    const routes: [Method, string, unknown][] = [
      ['GET', `/v1/lists/${list.id}`, undefined],
      ['PATCH', `/v1/lists/${list.id}`, { name: 'Taken over' }],
      ['GET', `/v1/lists/${list.id}/members`, undefined],
      ['POST', `/v1/lists/${list.id}/members`, body],
      ['POST', `/v1/lists/${list.id}/members/unsubscribe`, body],
      ['POST', `/v1/lists/${list.id}/members/confirm`, body],
      ['POST', `/v1/lists/${list.id}/members/remove`, body],
      ['DELETE', `/v1/lists/${list.id}`, undefined],
    ];
    const covered = t.app.routeTable.filter((r) => r.url.startsWith('/v1/lists/:id')).length;
    expect(routes).toHaveLength(covered);
    for (const [method, url, payload] of routes) {
      const res = await call(method, url, payload, other.adminKey);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.code).toBe('LIST_NOT_FOUND');
    }
    const theirs = await call('GET', '/v1/lists', undefined, other.adminKey);
    expect(theirs.body.data).toEqual([]);
    const still = await call('GET', `/v1/lists/${list.id}`);
    expect(still.body).toMatchObject({ name: 'Private to us', member_counts: { confirmed: 1 } });
    expect(
      (await call('GET', '/v1/contacts?email=ours@example.com', undefined, other.adminKey)).body.data,
    ).toEqual([]);
  });
});
