import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretKeys } from '../../src/lib/secret-keys.js';
import { createToken } from '../../src/lib/signed-tokens.js';
import { exportCommand, runExport, toExportOptions } from '../../src/main/commands/export.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { withFirstCharacterChanged } from '../helpers/tamper.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';

/**
 * CCPA "do not sell or share": the do_not_sell flag through the API (with a
 * consent record), the preference center's box, the Global Privacy Control
 * header on the hosted subscribe form and the preference center (consent
 * source gpc), and exports for a third party leaving such contacts out.
 */

let t: TestApp;
const keyring = parseSecretKeys(TEST_SECRET_KEY);
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
let listId: string;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}
async function ok(method: Method, url: string, payload?: object) {
  const res = await call(method, url, payload);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}
async function contactByEmail(email: string) {
  return (await ok('GET', `/v1/contacts?email=${encodeURIComponent(email)}`)).data[0];
}
async function doNotSellRecords(contactId: string) {
  const { rows } = await t.container.database.pool.query(
    "SELECT source, detail FROM consent_records WHERE workspace_id = $1 AND contact_id = $2 AND action = 'do_not_sell' ORDER BY id",
    [t.workspaceId, contactId],
  );
  return rows as { source: string; detail: { do_not_sell: boolean } }[];
}
async function exportEmails(query: string): Promise<string[]> {
  const res = await t.app.inject({ method: 'GET', url: `/v1/exports/contacts?${query}`, headers: t.auth() });
  expect(res.statusCode, res.body).toBe(200);
  return res.body
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).email as string)
    .sort();
}
function preferencesPath(contactId: string) {
  return `/p/${createToken(keyring, 'preferences', { workspaceId: t.workspaceId, contactId })}`;
}

beforeAll(async () => {
  t = await createTestApp();
  listId = (await ok('POST', '/v1/lists', { name: 'News', opt_in: 'single', visibility: 'public' })).id;
});
afterAll(async () => {
  await t?.close();
});

describe('do_not_sell through the API', () => {
  it('is false by default, is set on create and update, and each change is a consent record', async () => {
    const plain = await ok('POST', '/v1/contacts', { email: 'plain@example.com' });
    expect(plain.do_not_sell).toBe(false);
    const optedOut = await ok('POST', '/v1/contacts', { email: 'optout@example.com', do_not_sell: true });
    expect(optedOut.do_not_sell).toBe(true);
    expect(await doNotSellRecords(optedOut.id)).toEqual([{ source: 'api', detail: { do_not_sell: true } }]);

    expect((await ok('PATCH', `/v1/contacts/${plain.id}`, { do_not_sell: true })).do_not_sell).toBe(true);
    expect((await ok('GET', `/v1/contacts/${plain.id}`)).do_not_sell).toBe(true);
    // Setting it again changes nothing and records nothing more.
    await ok('PATCH', `/v1/contacts/${plain.id}`, { do_not_sell: true });
    expect(await ok('PATCH', `/v1/contacts/${plain.id}`, { do_not_sell: false })).toMatchObject({
      do_not_sell: false,
    });
    expect((await doNotSellRecords(plain.id)).map((r) => r.detail.do_not_sell)).toEqual([true, false]);
  });

  it('refuses a value that is not a boolean and changes nothing', async () => {
    const contact = await contactByEmail('plain@example.com');
    const before = await databaseSnapshot(t.container.database.pool);
    const res = await call('PATCH', `/v1/contacts/${contact.id}`, { do_not_sell: 'yes' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('do_not_sell');
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('leaves do-not-sell contacts out of an export for a third party, and only there', async () => {
    expect(await exportEmails('format=ndjson')).toEqual(['optout@example.com', 'plain@example.com']);
    expect(await exportEmails('format=ndjson&purpose=internal')).toEqual([
      'optout@example.com',
      'plain@example.com',
    ]);
    expect(await exportEmails('format=ndjson&purpose=third_party')).toEqual(['plain@example.com']);
    const bad = await t.app.inject({
      method: 'GET',
      url: '/v1/exports/contacts?purpose=partners',
      headers: t.auth(),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toContain('purpose');
  });

  it('leaves them out of `herald export --purpose third_party` too, and only there', async () => {
    const cli = async (purpose?: 'internal' | 'third_party') => {
      const out = new PassThrough();
      const parts: Buffer[] = [];
      out.on('data', (chunk: Buffer) => parts.push(chunk));
      await runExport(
        t.container,
        toExportOptions({ format: 'ndjson', workspace: t.workspaceId, ...(purpose ? { purpose } : {}) }),
        out,
      );
      return Buffer.concat(parts)
        .toString()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).email as string)
        .sort();
    };
    expect(await cli()).toEqual(['optout@example.com', 'plain@example.com']);
    expect(await cli('internal')).toEqual(['optout@example.com', 'plain@example.com']);
    expect(await cli('third_party')).toEqual(['plain@example.com']);
    expect(exportCommand().helpInformation()).toContain('--purpose');
  });

  it('records it through the upsert (PUT /v1/contacts) too, new and existing contacts alike', async () => {
    const created = await ok('PUT', '/v1/contacts', { email: 'upsert@example.com', do_not_sell: true });
    expect(created.do_not_sell).toBe(true);
    expect(
      (await ok('PUT', '/v1/contacts', { email: 'upsert@example.com', do_not_sell: false })).do_not_sell,
    ).toBe(false);
    // Not given: left as it is, nothing recorded.
    await ok('PUT', '/v1/contacts', { email: 'upsert@example.com', attributes: { plan: 'pro' } });
    expect((await doNotSellRecords(created.id)).map((r) => `${r.source}:${r.detail.do_not_sell}`)).toEqual([
      'api:true',
      'api:false',
    ]);
  });
});

describe('Global Privacy Control and the preference center', () => {
  it('sets do_not_sell from the subscribe form with Sec-GPC: 1 (source gpc), and not without it', async () => {
    for (const [email, headers] of [
      ['gpc@example.com', { ...FORM, 'sec-gpc': '1' }],
      ['nogpc@example.com', FORM],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/f/${listId}`,
        headers,
        payload: `email=${encodeURIComponent(email)}&website=`,
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    const gpc = await contactByEmail('gpc@example.com');
    expect(gpc.do_not_sell).toBe(true);
    expect(await doNotSellRecords(gpc.id)).toEqual([{ source: 'gpc', detail: { do_not_sell: true } }]);
    const plain = await contactByEmail('nogpc@example.com');
    expect(plain.do_not_sell).toBe(false);
    expect(await doNotSellRecords(plain.id)).toEqual([]);
  });

  it('shows a do-not-sell box on the preference center that the contact can tick, and honours GPC there', async () => {
    const contact = await contactByEmail('nogpc@example.com');
    const path = preferencesPath(contact.id);
    const page = await t.app.inject({ method: 'GET', url: path });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/<input type="checkbox" name="do_not_sell" value="1">/);
    const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)?.[1] as string;
    const post = (fields: [string, string][], headers: Record<string, string> = {}) =>
      t.app.inject({
        method: 'POST',
        url: path,
        headers: { ...FORM, ...headers },
        payload: new URLSearchParams([
          ['nonce', nonce],
          ['tracking', '1'],
          ['action', 'save'],
          ...fields,
        ]).toString(),
      });

    expect(
      (
        await post([
          ['list', listId],
          ['do_not_sell', '1'],
        ])
      ).statusCode,
    ).toBe(200);
    expect((await contactByEmail('nogpc@example.com')).do_not_sell).toBe(true);
    expect((await post([['list', listId]])).statusCode).toBe(200);
    expect((await contactByEmail('nogpc@example.com')).do_not_sell).toBe(false);
    // With GPC, an unticked box does not clear it.
    expect((await post([['list', listId]], { 'sec-gpc': '1' })).statusCode).toBe(200);
    expect((await contactByEmail('nogpc@example.com')).do_not_sell).toBe(true);
    expect((await doNotSellRecords(contact.id)).map((r) => `${r.source}:${r.detail.do_not_sell}`)).toEqual([
      'form:true',
      'form:false',
      'gpc:true',
    ]);
    const after = await t.app.inject({ method: 'GET', url: path });
    expect(after.body).toMatch(/<input type="checkbox" name="do_not_sell" value="1" checked>/);
  });
});

describe('Global Privacy Control on the double opt-in confirmation', () => {
  let doubleListId: string;
  function confirmPath(contactId: string, list = doubleListId) {
    const token = createToken(
      keyring,
      'confirm',
      { workspaceId: t.workspaceId, contactId, listId: list },
      { expiresAt: new Date(t.clock.now().getTime() + 86_400_000) },
    );
    return `/confirm/${token}`;
  }
  const confirm = (path: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: path, headers: { ...FORM, ...headers }, payload: '' });
  async function memberStatus(contactId: string) {
    const contact = await ok('GET', `/v1/contacts/${contactId}`);
    return contact.lists.find((m: { list_id: string }) => m.list_id === doubleListId)?.status;
  }

  beforeAll(async () => {
    doubleListId = (
      await ok('POST', '/v1/lists', {
        name: 'Double',
        opt_in: 'double',
        confirmation_from_email: 'news@shop.example',
      })
    ).id;
    await ok('POST', `/v1/lists/${doubleListId}/members`, {
      emails: ['confirm-gpc@example.com', 'confirm-plain@example.com', 'confirm-zero@example.com'],
    });
  });

  it('sets do_not_sell when the confirming POST carries Sec-GPC: 1 (source gpc), also on a repeat', async () => {
    const contact = await contactByEmail('confirm-gpc@example.com');
    expect(contact.do_not_sell).toBe(false);
    const res = await confirm(confirmPath(contact.id), { 'sec-gpc': '1', 'user-agent': 'GpcBrowser/1' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await memberStatus(contact.id)).toBe('confirmed');
    expect((await contactByEmail('confirm-gpc@example.com')).do_not_sell).toBe(true);
    expect(await doNotSellRecords(contact.id)).toEqual([{ source: 'gpc', detail: { do_not_sell: true } }]);
    // Confirming again with the signal records nothing more: the flag is already set.
    expect((await confirm(confirmPath(contact.id), { 'sec-gpc': '1' })).statusCode).toBe(200);
    expect(await doNotSellRecords(contact.id)).toHaveLength(1);
  });

  it('leaves do_not_sell alone without the header or with Sec-GPC: 0', async () => {
    for (const [email, headers] of [
      ['confirm-plain@example.com', {}],
      ['confirm-zero@example.com', { 'sec-gpc': '0' }],
    ] as const) {
      const contact = await contactByEmail(email);
      expect((await confirm(confirmPath(contact.id), headers)).statusCode).toBe(200);
      expect(await memberStatus(contact.id)).toBe('confirmed');
      expect((await contactByEmail(email)).do_not_sell).toBe(false);
      expect(await doNotSellRecords(contact.id)).toEqual([]);
    }
  });

  it('changes nothing for a bad or foreign link, whatever the header', async () => {
    const contact = await contactByEmail('plain@example.com');
    const before = await databaseSnapshot(t.container.database.pool);
    // A tampered token, and a valid token for a list the contact is not a member of.
    const tampered = `/confirm/${withFirstCharacterChanged(confirmPath(contact.id).slice('/confirm/'.length))}`;
    expect((await confirm(tampered, { 'sec-gpc': '1' })).statusCode).toBe(404);
    expect((await confirm(confirmPath(contact.id), { 'sec-gpc': '1' })).statusCode).toBe(404);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });
});
