import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The bounce mailbox read over IMAP, against a real Dovecot: a DSN and an ARF
 * report are applied and moved to Herald/Processed, a newsletter reply to
 * Herald/Unparsed, nothing is deleted; reading the same reports again applies
 * nothing twice; bad credentials change nothing.
 */

const missing = dovecotMissing();
const FIXTURES = join(import.meta.dirname, '../fixtures/bounces');
const BOUNCED = 'ann.imap@example.org';
const COMPLAINER = 'liz.imap@example.net';

let t: TestApp;
let dovecot: Dovecot;

/** The fixtures, adapted to this test's contacts (their VERP tokens are not Herald's: matched by address). */
const fixture = (name: string, from: string, to: string) =>
  readFileSync(join(FIXTURES, name), 'utf8').replaceAll(from, to);

async function call(method: 'GET' | 'PATCH' | 'POST', url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
}

async function query<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await t.container.database.pool.query(text, values)).rows as T[];
}

/** A test-side IMAP session as the mailbox's owner. */
async function mailbox<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({
    host: dovecot.host,
    port: dovecot.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: dovecot.user, pass: dovecot.password },
    logger: false,
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.logout();
  }
}

async function counts(): Promise<Record<string, number>> {
  return mailbox(async (client) => {
    const out: Record<string, number> = {};
    for (const path of [['INBOX'], ['Herald', 'Processed'], ['Herald', 'Unparsed']]) {
      const status = await client.status(path, { messages: true }).catch(() => ({ messages: -1 }));
      out[path.join('/')] = status.messages ?? -1;
    }
    return out;
  });
}

async function poll(key?: string) {
  const res = await call('POST', '/v1/deliverability/imap/poll', undefined, key);
  expect(res.status).toBe(200);
  return res.body;
}

describe.skipIf(missing !== undefined)('bounce mailbox over IMAP', () => {
  beforeAll(async () => {
    dovecot = await startDovecot();
    t = await createTestApp();
    for (const email of [BOUNCED, COMPLAINER])
      expect((await call('POST', '/v1/contacts', { email })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await dovecot?.close();
  });

  it('keeps the password to itself and refuses to enable a mailbox without credentials', async () => {
    const refused = await call('PATCH', '/v1/deliverability/settings', {
      imap_enabled: true,
      imap_host: '127.0.0.1',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain('imap_user, imap_password');

    const same = await call('PATCH', '/v1/deliverability/settings', {
      imap_mailbox: 'INBOX',
      imap_processed_folder: 'inbox',
    });
    expect(same.status).toBe(400);
    const plain = await call('PATCH', '/v1/deliverability/settings', {
      imap_host: 'imap.example.com',
      imap_tls: 'none',
    });
    expect(plain.status).toBe(400);
    expect(plain.body.detail).toContain('loopback');

    const saved = await call('PATCH', '/v1/deliverability/settings', {
      imap_enabled: true,
      imap_host: dovecot.host,
      imap_port: dovecot.port,
      imap_tls: 'none',
      imap_user: dovecot.user,
      imap_password: dovecot.password,
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      imap_enabled: true,
      imap_tls: 'none',
      imap_password_set: true,
      imap_mailbox: 'INBOX',
      imap_processed_folder: 'Herald/Processed',
      imap_unparsed_folder: 'Herald/Unparsed',
    });
    const read = await call('GET', '/v1/deliverability/settings');
    expect(JSON.stringify(read.body)).not.toContain(dovecot.password);
    const [row] = await query<{ imap_password: string }>(
      'SELECT imap_password FROM deliverability_settings WHERE workspace_id = $1',
      [t.workspaceId],
    );
    expect(row?.imap_password).not.toContain(dovecot.password);
  });

  it('applies the reports, moves them to Herald/Processed and the rest to Herald/Unparsed', async () => {
    await mailbox(async (client) => {
      await client.append('INBOX', fixture('postfix-user-unknown.eml', 'nobody@example.org', BOUNCED), []);
      await client.append('INBOX', fixture('arf-abuse.eml', 'liz@hotmail.com', COMPLAINER), ['\\Seen']);
      await client.append('INBOX', readFileSync(join(FIXTURES, 'not-a-bounce.eml')), []);
    });

    const first = await poll();
    expect(first).toMatchObject({
      mailboxes: 1,
      failed: 0,
      messages: 3,
      processed: 2,
      unparsed: 1,
      applied: 2,
      duplicates: 0,
    });
    const status = await query<{ email: string; status: string; reason: string | null }>(
      `SELECT c.email, c.status, s.reason FROM contacts c
       LEFT JOIN suppressions s ON s.workspace_id = c.workspace_id AND s.email_key = c.email_key
       WHERE c.workspace_id = $1 ORDER BY c.email`,
      [t.workspaceId],
    );
    expect(status).toEqual([
      { email: BOUNCED, status: 'bounced', reason: 'hard_bounce' },
      { email: COMPLAINER, status: 'complained', reason: 'complaint' },
    ]);
    const events = await query<{ source: string; type: string }>(
      'SELECT source, type FROM bounce_events WHERE workspace_id = $1 ORDER BY type',
      [t.workspaceId],
    );
    expect(events).toEqual([
      { source: 'imap', type: 'bounce' },
      { source: 'imap', type: 'complaint' },
    ]);
    expect(await counts()).toEqual({ INBOX: 0, 'Herald/Processed': 2, 'Herald/Unparsed': 1 });

    // Nothing new: nothing read.
    expect(await poll()).toMatchObject({ mailboxes: 1, messages: 0, processed: 0, unparsed: 0 });
  });

  it('applies nothing twice when the same reports are read again', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    // As after a crash between applying and moving: the reports are back in the inbox.
    await mailbox(async (client) => {
      const lock = await client.getMailboxLock(['Herald', 'Processed']);
      try {
        await client.messageMove('1:*', 'INBOX');
      } finally {
        lock.release();
      }
    });
    expect(await poll()).toMatchObject({ messages: 2, processed: 2, applied: 0, duplicates: 2 });
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
    expect(await counts()).toEqual({ INBOX: 0, 'Herald/Processed': 2, 'Herald/Unparsed': 1 });
  });

  it('reports bad credentials, leaves the mailbox alone and changes nothing', async () => {
    const other = await t.createWorkspace('Wrong password');
    const patched = await call(
      'PATCH',
      '/v1/deliverability/settings',
      {
        imap_enabled: true,
        imap_host: dovecot.host,
        imap_port: dovecot.port,
        imap_tls: 'none',
        imap_user: dovecot.user,
        imap_password: 'not-the-password',
      },
      other.adminKey,
    );
    expect(patched.status).toBe(200);
    await mailbox((client) =>
      client.append('INBOX', fixture('postfix-user-unknown.eml', 'nobody@example.org', BOUNCED), []),
    );
    const before = await databaseSnapshot(t.container.database.pool);
    const result = await poll(other.adminKey);
    expect(result).toMatchObject({ mailboxes: 1, failed: 1, messages: 0 });
    expect(result.errors).toEqual([
      { workspace_id: other.workspaceId, error: expect.stringContaining('authentication failed') },
    ]);
    expect(JSON.stringify(result)).not.toContain(dovecot.user);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
    expect(await counts()).toEqual({ INBOX: 1, 'Herald/Processed': 2, 'Herald/Unparsed': 1 });
  });

  it('reports a server that does not answer as a connection failure', async () => {
    const other = await t.createWorkspace('Nobody home');
    await call(
      'PATCH',
      '/v1/deliverability/settings',
      {
        imap_enabled: true,
        imap_host: '127.0.0.1',
        imap_port: 1,
        imap_tls: 'none',
        imap_user: 'bounces',
        imap_password: 'secret',
      },
      other.adminKey,
    );
    const result = await poll(other.adminKey);
    expect(result).toMatchObject({ mailboxes: 1, failed: 1 });
    expect(result.errors[0].error).toContain('ECONNREFUSED');
  });

  it('runs as the periodic deliverability.imap_poll job for every enabled mailbox', async () => {
    // The message left in the inbox by the bad-credentials case, read by the default workspace's job.
    await t.container.jobs.enqueue('deliverability.imap_poll', {}, { idempotencyKey: 'test' });
    t.container.runner?.start();
    const deadline = Date.now() + 10_000;
    while ((await counts()).INBOX !== 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await t.container.runner?.stop();
    expect(await counts()).toEqual({ INBOX: 0, 'Herald/Processed': 3, 'Herald/Unparsed': 1 });
  });
});
