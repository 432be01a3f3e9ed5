import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImportCommand } from '../../src/main/commands/import.js';
import { createImportService } from '../../src/modules/imports/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let small: TestApp;
let dir: string;

beforeAll(async () => {
  t = await createTestApp();
  dir = mkdtempSync(join(tmpdir(), 'herald-import-'));
  await call('POST', '/v1/attributes', { name: 'score', type: 'number' });
  await call('POST', '/v1/attributes', { name: 'vip', type: 'boolean' });
});
afterAll(async () => {
  await t?.close();
  await small?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown, app = t) {
  const res = await app.app.inject({
    method,
    url,
    headers: app.auth(),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function upload(csv: string | Buffer | Readable, query = '', app = t) {
  const res = await app.app.inject({
    method: 'POST',
    url: `/v1/imports${query ? `?${query}` : ''}`,
    headers: { ...app.auth(), 'content-type': 'text/csv' },
    payload: csv,
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/** Uploads, runs the job, and returns the finished import with its first errors. */
async function importCsv(csv: string | Buffer, query = '') {
  const res = await upload(csv, query);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.status).toBe('queued');
  await t.container.runner.drain();
  const done = await call('GET', `/v1/imports/${res.body.id}`);
  expect(done.status).toBe(200);
  return done.body;
}

async function contact(email: string) {
  const res = await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`);
  const found = res.body.data[0];
  return found ? (await call('GET', `/v1/contacts/${found.id}`)).body : undefined;
}

async function consentOf(contactId: string) {
  return (await call('GET', `/v1/contacts/${contactId}/consent`)).body.data;
}

async function createList(name: string, optIn: 'single' | 'double') {
  const res = await call('POST', '/v1/lists', { name, opt_in: optIn, visibility: 'private' });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function count(table: string, app = t): Promise<number> {
  const result = await app.container.database.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
  return result.rows[0].n;
}

async function snapshot(app = t) {
  const tables = [
    'contacts',
    'lists',
    'list_memberships',
    'consent_records',
    'imports',
    'import_chunks',
    'jobs',
  ];
  return Object.fromEntries(await Promise.all(tables.map(async (name) => [name, await count(name, app)])));
}

describe('CSV import: rows', () => {
  it('imports good rows and reports exactly the 3 bad ones with their line numbers', async () => {
    const csv = [
      'email,first_name,score,status',
      'ann@example.com,Ann,10,active',
      'not-an-email,Bob,5,',
      'cy@example.com,Cy,high,',
      'dee@example.com,Dee,7',
      'eve@example.com,Eve,3,unsubscribed',
      'fay@example.com,Fay,,',
    ].join('\n');
    const report = await importCsv(csv);
    expect(report).toMatchObject({
      status: 'completed',
      mode: 'upsert',
      rows_total: 6,
      created_count: 3,
      updated_count: 0,
      skipped_count: 0,
      failed_count: 3,
      error: null,
    });
    expect(report.errors).toEqual([
      { line: 3, reason: 'invalid email: email has no @' },
      { line: 4, reason: 'attribute "score" must be a number, got "high"' },
      { line: 5, reason: expect.stringContaining('has 3 columns but the header has 4') },
    ]);
    expect((await contact('ann@example.com')).attributes).toEqual({ first_name: 'Ann', score: 10 });
    // An empty cell leaves the attribute unset.
    expect((await contact('fay@example.com')).attributes).toEqual({ first_name: 'Fay' });
    expect(await contact('cy@example.com')).toBeUndefined();
    expect(await contact('dee@example.com')).toBeUndefined();
    const eve = await contact('eve@example.com');
    expect(eve.status).toBe('unsubscribed');
    expect(await consentOf(eve.id)).toEqual([
      expect.objectContaining({
        action: 'status_change',
        source: 'import',
        source_id: report.id,
        detail: { from: null, to: 'unsubscribed' },
      }),
    ]);
    // The stored file is gone once the import has finished.
    expect(await count('import_chunks')).toBe(0);
  });
});

describe('CSV import: mapping', () => {
  it('maps columns by name by default: built-in fields, attributes, slugged headers', async () => {
    const csv = [
      'Email Address,First Name,tags,timezone,locale,external_id,vip',
      'map1@example.com,Mia,"news; beta,vip",europe/berlin,de-de,crm-1,yes',
    ].join('\n');
    const report = await importCsv(csv);
    expect(report.mapping).toEqual({
      'Email Address': 'email',
      'First Name': 'attributes.first_name',
      tags: 'tags',
      timezone: 'timezone',
      locale: 'locale',
      external_id: 'external_id',
      vip: 'attributes.vip',
    });
    expect(await contact('map1@example.com')).toMatchObject({
      external_id: 'crm-1',
      tags: ['beta', 'news', 'vip'],
      timezone: 'Europe/Berlin',
      locale: 'de-DE',
      attributes: { first_name: 'Mia', vip: true },
    });
  });

  it('applies an explicit mapping, which overrides names and ignores columns mapped to null', async () => {
    const mapping = {
      Mail: 'email',
      Vorname: 'attributes.first_name',
      Notizen: null,
      Kundennummer: 'external_id',
    };
    const csv = ['Mail,Vorname,Notizen,Kundennummer,plan', 'map2@example.com,Max,secret,crm-2,pro'].join(
      '\n',
    );
    const report = await importCsv(csv, `mapping=${encodeURIComponent(JSON.stringify(mapping))}`);
    expect(report).toMatchObject({ status: 'completed', created_count: 1, failed_count: 0 });
    expect(report.mapping).toEqual({
      Mail: 'email',
      Vorname: 'attributes.first_name',
      Notizen: null,
      Kundennummer: 'external_id',
      plan: 'attributes.plan',
    });
    expect(await contact('map2@example.com')).toMatchObject({
      external_id: 'crm-2',
      attributes: { first_name: 'Max', plan: 'pro' },
    });
  });

  it('refuses a file without an email column at once, naming the columns, and stores nothing', async () => {
    const before = await snapshot();
    const res = await upload('name,plan\nAnn,pro\n');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_MAPPING');
    expect(res.body.detail).toContain('no email column');
    expect(res.body.detail).toContain('"name", "plan"');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a mapping that names an unknown column or a bad target, naming the column', async () => {
    const before = await snapshot();
    const unknown = await upload(
      'email,plan\na@example.com,pro\n',
      `mapping=${encodeURIComponent('{"Plan Name":"attributes.plan"}')}`,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('INVALID_MAPPING');
    expect(unknown.body.detail).toContain('"Plan Name"');
    const badTarget = await upload(
      'email,plan\na@example.com,pro\n',
      `mapping=${encodeURIComponent('{"plan":"plan_name"}')}`,
    );
    expect(badTarget.status).toBe(400);
    expect(badTarget.body.code).toBe('INVALID_MAPPING');
    expect(badTarget.body.detail).toContain('column "plan" has unknown target "plan_name"');
    const notJson = await upload('email\na@example.com\n', 'mapping=%7Bnope');
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('INVALID_MAPPING');
    const twice = await upload(
      'email,Mail\na@example.com,b@example.com\n',
      'mapping=%7B%22Mail%22%3A%22email%22%7D',
    );
    expect(twice.status).toBe(400);
    expect(twice.body.detail).toContain('both map to email');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a file that is not valid CSV with the line where it breaks, and stores nothing', async () => {
    const before = await snapshot();
    const res = await upload('email,name\na@example.com,Ann\nb@example.com,"Bob\nc@example.com,Cy\n');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_CSV');
    expect(res.body.detail).toMatch(/^line 3: a quoted field that starts here is never closed/);
    const empty = await upload('');
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe('INVALID_CSV');
    expect(await snapshot()).toEqual(before);
  });
});

describe('CSV import: file format', () => {
  it('counts lines right with a BOM, CRLF line ends and quoted multi-line fields', async () => {
    const csv = [
      '\ufeffemail,note,score',
      'ml1@example.com,"first line\r\nsecond line",1',
      'bad-1,"a\r\nb\r\nc",2',
      '',
      'ml2@example.com,"x, ""quoted"" y",3',
      'ml3@example.com,plain,three',
    ].join('\r\n');
    const report = await importCsv(csv);
    expect(report).toMatchObject({ rows_total: 4, created_count: 2, failed_count: 2 });
    expect(report.errors).toEqual([
      { line: 4, reason: 'invalid email: email has no @' },
      { line: 9, reason: 'attribute "score" must be a number, got "three"' },
    ]);
    expect((await contact('ml1@example.com')).attributes.note).toBe('first line\r\nsecond line');
    expect((await contact('ml2@example.com')).attributes.note).toBe('x, "quoted" y');
    // The BOM does not end up in the first column's name.
    expect(report.mapping).toHaveProperty('email', 'email');
  });

  it('lets later rows update earlier ones when a file repeats an email', async () => {
    const csv = [
      'email,plan,tags,score',
      'dup@example.com,free,a,1',
      'other@example.com,free,,',
      'DUP@example.com,pro,b,',
      'dup@example.com,,c,3',
    ].join('\n');
    const report = await importCsv(csv);
    expect(report).toMatchObject({ rows_total: 4, created_count: 2, updated_count: 2, failed_count: 0 });
    expect(await contact('dup@example.com')).toMatchObject({
      attributes: { plan: 'pro', score: 3 },
      tags: ['a', 'b', 'c'],
    });
  });
});

describe('CSV import: modes', () => {
  it('upsert merges attributes, adds tags, overwrites given fields, and never reactivates an unsubscribed contact', async () => {
    await call('POST', '/v1/contacts', {
      email: 'up@example.com',
      attributes: { plan: 'free', city: 'Berlin' },
      tags: ['old'],
      timezone: 'Europe/Berlin',
    });
    await call('POST', '/v1/contacts', { email: 'gone@example.com', status: 'unsubscribed' });
    const report = await importCsv(
      'email,plan,tags,timezone,status\nup@example.com,pro,new,America/New_York,\ngone@example.com,pro,,,active\n',
    );
    expect(report).toMatchObject({ created_count: 0, updated_count: 2, skipped_count: 0, failed_count: 0 });
    expect(await contact('up@example.com')).toMatchObject({
      status: 'active',
      attributes: { plan: 'pro', city: 'Berlin' },
      tags: ['new', 'old'],
      timezone: 'America/New_York',
    });
    const gone = await contact('gone@example.com');
    expect(gone).toMatchObject({ status: 'unsubscribed', attributes: { plan: 'pro' } });
  });

  it('upsert records status changes in the consent ledger with the import as source', async () => {
    await call('POST', '/v1/contacts', { email: 'change@example.com' });
    const report = await importCsv('email,status\nchange@example.com,bounced\n');
    const changed = await contact('change@example.com');
    expect(changed.status).toBe('bounced');
    expect(await consentOf(changed.id)).toEqual([
      expect.objectContaining({
        action: 'status_change',
        source: 'import',
        source_id: report.id,
        detail: { from: 'active', to: 'bounced' },
      }),
    ]);
  });

  it('add creates new contacts only and skips existing ones untouched', async () => {
    await call('POST', '/v1/contacts', { email: 'keep@example.com', attributes: { plan: 'free' } });
    const report = await importCsv('email,plan\nkeep@example.com,pro\nfresh@example.com,pro\n', 'mode=add');
    expect(report).toMatchObject({ mode: 'add', created_count: 1, updated_count: 0, skipped_count: 1 });
    expect((await contact('keep@example.com')).attributes).toEqual({ plan: 'free' });
    expect((await contact('fresh@example.com')).attributes).toEqual({ plan: 'pro' });
  });

  it('unsubscribe without a list unsubscribes known contacts and skips unknown ones', async () => {
    await call('POST', '/v1/contacts', { email: 'unsub1@example.com' });
    await call('POST', '/v1/contacts', { email: 'unsub2@example.com', status: 'unsubscribed' });
    const before = await count('contacts');
    const report = await importCsv(
      'email,whatever column\nunsub1@example.com,x\nunsub2@example.com,y\nnobody@example.com,z\n',
      'mode=unsubscribe',
    );
    expect(report).toMatchObject({
      rows_total: 3,
      created_count: 0,
      updated_count: 1,
      skipped_count: 2,
      failed_count: 0,
    });
    expect(await count('contacts')).toBe(before);
    const unsub = await contact('unsub1@example.com');
    expect(unsub.status).toBe('unsubscribed');
    expect(await consentOf(unsub.id)).toEqual([
      expect.objectContaining({
        action: 'status_change',
        source: 'import',
        detail: { from: 'active', to: 'unsubscribed' },
      }),
    ]);
  });

  it('unsubscribe with a list unsubscribes the membership and leaves the contact active', async () => {
    const listId = await createList('Unsub list', 'single');
    await importCsv('email\nmember1@example.com\nmember2@example.com\n', `list_id=${listId}`);
    const report = await importCsv('email\nmember1@example.com\n', `mode=unsubscribe&list_id=${listId}`);
    expect(report).toMatchObject({ updated_count: 1, skipped_count: 0 });
    const member = await contact('member1@example.com');
    expect(member.status).toBe('active');
    expect(member.lists).toEqual([expect.objectContaining({ list_id: listId, status: 'unsubscribed' })]);
    expect((await consentOf(member.id)).map((r: { action: string }) => r.action)).toEqual([
      'subscribe',
      'confirm',
      'unsubscribe',
    ]);
    expect((await contact('member2@example.com')).lists[0].status).toBe('confirmed');
  });

  it('block blocks existing contacts and creates missing ones blocked', async () => {
    await call('POST', '/v1/contacts', { email: 'spammer@example.com' });
    const report = await importCsv('email\nspammer@example.com\nnew-spammer@example.com\n', 'mode=block');
    expect(report).toMatchObject({ created_count: 1, updated_count: 1, skipped_count: 0 });
    const existing = await contact('spammer@example.com');
    const created = await contact('new-spammer@example.com');
    expect(existing.status).toBe('blocked');
    expect(created.status).toBe('blocked');
    expect((await consentOf(existing.id))[0].detail).toEqual({ from: 'active', to: 'blocked' });
    expect((await consentOf(created.id))[0].detail).toEqual({ from: null, to: 'blocked' });
    // A blocked contact stays blocked whatever a later upsert says.
    await importCsv('email,status\nspammer@example.com,active\n');
    expect((await contact('spammer@example.com')).status).toBe('blocked');
    const again = await importCsv('email\nspammer@example.com\n', 'mode=block');
    expect(again).toMatchObject({ updated_count: 0, skipped_count: 1 });
  });

  it('reports an external_id that belongs to another contact as a row error', async () => {
    await call('POST', '/v1/contacts', { email: 'owner-x@example.com', external_id: 'crm-x' });
    const report = await importCsv('email,external_id\nthief@example.com,crm-x\nfine@example.com,crm-y\n');
    expect(report).toMatchObject({ created_count: 1, failed_count: 1 });
    expect(report.errors[0]).toEqual({
      line: 2,
      reason: expect.stringContaining('external_id "crm-x" already belongs'),
    });
  });
});

describe('CSV import: lists and consent', () => {
  it('subscribes to a single opt-in list as confirmed and a double opt-in list as unconfirmed, with consent records', async () => {
    const single = await createList('Single', 'single');
    const double = await createList('Double', 'double');
    const r1 = await importCsv('email\nsub1@example.com\n', `list_id=${single}`);
    expect(r1).toMatchObject({ list_id: single, created_count: 1 });
    const r2 = await importCsv('email\nsub1@example.com\n', `list_id=${double}`);
    expect(r2).toMatchObject({ updated_count: 1 });
    const sub = await contact('sub1@example.com');
    const statuses = Object.fromEntries(
      sub.lists.map((l: { list_id: string; status: string }) => [l.list_id, l.status]),
    );
    expect(statuses).toEqual({ [single]: 'confirmed', [double]: 'unconfirmed' });
    expect(await consentOf(sub.id)).toEqual([
      expect.objectContaining({
        action: 'subscribe',
        list_id: single,
        source: 'import',
        source_id: r1.id,
        detail: { status: 'confirmed' },
      }),
      expect.objectContaining({
        action: 'confirm',
        list_id: single,
        source: 'import',
        source_id: r1.id,
        detail: { reason: 'single_opt_in' },
      }),
      expect.objectContaining({
        action: 'subscribe',
        list_id: double,
        source: 'import',
        source_id: r2.id,
        detail: { status: 'unconfirmed' },
      }),
    ]);
  });

  it('lets list_status override the opt-in, upgrades unconfirmed members, and never downgrades', async () => {
    const double = await createList('Double 2', 'double');
    await importCsv('email\nover@example.com\n', `list_id=${double}`);
    const confirmed = await importCsv('email\nover@example.com\n', `list_id=${double}&list_status=confirmed`);
    expect(confirmed).toMatchObject({ updated_count: 1 });
    const member = await contact('over@example.com');
    expect(member.lists[0].status).toBe('confirmed');
    expect((await consentOf(member.id)).map((r: { action: string }) => r.action)).toEqual([
      'subscribe',
      'confirm',
    ]);
    expect((await consentOf(member.id))[1].detail).toEqual({ reason: 'asserted_by_caller' });
    await importCsv('email\nover@example.com\n', `list_id=${double}&list_status=unconfirmed`);
    expect((await contact('over@example.com')).lists[0].status).toBe('confirmed');
    expect(await consentOf(member.id)).toHaveLength(2);
  });

  it('does not re-subscribe a member who unsubscribed, but still updates the contact', async () => {
    const listId = await createList('Respect', 'single');
    await importCsv('email\nleft@example.com\n', `list_id=${listId}`);
    const left = await contact('left@example.com');
    const unsub = await call('POST', `/v1/lists/${listId}/members/unsubscribe`, { contact_ids: [left.id] });
    expect(unsub.status).toBeLessThan(300);
    const consentBefore = (await consentOf(left.id)).length;
    const report = await importCsv(
      'email,plan\nleft@example.com,pro\nnew-member@example.com,pro\n',
      `list_id=${listId}`,
    );
    expect(report).toMatchObject({ created_count: 1, updated_count: 0, skipped_count: 1 });
    const after = await contact('left@example.com');
    expect(after.lists[0].status).toBe('unsubscribed');
    expect(after.attributes.plan).toBe('pro');
    expect(await consentOf(left.id)).toHaveLength(consentBefore);
  });

  it("refuses an unknown list or another workspace's list with 404 and stores nothing", async () => {
    const other = await t.createWorkspace('Other imports');
    const foreign = await t.app.inject({
      method: 'POST',
      url: '/v1/lists',
      headers: t.auth(other.adminKey),
      payload: { name: 'Foreign', opt_in: 'single', visibility: 'private' },
    });
    const before = await snapshot();
    for (const listId of ['00000000-0000-7000-8000-000000000000', foreign.json().id]) {
      const res = await upload('email\nlisted@example.com\n', `list_id=${listId}`);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('LIST_NOT_FOUND');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses options that do not fit together', async () => {
    const listId = await createList('Combos', 'single');
    const block = await upload('email\na@example.com\n', `mode=block&list_id=${listId}`);
    expect(block.status).toBe(400);
    expect(block.body.detail).toContain('leave out list_id');
    const status = await upload('email\na@example.com\n', 'list_status=confirmed');
    expect(status.status).toBe(400);
    expect(status.body.detail).toContain('list_status needs a list_id');
  });
});

describe('CSV import: HTTP', () => {
  it('refuses a body that is not text/csv with 415', async () => {
    const json = await t.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: t.auth(),
      payload: { email: 'a@example.com' },
    });
    expect(json.statusCode).toBe(415);
    expect(json.json().detail).toContain('Content-Type: text/csv');
  });

  it('refuses an upload larger than the limit with 413, with or without Content-Length, storing nothing', async () => {
    small = await createTestApp({ HERALD_IMPORT_MAX_BYTES: '2048' });
    const big = `email,note\n${Array.from({ length: 100 }, (_, i) => `big${i}@example.com,${'x'.repeat(20)}`).join('\n')}\n`;
    const before = await snapshot(small);
    const withLength = await upload(big, '', small);
    expect(withLength.status).toBe(413);
    expect(withLength.body.code).toBe('PAYLOAD_TOO_LARGE');
    const streamed = await upload(
      Readable.from([Buffer.from(big.slice(0, 1500)), Buffer.from(big.slice(1500))]),
      '',
      small,
    );
    expect(streamed.status).toBe(413);
    expect(await snapshot(small)).toEqual(before);
    const fits = await upload('email\nsmall@example.com\n', '', small);
    expect(fits.status).toBe(202);
  });

  // 40,000 rows through the whole import path: well within the limit alone, slow on a busy machine.
  it('stores a large upload in 1 MiB chunks and imports it from them', { timeout: 120_000 }, async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => `chunk${i}@example.com,${'n'.repeat(20)}${i}`);
    const csv = `email,note\n${rows.join('\n')}\n`;
    expect(Buffer.byteLength(csv)).toBeGreaterThan(1024 * 1024);
    const res = await upload(csv, 'filename=big.csv');
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/v1/imports/${res.body.id}`);
    expect(res.body).toMatchObject({
      filename: 'big.csv',
      size_bytes: Buffer.byteLength(csv),
      status: 'queued',
    });
    expect(await count('import_chunks')).toBe(Math.ceil(Buffer.byteLength(csv) / (1024 * 1024)));
    await t.container.runner.drain();
    const done = (await call('GET', `/v1/imports/${res.body.id}`)).body;
    expect(done).toMatchObject({
      status: 'completed',
      rows_total: 40_000,
      created_count: 40_000,
      failed_count: 0,
    });
    expect(await count('import_chunks')).toBe(0);
  });

  it('pages through row errors by line and lists imports newest first', async () => {
    const lines = ['email'];
    for (let i = 0; i < 25; i++) lines.push(`broken-${i}`);
    const report = await importCsv(lines.join('\n'));
    expect(report.failed_count).toBe(25);
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(
        'GET',
        `/v1/imports/${report.id}/errors?limit=10${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((e: { line: number }) => e.line));
      cursor = page.body.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
    const bad = await call('GET', `/v1/imports/${report.id}/errors?cursor=garbage`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_CURSOR');
    const list = await call('GET', '/v1/imports?limit=2');
    expect(list.body.data[0].id).toBe(report.id);
    expect(list.body.next_cursor).toBeTruthy();
    const next = await call('GET', `/v1/imports?limit=2&cursor=${list.body.next_cursor}`);
    expect(next.body.data[0].id < list.body.data[1].id).toBe(true);
  });

  it('stores at most 10,000 row errors but counts them all', async () => {
    const lines = ['email'];
    for (let i = 0; i < 10_050; i++) lines.push(`x${i}`);
    lines.push('last-good@example.com');
    const report = await importCsv(lines.join('\n'));
    expect(report).toMatchObject({ rows_total: 10_051, created_count: 1, failed_count: 10_050 });
    const stored = await t.container.database.pool.query(
      'SELECT count(*)::int AS n, max(line)::int AS last FROM import_errors WHERE import_id = $1',
      [report.id],
    );
    expect(stored.rows[0]).toEqual({ n: 10_000, last: 10_001 });
  });
});

describe('CSV import: job', () => {
  it('resumes after a crash without counting committed rows twice', async () => {
    const lines = ['email,score'];
    for (let i = 0; i < 9; i++) lines.push(i === 4 ? 'resume-bad,1' : `resume${i}@example.com,${i}`);
    const res = await upload(lines.join('\n'));
    expect(res.status).toBe(202);
    const job = await t.container.database.pool.query(`SELECT payload FROM jobs WHERE idempotency_key = $1`, [
      res.body.id,
    ]);
    // A worker with tiny batches that dies after its first batch committed.
    const crashing = createImportService({
      db: t.container.db,
      database: t.container.database,
      clock: t.clock,
      jobs: t.container.jobs,
      attributes: t.container.attributes,
      hygienePolicy: (workspaceId) => t.container.contacts.hygienePolicy(workspaceId),
      maxBytes: 1024 * 1024,
      batchSize: 2,
    });
    let checks = 0;
    const dying = {
      get aborted() {
        checks++;
        return checks > 1;
      },
    } as AbortSignal;
    await expect(crashing.run(job.rows[0].payload, { attempt: 1, signal: dying })).rejects.toThrow(
      'interrupted',
    );
    const partial = (await call('GET', `/v1/imports/${res.body.id}`)).body;
    expect(partial).toMatchObject({ status: 'running', rows_total: 2, created_count: 2 });

    await t.container.runner.drain();
    const done = (await call('GET', `/v1/imports/${res.body.id}`)).body;
    expect(done).toMatchObject({
      status: 'completed',
      rows_total: 9,
      created_count: 8,
      updated_count: 0,
      failed_count: 1,
    });
    expect(done.errors).toEqual([{ line: 6, reason: 'invalid email: email has no @' }]);
    // Running the finished job again changes nothing.
    await crashing.run(job.rows[0].payload, { attempt: 2 });
    expect((await call('GET', `/v1/imports/${res.body.id}`)).body).toMatchObject({
      rows_total: 9,
      created_count: 8,
    });
  });
});

describe('herald import (CLI)', () => {
  function io() {
    let out = '';
    let err = '';
    return {
      io: {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s), isTTY: true, columns: 200 },
      },
      out: () => out,
      err: () => err,
    };
  }

  it('imports a file in-process with progress, a report and the row errors', async () => {
    const listId = await createList('CLI', 'double');
    const file = join(dir, 'cli.csv');
    writeFileSync(file, 'E-Mail,Plan,Notes\ncli1@example.com,pro,x\nnope,free,y\ncli2@example.com,free,z\n');
    const errorsFile = join(dir, 'errors.csv');
    const capture = io();
    const code = await runImportCommand(
      { imports: t.container.imports, workspaceId: t.workspaceId },
      file,
      { list: listId, listStatus: 'confirmed', map: ['E-Mail=email', 'Notes=-'], errors: errorsFile },
      capture.io,
    );
    expect(code).toBe(0);
    expect(capture.out()).toContain('Imported cli.csv: 3 rows, 2 created, 0 updated, 0 skipped, 1 failed');
    expect(capture.out()).toContain('line 3: invalid email: email has no @');
    expect(capture.err()).toContain('100%');
    expect(capture.err()).toContain('rows/s');
    expect(readFileSync(errorsFile, 'utf8')).toBe('line,reason\n3,invalid email: email has no @\n');
    const cli1 = await contact('cli1@example.com');
    expect(cli1.attributes).toEqual({ Plan: 'pro' });
    expect(cli1.lists[0]).toMatchObject({ list_id: listId, status: 'confirmed' });
    const imports = (await call('GET', '/v1/imports?limit=1')).body.data;
    expect(imports[0]).toMatchObject({
      source: 'cli',
      filename: 'cli.csv',
      status: 'completed',
      size_bytes: 77,
    });
  });

  it('prints JSON and refuses a bad mapping before writing anything', async () => {
    const file = join(dir, 'json.csv');
    writeFileSync(file, 'email\ncli-json@example.com\n');
    const capture = io();
    expect(
      await runImportCommand(
        { imports: t.container.imports, workspaceId: t.workspaceId },
        file,
        { json: true, mode: 'add' },
        capture.io,
      ),
    ).toBe(0);
    expect(JSON.parse(capture.out())).toMatchObject({
      status: 'completed',
      mode: 'add',
      created_count: 1,
      errors: [],
    });
    const before = await snapshot();
    await expect(
      runImportCommand(
        { imports: t.container.imports, workspaceId: t.workspaceId },
        file,
        { map: ['Missing=email'] },
        io().io,
      ),
    ).rejects.toMatchObject({ code: 'INVALID_MAPPING' });
    expect(await snapshot()).toEqual(before);
  });
});
