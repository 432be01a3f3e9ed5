import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretKeys } from '../../src/lib/secret-keys.js';
import { createReturnPathToken } from '../../src/lib/signed-tokens.js';
import { parseReport } from '../../src/modules/bounces/index.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';

/**
 * Bounce reports through POST /v1/inbound/raw (the MTA pipe): matching by VERP
 * token, Original Message-ID and address; the hard, soft and complaint
 * policies with their consent records; deduplication; and the suppression
 * list checked when a campaign or message would go out.
 */

let t: TestApp;
const keyring = parseSecretKeys(TEST_SECRET_KEY);
const FIXTURES = join(import.meta.dirname, '../fixtures/bounces');

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function pipe(raw: string | Buffer, key?: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/inbound/raw',
    headers: { ...t.auth(key), 'content-type': 'message/rfc822' },
    payload: raw,
  });
  return { status: res.statusCode, body: res.json() };
}

async function query<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await t.container.database.pool.query(text, values)).rows as T[];
}

async function contactByEmail(email: string) {
  const [row] = await query<{ id: string; status: string }>(
    'SELECT id, status FROM contacts WHERE workspace_id = $1 AND email_key = lower($2)',
    [t.workspaceId, email],
  );
  return row;
}

async function isSuppressed(email: string, workspaceId = t.workspaceId): Promise<string | undefined> {
  const [row] = await query<{ reason: string }>(
    'SELECT reason FROM suppressions WHERE workspace_id = $1 AND email_key = lower($2)',
    [workspaceId, email],
  );
  return row?.reason;
}

let serial = 0;
/** A DSN (RFC 3464) as Postfix writes one; each call differs (its own Message-Id and date). */
function dsn(input: {
  recipient: string;
  status: string;
  diagnostic: string;
  action?: string;
  verp?: string;
  originalMessageId?: string;
}): string {
  serial++;
  const to = input.verp ?? 'bounces@shop.example';
  return [
    'Return-Path: <>',
    `Date: Tue, 10 Mar 2026 09:${String(serial % 60).padStart(2, '0')}:03 +0000`,
    'From: MAILER-DAEMON@mail.shop.example (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    `To: ${to}`,
    `Message-Id: <dsn-${serial}@mail.shop.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    '',
    '--B',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '',
    '--B',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mail.shop.example',
    '',
    `Final-Recipient: rfc822; ${input.recipient}`,
    `Action: ${input.action ?? 'failed'}`,
    `Status: ${input.status}`,
    'Remote-MTA: dns; mx.example.org',
    `Diagnostic-Code: smtp; ${input.diagnostic}`,
    '',
    '--B',
    'Content-Type: text/rfc822-headers',
    '',
    ...(input.verp ? [`Return-Path: <${input.verp}>`] : []),
    'From: shop@shop.example',
    `To: ${input.recipient}`,
    'Subject: News',
    ...(input.originalMessageId ? [`Message-ID: ${input.originalMessageId}`] : []),
    '',
    '--B--',
    '',
  ].join('\r\n');
}

function arf(recipient: string, verp: string | undefined): string {
  serial++;
  return [
    'From: staff@hotmail.com',
    `To: ${verp ?? 'abuse@shop.example'}`,
    'Subject: complaint about message',
    `Message-Id: <arf-${serial}@hotmail.com>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="A"',
    '',
    '--A',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report.',
    '',
    '--A',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    `Original-Rcpt-To: ${recipient}`,
    '',
    '--A',
    'Content-Type: message/rfc822',
    '',
    ...(verp ? [`Return-Path: <${verp}>`] : []),
    'From: shop@shop.example',
    `To: ${recipient}`,
    'Subject: News',
    '',
    'Hello',
    '--A--',
    '',
  ].join('\r\n');
}

/** Sends (accepts) a transactional message and returns its id and VERP return path. */
async function message(to: string, key?: string) {
  const res = await call(
    'POST',
    '/v1/messages',
    { to, from_email: 'shop@shop.example', inline: { subject: 'Receipt', text: 'Thanks' } },
    key,
  );
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  return {
    id: res.body.id as string,
    status: res.body.status as string,
    messageId: res.body.message_id as string,
    verp: `b-${createReturnPathToken(keyring, res.body.id)}@shop.example`,
  };
}

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('POST /v1/inbound/raw', () => {
  it('turns a hard bounce (VERP) into a bounced, suppressed contact with a consent record, and later sends skip it', async () => {
    const sent = await message('hard@example.org');
    const res = await pipe(
      dsn({
        recipient: 'hard@example.org',
        status: '5.1.1',
        diagnostic: '550 5.1.1 User unknown',
        verp: sent.verp,
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.kind).toBe('bounce');
    expect(res.body.results).toHaveLength(1);
    expect(res.body.results[0]).toMatchObject({
      type: 'bounce',
      severity: 'hard',
      reason: 'user_unknown',
      matched_by: 'verp',
      message_ref: sent.id,
      duplicate: false,
      effects: ['contact_bounced', 'suppressed'],
    });
    const contact = await contactByEmail('hard@example.org');
    expect(contact?.status).toBe('bounced');
    expect(await isSuppressed('hard@example.org')).toBe('hard_bounce');
    const records = await query<{
      action: string;
      source: string;
      source_id: string;
      detail: Record<string, unknown>;
    }>('SELECT action, source, source_id, detail FROM consent_records WHERE contact_id = $1 ORDER BY id', [
      contact?.id,
    ]);
    const change = records.find((r) => r.action === 'status_change');
    expect(change).toMatchObject({
      source: 'system',
      source_id: res.body.results[0].event_id,
      detail: {
        from: 'active',
        to: 'bounced',
        bounce_event_id: res.body.results[0].event_id,
        source: 'smtp',
      },
    });
    const [event] = await query('SELECT * FROM bounce_events WHERE id = $1', [res.body.results[0].event_id]);
    expect(event).toMatchObject({ status_code: '5.1.1', remote_mta: 'mx.example.org', source: 'smtp' });

    // A later message to the address is refused as suppressed, without a send job.
    const later = await message('HARD@example.org');
    expect(later.status).toBe('failed');
  });

  it('applies the same report twice only once', async () => {
    const sent = await message('twice@example.org');
    const raw = dsn({
      recipient: 'twice@example.org',
      status: '5.1.1',
      diagnostic: '550 no such user',
      verp: sent.verp,
    });
    const first = await pipe(raw);
    const before = await databaseSnapshot(t.container.database.pool);
    const second = await pipe(raw);
    expect(second.status).toBe(200);
    expect(second.body.results[0]).toMatchObject({
      duplicate: true,
      event_id: first.body.results[0].event_id,
    });
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('matches by Original Message-ID without a VERP address, and by the address as a last resort', async () => {
    const sent = await message('byid@example.org');
    const byId = await pipe(
      dsn({
        recipient: 'byid@example.org',
        status: '5.1.1',
        diagnostic: '550 unknown',
        originalMessageId: sent.messageId,
      }),
    );
    expect(byId.body.results[0]).toMatchObject({ matched_by: 'message_id', message_ref: sent.id });

    await call('POST', '/v1/contacts', { email: 'byaddress@example.org' });
    const byAddress = await pipe(
      dsn({ recipient: 'byaddress@example.org', status: '5.1.1', diagnostic: '550 unknown' }),
    );
    expect(byAddress.body.results[0]).toMatchObject({
      matched_by: 'recipient',
      effects: ['contact_bounced', 'suppressed'],
    });

    // No contact at all: recorded and suppressed all the same (the address may be imported later).
    const nobody = await pipe(
      dsn({ recipient: 'stranger@example.org', status: '5.1.1', diagnostic: '550 unknown' }),
    );
    expect(nobody.body.results[0]).toMatchObject({
      matched_by: 'none',
      contact_id: null,
      effects: ['suppressed'],
    });
    expect(await isSuppressed('stranger@example.org')).toBe('hard_bounce');
  });

  it('does not let a VERP token of another workspace touch that workspace', async () => {
    const sent = await message('foreign@example.org');
    const other = await t.createWorkspace('Other intake');
    const res = await pipe(
      dsn({ recipient: 'foreign@example.org', status: '5.1.1', diagnostic: '550 unknown', verp: sent.verp }),
      other.adminKey,
    );
    expect(res.status).toBe(200);
    expect(res.body.results[0].matched_by).toBe('none');
    expect((await contactByEmail('foreign@example.org'))?.status).toBe('active');
    expect(await isSuppressed('foreign@example.org')).toBeUndefined();
    expect(await isSuppressed('foreign@example.org', other.workspaceId)).toBe('hard_bounce');
  });

  it('suppresses after 3 soft bounces within 7 days, not after 2, and leaves the contact active', async () => {
    const sent = await message('soft@example.org');
    const soft = () =>
      pipe(
        dsn({
          recipient: 'soft@example.org',
          status: '5.2.2',
          diagnostic: '552 5.2.2 Mailbox full',
          verp: sent.verp,
        }),
      );
    for (let i = 0; i < 2; i++) {
      const res = await soft();
      expect(res.body.results[0]).toMatchObject({ severity: 'soft', reason: 'mailbox_full', effects: [] });
    }
    expect(await isSuppressed('soft@example.org')).toBeUndefined();
    const third = await soft();
    expect(third.body.results[0].effects).toEqual(['suppressed']);
    expect(await isSuppressed('soft@example.org')).toBe('soft_bounce');
    expect((await contactByEmail('soft@example.org'))?.status).toBe('active');
  });

  it('counts only soft bounces inside the window, with the workspace setting', async () => {
    const patched = await call('PATCH', '/v1/deliverability/settings', {
      soft_bounce_threshold: 2,
      soft_bounce_window_days: 1,
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const sent = await message('window@example.org');
    const soft = () =>
      pipe(
        dsn({
          recipient: 'window@example.org',
          status: '4.2.2',
          diagnostic: '452 4.2.2 Mailbox full',
          verp: sent.verp,
        }),
      );
    await soft();
    t.clock.advance(2 * 86_400_000);
    expect((await soft()).body.results[0].effects).toEqual([]);
    expect((await soft()).body.results[0].effects).toEqual(['suppressed']);
    await call('PATCH', '/v1/deliverability/settings', {
      soft_bounce_threshold: 3,
      soft_bounce_window_days: 7,
    });
  });

  it('records delays without counting them as bounces', async () => {
    const sent = await message('delayed@example.org');
    for (let i = 0; i < 4; i++) {
      const res = await pipe(
        dsn({
          recipient: 'delayed@example.org',
          status: '4.4.1',
          diagnostic: '421 connection timed out',
          action: 'delayed',
          verp: sent.verp,
        }),
      );
      expect(res.body.results[0]).toMatchObject({ type: 'delay', effects: [] });
    }
    expect(await isSuppressed('delayed@example.org')).toBeUndefined();
  });

  it('turns a complaint into a complained contact (no marketing), suppressed, with an unsubscribe record', async () => {
    const sent = await message('angry@example.org');
    const res = await pipe(arf('angry@example.org', sent.verp));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results[0]).toMatchObject({
      type: 'complaint',
      matched_by: 'verp',
      effects: ['contact_complained', 'suppressed'],
    });
    const contact = await contactByEmail('angry@example.org');
    expect(contact?.status).toBe('complained');
    expect(await isSuppressed('angry@example.org')).toBe('complaint');
    const actions = await query<{ action: string }>(
      'SELECT action FROM consent_records WHERE contact_id = $1 ORDER BY id',
      [contact?.id],
    );
    expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(['status_change', 'unsubscribe']));
  });

  it('refuses a body that is no report with 400 and changes nothing', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    for (const body of [readFileSync(join(FIXTURES, 'not-a-bounce.eml')), 'garbage', ' ']) {
      const res = await pipe(body);
      expect(res.status, String(body)).toBe(400);
      expect(res.body.code).toBe('REPORT_UNREADABLE');
      expect(res.body.detail).toMatch(/no delivery status|empty/);
    }
    const json = await t.app.inject({
      method: 'POST',
      url: '/v1/inbound/raw',
      headers: t.auth(),
      payload: { not: 'a message' },
    });
    expect(json.statusCode).toBe(415);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('reads every fixture in test/fixtures/bounces with the policy its kind calls for', async () => {
    const other = await t.createWorkspace('Fixtures');
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.eml'));
    expect(files.length).toBeGreaterThanOrEqual(22);
    for (const file of files) {
      const raw = readFileSync(join(FIXTURES, file));
      const parsed = parseReport(raw);
      const recipient = parsed.recipients[0]?.recipient;
      if (recipient) await call('POST', '/v1/contacts', { email: recipient }, other.adminKey);
      const res = await pipe(raw, other.adminKey);
      if (parsed.kind === 'unknown') {
        expect(res.status, file).toBe(400);
        continue;
      }
      expect(res.status, `${file}: ${JSON.stringify(res.body)}`).toBe(200);
      if (parsed.kind === 'auto_reply') {
        expect(res.body.results, file).toEqual([]);
        continue;
      }
      const result = res.body.results[0];
      const first = parsed.recipients[0];
      if (!recipient || !first) {
        // A redacted complaint names nobody: nothing to tie it to, nothing stored.
        expect(result, file).toMatchObject({ event_id: null, matched_by: 'none' });
        continue;
      }
      expect(result, file).toMatchObject({ type: first.kind, matched_by: 'recipient' });
      const [row] = await query<{ status: string }>(
        'SELECT status FROM contacts WHERE workspace_id = $1 AND email_key = lower($2)',
        [other.workspaceId, recipient],
      );
      const suppressed = await isSuppressed(recipient, other.workspaceId);
      if (first.kind === 'complaint') {
        expect(row?.status, file).toBe('complained');
        expect(suppressed, file).toBe('complaint');
      } else if (first.kind === 'bounce' && first.severity === 'hard') {
        expect(row?.status, file).toBe('bounced');
        expect(suppressed, file).toBe('hard_bounce');
      } else {
        expect(row?.status, file).toBe('active');
        expect(suppressed, file).toBeUndefined();
      }
    }
  });
});

describe('the suppression list', () => {
  it('adds, lists, filters and removes addresses, recording the removal', async () => {
    const added = await call('POST', '/v1/suppressions', {
      email: 'Manual@Example.org',
      note: 'asked by phone',
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toMatchObject({ email: 'Manual@example.org', reason: 'manual', source: 'api' });
    const again = await call('POST', '/v1/suppressions', { email: 'manual@example.org' });
    expect(again.status).toBe(200);
    const bad = await call('POST', '/v1/suppressions', { email: 'not-an-address' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_EMAIL');

    const manual = await call('GET', '/v1/suppressions?reason=manual');
    expect(manual.body.data.map((s: { email: string }) => s.email)).toEqual(['Manual@example.org']);
    const byPrefix = await call('GET', '/v1/suppressions?email=HARD');
    expect(byPrefix.body.data).toHaveLength(1);
    const page1 = await call('GET', '/v1/suppressions?limit=2');
    expect(page1.body.data).toHaveLength(2);
    const page2 = await call('GET', `/v1/suppressions?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.data[0].email).not.toBe(page1.body.data[1].email);
    expect(page2.body.data[0].email.toLowerCase() > page1.body.data[1].email.toLowerCase()).toBe(true);

    const noReason = await call('DELETE', '/v1/suppressions/manual@example.org');
    expect(noReason.status).toBe(400);
    const removed = await call(
      'DELETE',
      `/v1/suppressions/${encodeURIComponent('MANUAL@example.org')}?reason=${encodeURIComponent('customer confirmed the address')}`,
    );
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const [removal] = await query('SELECT previous_reason, reason, removed_by FROM suppression_removals');
    expect(removal).toMatchObject({ previous_reason: 'manual', reason: 'customer confirmed the address' });
    expect(removal?.removed_by).toBeTruthy();
    const missing = await call('DELETE', '/v1/suppressions/manual@example.org?reason=again');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('SUPPRESSION_NOT_FOUND');
  });

  it('keeps a suppressed address out of a campaign audience and messages even when its contact is active', async () => {
    const list = await call('POST', '/v1/lists', { name: 'News', opt_in: 'single', visibility: 'private' });
    await call('POST', `/v1/lists/${list.body.id}/members`, {
      emails: ['kept@example.org', 'listed@example.org'],
    });
    const campaign = await call('POST', '/v1/campaigns', { name: 'News', lists: [list.body.id] });
    const audience = async () =>
      (await call('GET', `/v1/campaigns/${campaign.body.id}/audience`)).body.data.map(
        (c: { email: string }) => c.email,
      );
    expect(await audience()).toEqual(expect.arrayContaining(['kept@example.org', 'listed@example.org']));

    await call('POST', '/v1/suppressions', { email: 'listed@example.org' });
    expect((await contactByEmail('listed@example.org'))?.status).toBe('active');
    expect(await audience()).toEqual(['kept@example.org']);
    expect((await message('listed@example.org')).status).toBe('failed');
    expect((await message('kept@example.org')).status).toBe('queued');
  });

  it('imports a CSV all or nothing, and exports the list as CSV', async () => {
    const csv = (body: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/suppressions/import',
        headers: { ...t.auth(), 'content-type': 'text/csv' },
        payload: body,
      });
    const before = await databaseSnapshot(t.container.database.pool);
    const bad = await csv(
      'email,reason\ncsv-one@example.org,manual\nnot-an-address,manual\ncsv-two@example.org,nope\n',
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors ?? bad.json().details ?? bad.json()).toBeTruthy();
    expect(bad.body).toContain('/3/email');
    expect(bad.body).toContain('/4/reason');
    expect((await csv('address\nx@example.org\n')).statusCode).toBe(400);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);

    const good = await csv(
      'Email,Reason,Note\ncsv-one@example.org,,from the old tool\nCSV-ONE@example.org,manual,\ncsv-two@example.org,complaint,\nhard@example.org,manual,\n',
    );
    expect(good.statusCode, good.body).toBe(200);
    expect(good.json()).toEqual({ rows: 4, added: 2, already_suppressed: 2 });
    expect(await isSuppressed('csv-two@example.org')).toBe('complaint');
    expect(await isSuppressed('hard@example.org')).toBe('hard_bounce');

    const exported = await t.app.inject({ method: 'GET', url: '/v1/suppressions/export', headers: t.auth() });
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toContain('text/csv');
    const lines = exported.body.trim().split('\n');
    expect(lines[0]).toBe('email,reason,source,note,created_at');
    expect(lines.some((l) => l.startsWith('csv-one@example.org,manual,import,from the old tool,'))).toBe(
      true,
    );
    expect(lines.some((l) => l.startsWith('hard@example.org,hard_bounce,smtp,'))).toBe(true);
  });

  it('stops a message suppressed between acceptance and its send job', async () => {
    const accepted = await message('late@example.org');
    expect(accepted.status).toBe('queued');
    await call('POST', '/v1/suppressions', { email: 'late@example.org', reason: 'complaint' });
    await t.container.messages.send(t.workspaceId, accepted.id);
    const after = await call('GET', `/v1/messages/${accepted.id}`);
    expect(after.body).toMatchObject({ status: 'failed', error: 'suppressed' });
  });
});
