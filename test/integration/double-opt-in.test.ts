import { Writable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Double opt-in end to end: adding a member queues a confirmation email,
 * which a real SMTP server receives; its signed link confirms only by POST,
 * and the confirmation lands in the consent ledger. Suppressed addresses get
 * no confirmation (the log says why, without the address); a sunset entry
 * does not stop one, and confirming lifts it.
 */

let t: TestApp;
let sink: SmtpSink;
const logLines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
    done();
  },
});

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function membership(listId: string, email: string): Promise<string | undefined> {
  const contact = (await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`)).body.data[0];
  const full = await call('GET', `/v1/contacts/${contact.id}`);
  return full.body.lists.find((m: { list_id: string }) => m.list_id === listId)?.status;
}

async function consentActions(email: string) {
  const contact = (await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`)).body.data[0];
  return (await call('GET', `/v1/contacts/${contact.id}/consent`)).body.data as {
    action: string;
    source: string;
    ip: string | null;
    user_agent: string | null;
  }[];
}

/** The confirm path (`/confirm/<token>`) from the one message the sink holds for `to`. */
async function confirmPath(to: string): Promise<string> {
  const got = sink.messages.filter((m) => m.to[0] === to);
  expect(got).toHaveLength(1);
  const parsed = await simpleParser(got[0]?.raw as Buffer);
  const match = /https?:\/\/[^/\s]+(\/confirm\/[A-Za-z0-9_-]+)/.exec(parsed.text ?? '');
  expect(match, parsed.text).not.toBeNull();
  return match?.[1] as string;
}

let listId: string;
beforeAll(async () => {
  t = await createTestApp({}, { logStream });
  sink = await startSmtpSink();
  await t.addSinkTransport(sink);
  const list = await call('POST', '/v1/lists', {
    name: 'Weekly <news>',
    opt_in: 'double',
    confirmation_from_email: 'news@shop.example',
  });
  expect(list.status, JSON.stringify(list.body)).toBe(201);
  expect(list.body).toMatchObject({
    confirmation_from_email: 'news@shop.example',
    confirmation_template_id: null,
  });
  listId = list.body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('double opt-in', () => {
  it('sends one confirmation; GET shows a button without confirming; POST confirms and records consent', async () => {
    const added = await call('POST', `/v1/lists/${listId}/members`, { emails: ['fan@example.com'] });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    // Adding again queues nothing new.
    await call('POST', `/v1/lists/${listId}/members`, { emails: ['fan@example.com'] });
    await t.container.runner.drain();
    const path = await confirmPath('fan@example.com');
    const parsed = await simpleParser(
      sink.messages.find((m) => m.to[0] === 'fan@example.com')?.raw as Buffer,
    );
    expect(parsed.text).toContain('Please confirm your subscription to Weekly <news>');
    expect(parsed.from?.text).toBe('news@shop.example');
    expect(parsed.headers.has('list-unsubscribe')).toBe(false);

    const page = await t.app.inject({ method: 'GET', url: path });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<form method="post">');
    expect(page.body).toContain('Weekly &#60;news&#62;');
    expect(await membership(listId, 'fan@example.com')).toBe('unconfirmed');

    const confirmed = await t.app.inject({
      method: 'POST',
      url: path,
      headers: { 'user-agent': 'TestBrowser/1.0', 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.body).toContain('is confirmed');
    expect(await membership(listId, 'fan@example.com')).toBe('confirmed');
    const confirm = (await consentActions('fan@example.com')).filter((r) => r.action === 'confirm');
    expect(confirm).toHaveLength(1);
    // The IP as the workspace's IP anonymization stores it (truncate by default).
    expect(confirm[0]).toMatchObject({ source: 'form', ip: '127.0.0.0', user_agent: 'TestBrowser/1.0' });

    const again = await t.app.inject({ method: 'POST', url: path });
    expect(again.statusCode).toBe(200);
    expect(again.body).toContain('already confirmed');
    expect((await consentActions('fan@example.com')).filter((r) => r.action === 'confirm')).toHaveLength(1);
  });

  it('answers 404 to tampered and expired links and changes nothing', async () => {
    await call('POST', `/v1/lists/${listId}/members`, { emails: ['late@example.com'] });
    await t.container.runner.drain();
    const path = await confirmPath('late@example.com');
    const token = path.split('/').pop() as string;
    const flipped = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    for (const url of [`/confirm/${flipped}`, '/confirm/not-a-token', `/confirm/${token}x`]) {
      for (const method of ['GET', 'POST'] as const) {
        const res = await t.app.inject({ method, url });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
        expect(res.headers['content-type']).toContain('text/html');
      }
    }
    t.clock.advance(8 * 24 * 3_600_000);
    for (const method of ['GET', 'POST'] as const) {
      expect((await t.app.inject({ method, url: path })).statusCode).toBe(404);
    }
    expect(await membership(listId, 'late@example.com')).toBe('unconfirmed');
    expect((await consentActions('late@example.com')).filter((r) => r.action === 'confirm')).toHaveLength(0);
  });

  it('uses the list confirmation template when one is chosen', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Confirm',
      format: 'html',
      subject: 'Confirm {{ list.name }}',
      body: '<p>Hi {{ contact.email }}, click <a href="{{ confirm_url }}">here</a></p>',
      text: 'Hi {{ contact.email }}, open {{ confirm_url }}',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const list = await call('POST', '/v1/lists', {
      name: 'Custom',
      opt_in: 'double',
      confirmation_from_email: 'hello@shop.example',
      confirmation_template_id: template.body.id,
    });
    expect(list.status, JSON.stringify(list.body)).toBe(201);
    await call('POST', `/v1/lists/${list.body.id}/members`, { emails: ['custom@example.com'] });
    await t.container.runner.drain();
    const got = sink.messages.filter((m) => m.to[0] === 'custom@example.com');
    expect(got).toHaveLength(1);
    const parsed = await simpleParser(got[0]?.raw as Buffer);
    expect(parsed.subject).toBe('Confirm Custom');
    expect(parsed.text).toMatch(/^Hi custom@example\.com, open http.*\/confirm\/[A-Za-z0-9_-]+/);
    const path = await confirmPath('custom@example.com');
    expect((await t.app.inject({ method: 'POST', url: path })).statusCode).toBe(200);
    expect(await membership(list.body.id, 'custom@example.com')).toBe('confirmed');

    const unknown = await call('PATCH', `/v1/lists/${list.body.id}`, {
      confirmation_template_id: '0190a000-0000-7000-8000-000000000000',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('TEMPLATE_NOT_FOUND');
  });

  it('sends nothing for single opt-in lists or members added confirmed', async () => {
    const single = await call('POST', '/v1/lists', { name: 'Single', opt_in: 'single' });
    await call('POST', `/v1/lists/${single.body.id}/members`, { emails: ['single@example.com'] });
    await call('POST', `/v1/lists/${listId}/members`, {
      emails: ['asserted@example.com'],
      status: 'confirmed',
    });
    await t.container.runner.drain();
    expect(
      sink.messages.filter((m) => ['single@example.com', 'asserted@example.com'].includes(m.to[0] as string)),
    ).toHaveLength(0);
  });

  it('sends confirmations to new unconfirmed members from a CSV import', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/imports?mode=upsert&list_id=${listId}`,
      headers: { ...t.auth(), 'content-type': 'text/csv' },
      payload: 'email\nimp1@example.com\nimp2@example.com\nfan@example.com\n',
    });
    expect(res.statusCode, res.body).toBe(202);
    await t.container.runner.drain();
    await t.container.runner.drain();
    for (const email of ['imp1@example.com', 'imp2@example.com']) {
      expect(
        sink.messages.filter((m) => m.to[0] === email),
        email,
      ).toHaveLength(1);
      expect(await membership(listId, email)).toBe('unconfirmed');
    }
    // Already a confirmed member: no new confirmation.
    expect(sink.messages.filter((m) => m.to[0] === 'fan@example.com')).toHaveLength(1);
    const path = await confirmPath('imp1@example.com');
    expect((await t.app.inject({ method: 'POST', url: path })).statusCode).toBe(200);
    expect(await membership(listId, 'imp1@example.com')).toBe('confirmed');
  });

  it('sends no confirmation to a suppressed address; the job says why without the address', async () => {
    const reasons = ['hard_bounce', 'complaint', 'manual', 'soft_bounce'] as const;
    for (const reason of reasons) {
      const added = await call('POST', '/v1/suppressions', { email: `${reason}@example.com`, reason });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
    }
    const emails = reasons.map((reason) => `${reason}@example.com`);
    // A suppression added between the subscription and its job counts too.
    await call('POST', `/v1/lists/${listId}/members`, { emails: [...emails, 'between@example.com'] });
    await call('POST', '/v1/suppressions', { email: 'Between@Example.com' });
    logLines.length = 0;
    await t.container.runner.drain();

    expect(
      sink.messages.filter((m) => [...emails, 'between@example.com'].includes(m.to[0] as string)),
    ).toEqual([]);
    for (const email of [...emails, 'between@example.com'])
      expect(await membership(listId, email), email).toBe('unconfirmed');
    const jobs = await t.container.database.pool.query(
      `SELECT status, last_error FROM jobs WHERE task = 'lists.confirmation' AND payload->>'listId' = $1
       AND status <> 'succeeded'`,
      [listId],
    );
    expect(jobs.rows).toEqual([]);
    const skipped = logLines.filter((l) => l.outcome === 'not_sent');
    expect(skipped.map((l) => l.suppression_reason).sort()).toEqual([...reasons, 'manual'].sort());
    expect(skipped.every((l) => l.list_id === listId && typeof l.contact_id === 'string')).toBe(true);
    expect(JSON.stringify(logLines)).not.toMatch(
      /(hard_bounce|complaint|manual|soft_bounce|between)@example/i,
    );

    // Removed from the list: the next subscription (a new list, a new job) is asked to confirm.
    await t.app.inject({
      method: 'DELETE',
      url: '/v1/suppressions/manual@example.com?reason=asked%20by%20phone',
      headers: t.auth(),
    });
    const other = await call('POST', '/v1/lists', {
      name: 'Second chance',
      opt_in: 'double',
      confirmation_from_email: 'news@shop.example',
    });
    await call('POST', `/v1/lists/${other.body.id}/members`, { emails: ['manual@example.com'] });
    await t.container.runner.drain();
    expect(sink.messages.filter((m) => m.to[0] === 'manual@example.com')).toHaveLength(1);
  });

  it('sends the confirmation despite a sunset entry, and confirming lifts the entry', async () => {
    await call('POST', '/v1/suppressions', { email: 'dormant@example.com', reason: 'sunset' });
    await call('POST', `/v1/lists/${listId}/members`, { emails: ['dormant@example.com'] });
    await t.container.runner.drain();
    const path = await confirmPath('dormant@example.com');
    expect((await call('GET', '/v1/suppressions?email=dormant@')).body.data).toHaveLength(1);
    expect((await t.app.inject({ method: 'POST', url: path })).statusCode).toBe(200);
    expect(await membership(listId, 'dormant@example.com')).toBe('confirmed');
    expect((await call('GET', '/v1/suppressions?email=dormant@')).body.data).toEqual([]);
    const removals = await t.container.database.pool.query(
      `SELECT previous_reason, reason, removed_by FROM suppression_removals WHERE email_key = 'dormant@example.com'`,
    );
    expect(removals.rows).toEqual([
      {
        previous_reason: 'sunset',
        reason: `confirmed a subscription to list ${listId} by its link`,
        removed_by: null,
      },
    ]);
  });

  it('leaves the job failed with a clear error when the list has no sender', async () => {
    const list = await call('POST', '/v1/lists', { name: 'No sender', opt_in: 'double' });
    await call('POST', `/v1/lists/${list.body.id}/members`, { emails: ['nosender@example.com'] });
    await t.container.runner.drain();
    expect(sink.messages.filter((m) => m.to[0] === 'nosender@example.com')).toHaveLength(0);
    const jobs = await t.container.database.pool.query(
      `SELECT status, attempts, last_error FROM jobs WHERE task = 'lists.confirmation' AND idempotency_key LIKE $1`,
      [`${list.body.id}:%`],
    );
    expect(jobs.rows).toHaveLength(1);
    expect(jobs.rows[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(jobs.rows[0].last_error).toContain('no confirmation_from_email');
  });
});
