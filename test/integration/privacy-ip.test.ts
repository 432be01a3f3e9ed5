import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretKeys } from '../../src/lib/secret-keys.js';
import { createToken } from '../../src/lib/signed-tokens.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';

/**
 * The workspace's IP anonymization (tracking settings) applies to events'
 * context.ip and to consent records (hosted form, double opt-in confirmation,
 * GPC) as it does to opens and clicks: truncated by default, dropped, or kept
 * as sent.
 */

let t: TestApp;

async function call(method: 'POST' | 'PATCH', url: string, payload: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), payload });
  expect(res.statusCode, res.body).toBeLessThan(300);
}

async function storedContext(messageId: string) {
  const { rows } = await t.container.database.pool.query(
    'SELECT context FROM events WHERE workspace_id = $1 AND message_id = $2',
    [t.workspaceId, messageId],
  );
  return rows[0]?.context as Record<string, unknown>;
}

beforeAll(async () => {
  t = await createTestApp();
  await sql`SELECT herald_events_partition(${t.clock.now().toISOString().slice(0, 10)}::date)`.execute(
    t.container.db,
  );
});
afterAll(async () => {
  await t?.close();
});

describe("events' context.ip", () => {
  it('follows the workspace IP anonymization: truncate (default), drop, none', async () => {
    const track = (messageId: string, ip: string) =>
      call('POST', '/v1/track', {
        userId: 'u-1',
        event: 'Visited',
        messageId,
        context: { ip, locale: 'en-US' },
      });
    await track('m-truncate', '203.0.113.77');
    expect(await storedContext('m-truncate')).toEqual({ ip: '203.0.113.0', locale: 'en-US' });
    await track('m-truncate-v6', '2001:db8:85a3:8d3:1319:8a2e:370:7348');
    expect((await storedContext('m-truncate-v6')).ip).toBe('2001:db8:85a3::');

    await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'drop' });
    await track('m-drop', '203.0.113.77');
    expect(await storedContext('m-drop')).toEqual({ locale: 'en-US' });

    await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'none' });
    await track('m-none', '203.0.113.77');
    expect(await storedContext('m-none')).toEqual({ ip: '203.0.113.77', locale: 'en-US' });
  });
});

describe("consent records' IP", () => {
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  const keyring = parseSecretKeys(TEST_SECRET_KEY);
  let formList: string;
  let doubleList: string;
  let other: { workspaceId: string; adminKey: string };
  let otherList: string;

  async function createList(body: object, key?: string): Promise<string> {
    const res = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth(key), payload: body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }
  async function setMode(mode: 'none' | 'truncate' | 'drop', key?: string) {
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/v1/tracking/settings',
      headers: t.auth(key),
      payload: { ip_anonymization: mode },
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  async function submitForm(list: string, email: string, remoteAddress: string) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/f/${list}`,
      headers: { ...FORM, 'user-agent': 'FormBrowser/1' },
      payload: `email=${encodeURIComponent(email)}&website=`,
      remoteAddress,
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  /** ip and user agent of the workspace's consent records for the address, oldest first. */
  async function records(email: string, workspaceId = t.workspaceId) {
    const { rows } = await t.container.database.pool.query(
      `SELECT r.action, r.ip, r.user_agent FROM consent_records r JOIN contacts c ON c.id = r.contact_id
        WHERE r.workspace_id = $1 AND c.email = $2 ORDER BY r.id`,
      [workspaceId, email],
    );
    return rows as { action: string; ip: string | null; user_agent: string | null }[];
  }

  beforeAll(async () => {
    formList = await createList({ name: 'Form', opt_in: 'single', visibility: 'public' });
    doubleList = await createList({
      name: 'Double',
      opt_in: 'double',
      visibility: 'public',
      confirmation_from_email: 'news@shop.example',
    });
    other = await t.createWorkspace('Other');
    otherList = await createList({ name: 'Theirs', opt_in: 'single', visibility: 'public' }, other.adminKey);
  });

  it('truncates the IP of a form subscription (the default mode), IPv4 and IPv6', async () => {
    await setMode('truncate');
    await submitForm(formList, 'form-v4@example.com', '203.0.113.77');
    await submitForm(formList, 'form-v6@example.com', '2001:db8:85a3:8d3:1319:8a2e:370:7348');
    expect(await records('form-v4@example.com')).toEqual([
      { action: 'subscribe', ip: '203.0.113.0', user_agent: 'FormBrowser/1' },
      { action: 'confirm', ip: '203.0.113.0', user_agent: 'FormBrowser/1' },
    ]);
    expect((await records('form-v6@example.com')).map((r) => r.ip)).toEqual([
      '2001:db8:85a3::',
      '2001:db8:85a3::',
    ]);
  });

  it('drops the IP with drop and keeps it whole with none; the user agent stays either way', async () => {
    await setMode('drop');
    await submitForm(formList, 'form-drop@example.com', '203.0.113.77');
    expect(await records('form-drop@example.com')).toEqual([
      { action: 'subscribe', ip: null, user_agent: 'FormBrowser/1' },
      { action: 'confirm', ip: null, user_agent: 'FormBrowser/1' },
    ]);
    await setMode('none');
    await submitForm(formList, 'form-none@example.com', '203.0.113.77');
    expect((await records('form-none@example.com')).map((r) => r.ip)).toEqual([
      '203.0.113.77',
      '203.0.113.77',
    ]);
  });

  it('applies to the double opt-in confirmation and to the do-not-sell record of a GPC signal', async () => {
    await setMode('truncate');
    await submitForm(doubleList, 'confirm-ip@example.com', '198.51.100.9');
    const contactId = (
      await t.container.database.pool.query(
        'SELECT id FROM contacts WHERE workspace_id = $1 AND email = $2',
        [t.workspaceId, 'confirm-ip@example.com'],
      )
    ).rows[0].id as string;
    const token = createToken(
      keyring,
      'confirm',
      { workspaceId: t.workspaceId, contactId, listId: doubleList },
      { expiresAt: new Date(t.clock.now().getTime() + 86_400_000) },
    );
    const confirmed = await t.app.inject({
      method: 'POST',
      url: `/confirm/${token}`,
      headers: { ...FORM, 'user-agent': 'MailClient/2', 'sec-gpc': '1' },
      payload: '',
      remoteAddress: '198.51.100.200',
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(await records('confirm-ip@example.com')).toEqual([
      { action: 'subscribe', ip: '198.51.100.0', user_agent: 'FormBrowser/1' },
      { action: 'confirm', ip: '198.51.100.0', user_agent: 'MailClient/2' },
      { action: 'do_not_sell', ip: '198.51.100.0', user_agent: 'MailClient/2' },
    ]);
  });

  it("follows each workspace's own setting", async () => {
    await setMode('drop');
    await setMode('none', other.adminKey);
    await submitForm(otherList, 'theirs@example.com', '203.0.113.77');
    expect((await records('theirs@example.com', other.workspaceId)).map((r) => r.ip)).toEqual([
      '203.0.113.77',
      '203.0.113.77',
    ]);
    await setMode('truncate', other.adminKey);
    await submitForm(otherList, 'theirs-2@example.com', '203.0.113.77');
    expect((await records('theirs-2@example.com', other.workspaceId)).map((r) => r.ip)).toEqual([
      '203.0.113.0',
      '203.0.113.0',
    ]);
  });
});
