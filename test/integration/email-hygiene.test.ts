import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDnsServers } from '../../src/lib/dns-servers.js';
import { createMxCheck } from '../../src/modules/contacts/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * List hygiene where contacts are written: the API (warnings, refusals with
 * the path), CSV import (warnings and errors by line while good rows
 * import), list member adds, the hosted form (a likely typo asked about
 * once), and the workspace policy that changes what is refused.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function findContact(email: string) {
  const res = await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`);
  return res.body.data[0] as { id: string; email: string } | undefined;
}

async function setPolicy(hygiene: Record<string, string>) {
  const res = await call('PATCH', '/v1/workspace', { hygiene });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe('list hygiene on the API', () => {
  it('has the defaults: warn about role addresses and typos, refuse disposable domains', async () => {
    const workspace = await call('GET', '/v1/workspace');
    expect(workspace.body.hygiene).toEqual({
      role_accounts: 'warn',
      typos: 'warn',
      disposable: 'reject',
      mx_check: false,
    });
  });

  it('stores role addresses and likely typos with warnings', async () => {
    const role = await call('POST', '/v1/contacts', { email: 'info@acme-hygiene.example' });
    expect(role.status).toBe(201);
    expect(role.body.warnings).toEqual([
      {
        path: '/email',
        code: 'role_account',
        message: 'info@ is a role address (a team or function, often shared or unread), not a person',
      },
    ]);
    const typo = await call('PUT', '/v1/contacts', { email: 'Ada@gmial.com' });
    expect(typo.status).toBe(201);
    expect(typo.body).toMatchObject({
      email: 'Ada@gmial.com',
      warnings: [{ path: '/email', code: 'possible_typo', suggestion: 'Ada@gmail.com' }],
    });
    expect(typo.body.warnings[0].message).toContain('did you mean Ada@gmail.com?');
    const fixed = await call('PATCH', `/v1/contacts/${typo.body.id}`, { email: 'Ada@gmail.com' });
    expect(fixed.status).toBe(200);
    expect(fixed.body.warnings).toBeUndefined();
    const plain = await call('POST', '/v1/contacts', { email: 'grace@acme-hygiene.example' });
    expect(plain.status).toBe(201);
    expect(plain.body).not.toHaveProperty('warnings');
  });

  it('refuses a disposable domain with 400 and the path, on create, upsert and patch', async () => {
    const created = await call('POST', '/v1/contacts', { email: 'temp@mailinator.com' });
    expect(created.status).toBe(400);
    expect(created.body.code).toBe('INVALID_EMAIL');
    expect(created.body.detail).toContain('mailinator.com is a disposable');
    expect(created.body.errors).toEqual([
      expect.objectContaining({ path: '/email', code: 'disposable_domain' }),
    ]);
    expect((await call('PUT', '/v1/contacts', { email: 'temp@sub.yopmail.com' })).status).toBe(400);
    const someone = await call('POST', '/v1/contacts', { email: 'lin@acme-hygiene.example' });
    const patched = await call('PATCH', `/v1/contacts/${someone.body.id}`, {
      email: 'lin@guerrillamail.com',
    });
    expect(patched.status).toBe(400);
    expect(await findContact('temp@mailinator.com')).toBeUndefined();
    expect(await findContact('lin@acme-hygiene.example')).toBeDefined();
  });

  it('applies to new addresses only: a contact stored under a laxer policy stays usable', async () => {
    await setPolicy({ disposable: 'warn' });
    const stored = await call('POST', '/v1/contacts', { email: 'kept@throwawaymail.com' });
    expect(stored.status).toBe(201);
    await setPolicy({ disposable: 'reject' });
    const upserted = await call('PUT', '/v1/contacts', { email: 'kept@throwawaymail.com', tags: ['x'] });
    expect(upserted.status).toBe(200);
    expect(upserted.body).not.toHaveProperty('warnings');
    const patched = await call('PATCH', `/v1/contacts/${stored.body.id}`, {
      email: 'KEPT@throwawaymail.com',
    });
    expect(patched.status).toBe(200);
    const role = await call('POST', '/v1/contacts', { email: 'help@acme-hygiene.example' });
    const again = await call('PATCH', `/v1/contacts/${role.body.id}`, { tags: ['y'] });
    expect(again.body).not.toHaveProperty('warnings');
  });

  it('follows the workspace policy: disposable can warn, findings can be off', async () => {
    await setPolicy({ disposable: 'warn', role_accounts: 'off' });
    const warned = await call('POST', '/v1/contacts', { email: 'admin@mailinator.com' });
    expect(warned.status).toBe(201);
    expect(warned.body.warnings).toEqual([expect.objectContaining({ code: 'disposable_domain' })]);
    await setPolicy({ disposable: 'off', typos: 'off' });
    const quiet = await call('POST', '/v1/contacts', { email: 'x@yopmail.com' });
    expect(quiet.status).toBe(201);
    expect(quiet.body).not.toHaveProperty('warnings');
    expect((await call('POST', '/v1/contacts', { email: 'y@hotmial.com' })).body).not.toHaveProperty(
      'warnings',
    );
    const bad = await call('PATCH', '/v1/workspace', { hygiene: { disposable: 'maybe' } });
    expect(bad.status).toBe(400);
    await setPolicy({ disposable: 'reject', typos: 'warn', role_accounts: 'warn' });
  });

  it('list member adds do not create contacts at disposable domains, and report them', async () => {
    const list = await call('POST', '/v1/lists', { name: 'Hygiene members', opt_in: 'single' });
    const added = await call('POST', `/v1/lists/${list.body.id}/members`, {
      emails: ['member@acme-hygiene.example', 'member@trashmail.com'],
    });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    expect(added.body.invalid).toEqual([
      { email: 'member@trashmail.com', reason: expect.stringContaining('trashmail.com is a disposable') },
    ]);
    expect(await findContact('member@trashmail.com')).toBeUndefined();
    expect(await findContact('member@acme-hygiene.example')).toBeDefined();
  });
});

describe('list hygiene in CSV import', () => {
  it('imports good, role and typo rows, reports warnings and refused rows by line', async () => {
    const csv = [
      'email,first_name',
      'good@acme-import.example,Good',
      'support@acme-import.example,Role',
      'typo@gmial.com,Typo',
      'gone@mailinator.com,Disposable',
      'not-an-address,Syntax',
      'sales@hotmial.con,Both',
    ].join('\n');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { ...t.auth(), 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(res.statusCode, res.body).toBe(202);
    await t.container.runner.drain();
    const done = (await call('GET', `/v1/imports/${res.json().id}`)).body;
    expect(done).toMatchObject({ status: 'completed', created_count: 4, failed_count: 2, warning_count: 4 });
    expect(done.errors).toEqual([
      { line: 5, reason: expect.stringContaining('mailinator.com is a disposable') },
      { line: 6, reason: 'invalid email: email has no @' },
    ]);
    expect(done.warnings).toEqual([
      expect.objectContaining({ line: 3, code: 'role_account', suggestion: null }),
      expect.objectContaining({ line: 4, code: 'possible_typo', suggestion: 'typo@gmail.com' }),
      expect.objectContaining({ line: 7, code: 'possible_typo', suggestion: 'sales@hotmail.com' }),
      expect.objectContaining({ line: 7, code: 'role_account' }),
    ]);
    for (const email of [
      'good@acme-import.example',
      'support@acme-import.example',
      'typo@gmial.com',
      'sales@hotmial.con',
    ])
      expect(await findContact(email), email).toBeDefined();
    expect(await findContact('gone@mailinator.com')).toBeUndefined();
  });

  it('unsubscribes and blocks any address, disposable or not', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/imports?mode=block',
      headers: { ...t.auth(), 'content-type': 'text/csv' },
      payload: 'email\nspam@mailinator.com\n',
    });
    expect(res.statusCode, res.body).toBe(202);
    await t.container.runner.drain();
    const done = (await call('GET', `/v1/imports/${res.json().id}`)).body;
    expect(done).toMatchObject({ status: 'completed', failed_count: 0, warning_count: 0 });
  });
});

describe('list hygiene on the hosted form', () => {
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  let listId: string;
  beforeAll(async () => {
    listId = (
      await call('POST', '/v1/lists', { name: 'Hygiene form', opt_in: 'single', visibility: 'public' })
    ).body.id;
  });
  const submit = (payload: string) =>
    t.app.inject({ method: 'POST', url: `/f/${listId}`, headers: FORM, payload });

  it('asks about a likely typo with the suggestion, and accepts the address when sent again', async () => {
    const asked = await submit('email=Kim%40gmial.com&first_name=Kim');
    expect(asked.statusCode).toBe(400);
    expect(asked.body).toContain('Did you mean Kim@gmail.com?');
    expect(asked.body).toContain('value="Kim@gmail.com"');
    expect(asked.body).toContain('name="confirmed_email" value="Kim@gmial.com"');
    expect(await findContact('Kim@gmial.com')).toBeUndefined();

    const corrected = await submit('email=Kim%40gmail.com&confirmed_email=Kim%40gmial.com');
    expect(corrected.statusCode).toBe(200);
    expect(await findContact('Kim@gmail.com')).toBeDefined();

    const insisted = await submit('email=Lou%40gmial.com&confirmed_email=Lou%40gmial.com');
    expect(insisted.statusCode).toBe(200);
    expect(await findContact('Lou@gmial.com')).toBeDefined();
  });

  it('refuses a disposable address with a clear message', async () => {
    const res = await submit('email=temp%40yopmail.com');
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('temporary (disposable) addresses are not accepted');
    expect(await findContact('temp@yopmail.com')).toBeUndefined();
  });

  it('accepts role addresses and ordinary domains without a question', async () => {
    expect((await submit('email=info%40acme-form.example')).statusCode).toBe(200);
    expect((await submit('email=ada%40gmx.com')).statusCode).toBe(200);
  });
});

describe('MX check through HERALD_DNS_SERVERS', () => {
  let dns: TestDnsServer;
  let m: TestApp;
  beforeAll(async () => {
    dns = await startDnsServer({
      'mail-ok.example': { MX: [{ priority: 10, exchange: 'mx1.mail-ok.example' }] },
      'null-mx.example': { MX: [{ priority: 0, exchange: '.' }] },
      'a-only.example': { A: ['192.0.2.1'] },
      'mx1.mail-ok.example': { A: ['192.0.2.2'] },
      'flaky.example': { SERVFAIL: true },
    });
    m = await createTestApp({ HERALD_DNS_SERVERS: dns.address });
  });
  afterAll(async () => {
    await m?.close();
    await dns?.close();
  });
  const post = async (email: string) => {
    const res = await m.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: m.auth(),
      payload: { email },
    });
    return { status: res.statusCode, body: res.json() };
  };

  it('classifies domains: MX, implicit MX (A only), null MX, no such domain, resolver failure', async () => {
    const check = createMxCheck({ servers: [dns.address], timeoutMs: 500 });
    expect(await check('mail-ok.example')).toBe('accepts_mail');
    expect(await check('a-only.example')).toBe('accepts_mail');
    expect(await check('null-mx.example')).toBe('no_mail');
    expect(await check('nowhere.example')).toBe('no_mail');
    expect(await check('flaky.example')).toBe('unknown');
    const before = dns.queries.length;
    expect(await check('MAIL-OK.example')).toBe('accepts_mail');
    expect(dns.queries.length).toBe(before);
    expect(() => parseDnsServers('dns.example:53')).toThrow(/not an IP address with an optional port/);
    expect(parseDnsServers(' 127.0.0.1:5353, [::1]:53 ')).toEqual(['127.0.0.1:5353', '[::1]:53']);
  });

  it('is off by default; when on, refuses domains without mail and keeps the rest', async () => {
    expect((await post('off@unknown-domain.example')).status).toBe(201);
    expect(dns.queries.filter((q) => q.startsWith('unknown-domain.example '))).toEqual([]);
    const on = await m.app.inject({
      method: 'PATCH',
      url: '/v1/workspace',
      headers: m.auth(),
      payload: { hygiene: { mx_check: true } },
    });
    expect(on.json().hygiene.mx_check).toBe(true);
    const refused = await post('on@nowhere.example');
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      expect.objectContaining({
        path: '/email',
        code: 'no_mx',
        message: expect.stringContaining('nowhere.example'),
      }),
    ]);
    expect((await post('on@null-mx.example')).status).toBe(400);
    expect((await post('on@mail-ok.example')).status).toBe(201);
    expect((await post('on@a-only.example')).status).toBe(201);
    // A resolver failure is not a reason to refuse someone.
    expect((await post('on@flaky.example')).status).toBe(201);

    const res = await m.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { ...m.auth(), 'content-type': 'text/csv' },
      payload: 'email\nrow@mail-ok.example\nrow@null-mx.example\nrow2@mail-ok.example\n',
    });
    expect(res.statusCode, res.body).toBe(202);
    await m.container.runner.drain();
    const done = await m.app.inject({
      method: 'GET',
      url: `/v1/imports/${res.json().id}`,
      headers: m.auth(),
    });
    expect(done.json()).toMatchObject({
      created_count: 2,
      failed_count: 1,
      errors: [{ line: 3, reason: expect.stringContaining('null-mx.example takes no email') }],
    });
  });
});
