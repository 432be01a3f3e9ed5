import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The bounce mailbox read over IMAP, against a real Dovecot: a DSN and an ARF
 * report are applied and moved to Herald/Processed, a newsletter reply to
 * Herald/Unparsed, nothing is deleted; reading the same reports again applies
 * nothing twice; bad credentials change nothing. Then a campaign sent through
 * a real SMTP server: a DSN to the Return-Path of a captured email is matched
 * by its VERP token, and mail to its List-Unsubscribe mailto address
 * unsubscribes the recipient.
 */

const missing = dovecotMissing();
const FIXTURES = join(import.meta.dirname, '../fixtures/bounces');
const BOUNCED = 'ann.imap@example.org';
const COMPLAINER = 'liz.imap@example.net';

let t: TestApp;
let dovecot: Dovecot;
let sink: SmtpSink | undefined;

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

/** Asking for a poll is itself an audited action: the audit log gains its entry whatever the poll finds. */
const AUDITED = ['audit_log', 'audit_chain_heads'];

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
    // After the app: its SMTP pool holds a connection the sink would wait for.
    await sink?.close();
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
    const before = await databaseSnapshot(t.container.database.pool, { except: AUDITED });
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
    expect(await databaseSnapshot(t.container.database.pool, { except: AUDITED })).toBe(before);
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
    const before = await databaseSnapshot(t.container.database.pool, { except: AUDITED });
    const result = await poll(other.adminKey);
    expect(result).toMatchObject({ mailboxes: 1, failed: 1, messages: 0 });
    expect(result.errors).toEqual([
      { workspace_id: other.workspaceId, error: expect.stringContaining('authentication failed') },
    ]);
    expect(JSON.stringify(result)).not.toContain(dovecot.user);
    expect(await databaseSnapshot(t.container.database.pool, { except: AUDITED })).toBe(before);
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

  it('matches a DSN to a sent campaign email by its VERP return path, and unsubscribes by its mailto address', async () => {
    sink = await startSmtpSink();
    await t.addSinkTransport(sink, { is_default: true });
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News',
      body: '<p>Hello</p>',
    });
    const list = await call('POST', '/v1/lists', { name: 'Mailed', opt_in: 'single' });
    await call('POST', `/v1/lists/${list.body.id}/members`, {
      emails: ['kim.imap@example.org', 'lou.imap@example.org'],
    });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Mailed',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list.body.id],
    });
    expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
    await t.container.sender.drain();
    const messages = sink.messages;
    const captured = (to: string) => {
      const found = messages.find((m) => m.to[0] === to);
      expect(found, to).toBeDefined();
      return found as (typeof messages)[number];
    };
    const contactId = async (email: string) =>
      (await query<{ id: string }>('SELECT id FROM contacts WHERE email = $1', [email]))[0]?.id;

    // The real envelope sender of Kim's email; the DSN names a forwarding address and no Message-ID,
    // so only the VERP token can tie it to Kim and the campaign.
    const returnPath = captured('kim.imap@example.org').from;
    expect(returnPath).toMatch(/^b-[a-z2-7]{58}@shop\.example$/);
    const dsn = [
      'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
      `To: ${returnPath}`,
      'Subject: Undelivered Mail Returned to Sender',
      'Message-Id: <dsn-verp@mx.example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
      '',
      '--B',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.org',
      '',
      'Final-Recipient: rfc822; kim.forwarded@elsewhere.example',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
      '',
      '--B--',
      '',
    ].join('\r\n');

    // Lou's client mails the List-Unsubscribe address; Dovecot's LDA recorded where it was delivered.
    const header = captured('lou.imap@example.org')
      .raw.toString('latin1')
      .replace(/\r\n[ \t]+/g, ' ');
    const mailto = /^List-Unsubscribe:.*<mailto:(u-[a-z2-7]+@[^>]+)>/im.exec(header)?.[1] as string;
    expect(mailto).toMatch(/@shop\.example$/);
    const unsubscribe = (to: string) =>
      [
        `Delivered-To: ${to}`,
        'From: lou@home.example',
        'To: Newsletter <news@shop.example>',
        'Subject: Unsubscribe',
        'Message-Id: <unsub-imap@home.example>',
        '',
        'Unsubscribe me, please.',
        '',
      ].join('\r\n');
    const tampered = mailto.replace(/^u-(.)/, (_, c: string) => `u-${c === 'a' ? 'b' : 'a'}`);
    await mailbox(async (client) => {
      await client.append('INBOX', dsn, []);
      await client.append('INBOX', unsubscribe(mailto), []);
      await client.append('INBOX', unsubscribe(tampered), []);
    });

    expect(await poll()).toMatchObject({
      failed: 0,
      messages: 3,
      processed: 2,
      unsubscribes: 1,
      unparsed: 1,
      applied: 1,
    });
    const [event] = await query('SELECT * FROM bounce_events WHERE campaign_id = $1', [campaign.body.id]);
    expect(event).toMatchObject({
      matched_by: 'verp',
      contact_id: await contactId('kim.imap@example.org'),
      recipient: 'kim.forwarded@elsewhere.example',
      recipient_key: 'kim.imap@example.org',
      message_id: `<${String(
        (
          await query<{ message_id: string }>(
            'SELECT message_id FROM campaign_sends WHERE campaign_id = $1 AND contact_id = $2',
            [campaign.body.id, await contactId('kim.imap@example.org')],
          )
        )[0]?.message_id,
      )}>`,
      source: 'imap',
      severity: 'hard',
    });
    const state = await query<{ email: string; status: string; membership: string; reason: string | null }>(
      `SELECT c.email, c.status, m.status AS membership, s.reason FROM contacts c
         JOIN list_memberships m ON m.contact_id = c.id AND m.list_id = $1
         LEFT JOIN suppressions s ON s.workspace_id = c.workspace_id AND s.email_key = c.email_key
         ORDER BY c.email`,
      [list.body.id],
    );
    expect(state).toEqual([
      { email: 'kim.imap@example.org', status: 'bounced', membership: 'confirmed', reason: 'hard_bounce' },
      { email: 'lou.imap@example.org', status: 'active', membership: 'unsubscribed', reason: null },
    ]);
    const [record] = await query(
      `SELECT source, source_id, detail FROM consent_records WHERE contact_id = $1 AND action = 'unsubscribe'`,
      [await contactId('lou.imap@example.org')],
    );
    expect(record).toMatchObject({
      source: 'form',
      source_id: campaign.body.id,
      detail: { method: 'mailto', campaign_id: campaign.body.id },
    });
    // The tampered request waits in the unparsed folder for a person; nothing is deleted.
    expect(await counts()).toEqual({ INBOX: 0, 'Herald/Processed': 5, 'Herald/Unparsed': 2 });
  });
});
