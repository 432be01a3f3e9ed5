import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The automation engine over HTTP, with the manual clock and a real SMTP
 * server: who gets which email when, entry rules, exits, branches and
 * splits, pause and resume, versions in flight, and exactly-once steps.
 */

let t: TestApp;
let sink: SmtpSink;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

function header(raw: Buffer, name: string): string | undefined {
  const head = raw.toString('utf8').split('\r\n\r\n')[0] ?? '';
  const unfolded = head.replace(/\r\n[ \t]+/g, ' ');
  const line = unfolded.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

/** Delivered mail as "to: subject", in order; clears the sink. */
function delivered(): string[] {
  const out = sink.messages.map((m) => `${m.to[0]}: ${header(m.raw, 'Subject')}`);
  sink.messages.length = 0;
  return out;
}

/** Moves the clock and runs everything due: runs, then the message jobs they queued. */
async function tick(ms = 0) {
  if (ms > 0) t.clock.advance(ms);
  for (let i = 0; i < 5; i++) {
    const scanned = await t.container.automationTriggers.scan();
    const steps = await t.container.automationEngine.drain();
    const jobs = await t.container.runner.drain();
    if (steps === 0 && jobs === 0 && scanned.enrolled + scanned.moved === 0) return;
  }
}

async function contact(email: string, extra: object = {}) {
  const res = await call('POST', '/v1/contacts', { email, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function automation(name: string, definition: object) {
  const created = await call('POST', '/v1/automations', { name, definition });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const published = await call('POST', `/v1/automations/${created.body.id}/publish`);
  expect(published.status, JSON.stringify(published.body)).toBe(201);
  return created.body.id as string;
}

async function enroll(id: string, body: object, key?: string) {
  return call('POST', `/v1/automations/${id}/enroll`, body, key);
}

function example(name: string) {
  return JSON.parse(readFileSync(join(process.cwd(), 'examples', 'automations', `${name}.json`), 'utf8'));
}

async function track(contactId: string, name: string, properties: object = {}) {
  const at = t.clock.now();
  await sql`SELECT herald_events_partition(${at.toISOString().slice(0, 10)}::date)`.execute(t.container.db);
  await sql`INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, properties)
    VALUES (${uuidv7(at.getTime())}, ${t.workspaceId}, ${at}, ${at}, 'track', ${name}, ${contactId}, ${uuidv7()}, ${JSON.stringify(properties)})`.execute(
    t.container.db,
  );
}

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(new Date('2026-12-02T12:00:00Z')); // a Wednesday
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  for (const name of [
    'Welcome',
    'Getting started',
    'Tips and tricks',
    'Cart reminder',
    'Cart discount',
    'A',
    'B',
    'Pro',
    'Free',
  ]) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name} for {{ contact.email }} {{ automation.data.cart_id }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});
beforeEach(async () => {
  await tick();
  sink.messages.length = 0;
});

describe('the welcome series', () => {
  it('sends its three emails over a week, each once, with the marketing headers', async () => {
    const list = await call('POST', '/v1/lists', { name: 'Newsletter' });
    const definition = example('welcome-series');
    definition.trigger.list_id = list.body.id;
    const id = await automation('Welcome series', definition);
    const ada = await contact('ada@example.com');
    const res = await enroll(id, { contact: { email: 'ADA@example.com' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      enrolled: true,
      run: { contact_id: ada, version: 1, status: 'active' },
    });

    await tick();
    const welcome = sink.messages[0];
    expect(delivered()).toEqual(['ada@example.com: Welcome']);
    expect(header(welcome!.raw, 'List-Unsubscribe')).toMatch(
      /^<http[^>]+\/u\/[^>]+>, <mailto:u-[^@]+@shop\.example>$/,
    );
    expect(header(welcome!.raw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(header(welcome!.raw, 'Feedback-ID')).toBe(`${id}::${t.workspaceId}:shop.example`);
    expect(header(welcome!.raw, 'From')).toContain('news@shop.example');
    expect(welcome!.raw.toString()).toContain('/u/');

    await tick(2 * DAY - MINUTE);
    expect(delivered()).toEqual([]);
    await tick(MINUTE);
    expect(delivered()).toEqual(['ada@example.com: Getting started']);
    await tick(5 * DAY);
    expect(delivered()).toEqual(['ada@example.com: Tips and tricks']);
    await tick(30 * DAY);
    expect(delivered()).toEqual([]);

    const run = await call('GET', `/v1/automations/${id}/runs/${res.body.run.id}`);
    expect(run.body).toMatchObject({ status: 'completed', exit_reason: 'exit', step: 6, next_run_at: null });
    expect(run.body.steps.map((s: { node_id: string }) => s.node_id)).toEqual([
      'welcome',
      'wait_2d',
      'getting_started',
      'wait_5d',
      'tips',
      'done',
    ]);
    expect(run.body.steps[0].outcome).toMatchObject({ message_status: 'queued' });
    // Once ever: a second enrolment is refused, naming the earlier run.
    const again = await enroll(id, { contact: { id: ada } });
    expect(again).toMatchObject({
      status: 200,
      body: { enrolled: false, reason: 'once_ever', run: { id: res.body.run.id } },
    });
  });
});

describe('waits', () => {
  it("waits until a weekday and hour in the contact's time zone, else UTC", async () => {
    t.clock.set(new Date('2028-01-05T12:00:00Z')); // a Wednesday
    const id = await automation('Monday morning', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'monday',
      nodes: [
        { id: 'monday', type: 'wait', until: { weekdays: ['mon'], hour: 9 }, next: 'mail' },
        { id: 'mail', type: 'send_email', template: 'A', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    await contact('ny@example.com', { timezone: 'America/New_York' });
    await contact('utc@example.com');
    const ny = await enroll(id, { contact: { email: 'ny@example.com' } });
    const utc = await enroll(id, { contact: { email: 'utc@example.com' } });
    await tick();
    const runOf = async (runId: string) => (await call('GET', `/v1/automations/${id}/runs/${runId}`)).body;
    // Wednesday 5 January -> Monday 10 January, 09:00 EST (14:00 UTC) and 09:00 UTC.
    expect((await runOf(ny.body.run.id)).next_run_at).toBe('2028-01-10T14:00:00.000Z');
    expect((await runOf(utc.body.run.id)).next_run_at).toBe('2028-01-10T09:00:00.000Z');
    t.clock.set(new Date('2028-01-10T08:59:00Z'));
    await tick();
    expect(delivered()).toEqual([]);
    t.clock.set(new Date('2028-01-10T09:00:00Z'));
    await tick();
    expect(delivered()).toEqual(['utc@example.com: A']);
    t.clock.set(new Date('2028-01-10T14:00:00Z'));
    await tick();
    expect(delivered()).toEqual(['ny@example.com: A']);
  });
});

describe('a wait as long as the lease', () => {
  it('still waits (the lease end is no sign of "due at once")', async () => {
    // The test app keeps the default HERALD_SEND_LEASE_MS of 2 minutes, and the manual clock stands still
    // while a round runs: the wait ends at the very instant the claim's lease does.
    const id = await automation('Two minutes', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'pause',
      nodes: [
        { id: 'pause', type: 'wait', for: { minutes: 2 }, next: 'mail' },
        { id: 'mail', type: 'send_email', template: 'B', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    await contact('patient@example.com');
    await enroll(id, { contact: { email: 'patient@example.com' } });
    await tick();
    expect(delivered()).toEqual([]);
    await tick(2 * MINUTE - 1);
    expect(delivered()).toEqual([]);
    await tick(1);
    expect(delivered()).toEqual(['patient@example.com: B']);
  });
});

describe('the abandoned cart', () => {
  it('runs once per cart, skips the reminder after a purchase, and carries the trigger data', async () => {
    const id = await automation('Abandoned cart', example('abandoned-cart'));
    const carl = await contact('carl@example.com');
    const dora = await contact('dora@example.com');
    const one = await enroll(id, {
      contact: { id: carl },
      instance_key: 'cart-1',
      data: { cart_id: 'cart-1' },
    });
    const two = await enroll(id, {
      contact: { id: carl },
      instance_key: 'cart-2',
      data: { cart_id: 'cart-2' },
    });
    const same = await enroll(id, { contact: { id: carl }, instance_key: 'cart-1' });
    const doras = await enroll(id, { contact: { id: dora }, instance_key: 'cart-9' });
    expect([one.status, two.status, same.status, doras.status]).toEqual([201, 201, 200, 201]);
    expect(same.body.reason).toBe('already_inside');
    expect(one.body.run.instance_key).toBe('cart-1');
    const missing = await enroll(id, { contact: { id: carl } });
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toContain('instance_key');

    await tick();
    await tick(3 * HOUR);
    await track(dora, 'Order Completed');
    await tick(HOUR);
    const reminders = sink.messages.map((m) => m.raw.toString());
    expect(delivered().sort()).toEqual([
      'carl@example.com: Cart reminder',
      'carl@example.com: Cart reminder',
    ]);
    expect(reminders.some((r) => r.includes('cart-1'))).toBe(true);
    expect(reminders.some((r) => r.includes('cart-2'))).toBe(true);
    await tick(DAY);
    expect(delivered()).toEqual(['carl@example.com: Cart discount', 'carl@example.com: Cart discount']);
    const runs = await call('GET', `/v1/automations/${id}/runs?status=completed`);
    expect(runs.body.data).toHaveLength(3);
    // Its trigger would also take the events of the trigger tests below.
    expect((await call('POST', `/v1/automations/${id}/archive`)).status).toBe(200);
  });
});

describe('entry rules', () => {
  const tiny = (entry: object) => ({
    trigger: { type: 'api' },
    entry,
    sender: SENDER,
    start: 'mail',
    nodes: [
      { id: 'mail', type: 'send_email', template: 'A', next: 'wait' },
      { id: 'wait', type: 'wait', for: { days: 1 }, next: 'done' },
      { id: 'done', type: 'exit' },
    ],
  });

  it('once at a time: again only after leaving', async () => {
    const id = await automation('One at a time', tiny({ mode: 'once_at_a_time' }));
    await contact('eve@example.com');
    expect((await enroll(id, { contact: { email: 'eve@example.com' } })).status).toBe(201);
    expect((await enroll(id, { contact: { email: 'eve@example.com' } })).body.reason).toBe('already_inside');
    await tick();
    await tick(DAY);
    expect((await enroll(id, { contact: { email: 'eve@example.com' } })).status).toBe(201);
    await tick();
    expect(delivered()).toEqual(['eve@example.com: A', 'eve@example.com: A']);
  });

  it('again after N days counts from the last entry', async () => {
    const id = await automation('Every three days', tiny({ mode: 'again_after', days: 3 }));
    await contact('finn@example.com');
    expect((await enroll(id, { contact: { email: 'finn@example.com' } })).status).toBe(201);
    await tick();
    await tick(2 * DAY);
    const early = await enroll(id, { contact: { email: 'finn@example.com' } });
    expect(early.body).toMatchObject({ enrolled: false, reason: 'again_after_not_reached' });
    expect(early.body.message).toContain('may enter again from');
    await tick(DAY);
    expect((await enroll(id, { contact: { email: 'finn@example.com' } })).status).toBe(201);
  });

  it('refuses bad enrolments with clear errors', async () => {
    const id = await automation('Strict', tiny({ mode: 'once' }));
    const unknown = await enroll(id, { contact: { email: 'nobody@example.com' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'CONTACT_NOT_FOUND' });
    expect(unknown.body.detail).toContain('nobody@example.com');
    expect((await enroll(id, { contact: { id: uuidv7(), email: 'x@example.com' } })).status).toBe(400);
    expect((await enroll(id, { contact: {} })).status).toBe(400);
    await contact('gil@example.com', { status: 'unsubscribed' });
    expect((await enroll(id, { contact: { email: 'gil@example.com' } })).body).toMatchObject({
      enrolled: false,
      reason: 'contact_suppressed',
    });
    expect((await call('POST', `/v1/automations/${id}/pause`)).status).toBe(200);
    await contact('hal@example.com');
    const paused = await enroll(id, { contact: { email: 'hal@example.com' } });
    expect(paused.status).toBe(409);
    expect(paused.body.code).toBe('AUTOMATION_STATE');
    expect(paused.body.detail).toContain('resume');
    const draft = await call('POST', '/v1/automations', {
      name: 'Draft only',
      definition: tiny({ mode: 'once' }),
    });
    expect((await enroll(draft.body.id, { contact: { email: 'hal@example.com' } })).body.detail).toContain(
      'publish it first',
    );
    expect((await enroll(uuidv7(), { contact: { email: 'hal@example.com' } })).status).toBe(404);
  });
});

describe('exits, branches, splits and contact updates', () => {
  it('exits a contact who unsubscribes mid-journey', async () => {
    const id = await automation('Two mails', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'one',
      nodes: [
        { id: 'one', type: 'send_email', template: 'A', next: 'wait' },
        { id: 'wait', type: 'wait', for: { hours: 1 }, next: 'two' },
        { id: 'two', type: 'send_email', template: 'B', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    const ivy = await contact('ivy@example.com');
    const run = await enroll(id, { contact: { id: ivy } });
    await tick();
    expect(delivered()).toEqual(['ivy@example.com: A']);
    expect((await call('PATCH', `/v1/contacts/${ivy}`, { status: 'unsubscribed' })).status).toBe(200);
    await tick(HOUR);
    expect(delivered()).toEqual([]);
    const after = await call('GET', `/v1/automations/${id}/runs/${run.body.run.id}`);
    expect(after.body).toMatchObject({ status: 'exited', exit_reason: 'unsubscribed' });
  });

  it('branches on a segment condition and splits stickily per contact', async () => {
    const id = await automation('Branch and split', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'plan',
      nodes: [
        {
          id: 'plan',
          type: 'branch',
          branches: [{ condition: { attribute: 'plan', operator: 'equals', value: 'pro' }, next: 'pro' }],
          else: 'split',
        },
        { id: 'pro', type: 'send_email', template: 'Pro', next: 'done' },
        {
          id: 'split',
          type: 'random_split',
          paths: [
            { percent: 50, next: 'a' },
            { percent: 50, next: 'b' },
          ],
        },
        { id: 'a', type: 'send_email', template: 'A', next: 'done' },
        { id: 'b', type: 'send_email', template: 'B', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    for (let i = 0; i < 40; i++) {
      await contact(`s${i}@example.com`, { attributes: { plan: i < 4 ? 'pro' : 'free' } });
      await enroll(id, { contact: { email: `s${i}@example.com` } });
    }
    await tick();
    const first = delivered();
    expect(first.filter((m) => m.endsWith(': Pro')).sort()).toEqual(
      [0, 1, 2, 3].map((i) => `s${i}@example.com: Pro`),
    );
    const a = first.filter((m) => m.endsWith(': A')).length;
    const b = first.filter((m) => m.endsWith(': B')).length;
    expect(a + b).toBe(36);
    expect(a).toBeGreaterThan(8);
    expect(b).toBeGreaterThan(8);
    // Entering again takes the same path.
    for (let i = 4; i < 40; i++) await enroll(id, { contact: { email: `s${i}@example.com` } });
    await tick();
    expect(delivered().sort()).toEqual(first.filter((m) => !m.endsWith(': Pro')).sort());
  });

  it('updates the contact through the contacts and lists services, with consent records', async () => {
    const list = await call('POST', '/v1/lists', { name: 'VIP' });
    const id = await automation('Tagger', {
      trigger: { type: 'api' },
      start: 'update',
      nodes: [
        {
          id: 'update',
          type: 'update_contact',
          set_attributes: { tier: 'gold' },
          add_tags: ['vip'],
          add_to_lists: [list.body.id],
          status: 'unsubscribed',
          next: 'done',
        },
        { id: 'done', type: 'exit' },
      ],
    });
    const jo = await contact('jo@example.com', { tags: ['new'] });
    await enroll(id, { contact: { id: jo } });
    await tick();
    const after = await call('GET', `/v1/contacts/${jo}`);
    expect(after.body).toMatchObject({ status: 'unsubscribed', attributes: { tier: 'gold' } });
    expect(after.body.tags.sort()).toEqual(['new', 'vip']);
    expect(after.body.lists.map((l: { list_id: string }) => l.list_id)).toContain(list.body.id);
    const consent = await sql<{ action: string; source: string }>`
      SELECT action, source FROM consent_records WHERE contact_id = ${jo} ORDER BY id`.execute(
      t.container.db,
    );
    expect(consent.rows.map((r) => `${r.action}:${r.source}`)).toEqual(
      expect.arrayContaining(['subscribe:system', 'status_change:system']),
    );
  });
});

describe('pause, archive and versions', () => {
  const twoStep = (second: string) => ({
    trigger: { type: 'api' },
    sender: SENDER,
    start: 'one',
    nodes: [
      { id: 'one', type: 'send_email', template: 'A', next: 'wait' },
      { id: 'wait', type: 'wait', for: { days: 1 }, next: 'two' },
      { id: 'two', type: 'send_email', template: second, next: 'done' },
      { id: 'done', type: 'exit' },
    ],
  });

  it('holds runs while paused and resumes them where they were', async () => {
    const id = await automation('Pausable', twoStep('B'));
    await contact('kim@example.com');
    await enroll(id, { contact: { email: 'kim@example.com' } });
    await tick();
    expect(delivered()).toEqual(['kim@example.com: A']);
    await call('POST', `/v1/automations/${id}/pause`);
    await tick(2 * DAY);
    expect(delivered()).toEqual([]);
    await call('POST', `/v1/automations/${id}/resume`);
    await tick();
    expect(delivered()).toEqual(['kim@example.com: B']);
  });

  it('keeps runs on the version they entered when a new one is published', async () => {
    const id = await automation('Versioned', twoStep('B'));
    await contact('lou@example.com');
    await contact('max@example.com');
    await enroll(id, { contact: { email: 'lou@example.com' } });
    await tick();
    expect(delivered()).toEqual(['lou@example.com: A']);
    await call('PATCH', `/v1/automations/${id}`, { definition: twoStep('Pro') });
    expect((await call('POST', `/v1/automations/${id}/publish`)).body.version).toBe(2);
    const v2 = await enroll(id, { contact: { email: 'max@example.com' } });
    expect(v2.body.run.version).toBe(2);
    await tick(DAY);
    expect(delivered().sort()).toEqual(['lou@example.com: B', 'max@example.com: A'].sort());
    await tick(DAY);
    expect(delivered()).toEqual(['max@example.com: Pro']);
  });

  it('archiving exits the runs inside', async () => {
    const id = await automation('Archived', twoStep('B'));
    await contact('ned@example.com');
    const run = await enroll(id, { contact: { email: 'ned@example.com' } });
    await tick();
    delivered();
    await call('POST', `/v1/automations/${id}/archive`);
    await tick(2 * DAY);
    expect(delivered()).toEqual([]);
    const after = await call('GET', `/v1/automations/${id}/runs/${run.body.run.id}`);
    expect(after.body).toMatchObject({ status: 'exited', exit_reason: 'archived' });
  });
});

describe('exactly once', () => {
  it('never sends a step twice: concurrent runners, and a step repeated after a crash before its commit', async () => {
    const id = await automation('Once only', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'one',
      nodes: [
        { id: 'one', type: 'send_email', template: 'A', next: 'wait' },
        { id: 'wait', type: 'wait', for: { hours: 1 }, next: 'two' },
        { id: 'two', type: 'send_email', template: 'B', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    for (let i = 0; i < 30; i++) {
      await contact(`x${i}@example.com`);
      await enroll(id, { contact: { email: `x${i}@example.com` } });
    }
    const engine = t.container.automationEngine;
    await Promise.all([engine.round(), engine.round(), engine.drain()]);
    await tick();
    expect(delivered()).toHaveLength(30);

    // A worker that accepted the email of step 3 and died before committing: the run is back at step 2.
    const [victim] = (await call('GET', `/v1/automations/${id}/runs?limit=1`)).body.data;
    await tick(HOUR);
    expect(delivered()).toHaveLength(30);
    await sql`DELETE FROM automation_step_executions WHERE run_id = ${victim.id} AND step >= 3`.execute(
      t.container.db,
    );
    await sql`UPDATE automation_runs SET step = 2, node = 'two', status = 'active', exit_reason = NULL,
      finished_at = NULL, next_run_at = ${t.clock.now()} WHERE id = ${victim.id}`.execute(t.container.db);
    await tick();
    expect(delivered()).toEqual([]);
    const replayed = await call('GET', `/v1/automations/${id}/runs/${victim.id}`);
    expect(replayed.body.status).toBe('completed');
    expect(replayed.body.steps[2].outcome).toMatchObject({ repeated: true });

    const perStep = await sql<{ key: string; n: string }>`
      SELECT idempotency_key AS key, count(*) AS n FROM messages
      WHERE idempotency_key LIKE ${`automation:%`} GROUP BY idempotency_key HAVING count(*) > 1`.execute(
      t.container.db,
    );
    expect(perStep.rows).toEqual([]);
    const steps = await sql<{ n: string }>`
      SELECT count(*) AS n FROM automation_step_executions s JOIN automation_runs r ON r.id = s.run_id
      WHERE r.automation_id = ${id}`.execute(t.container.db);
    expect(Number(steps.rows[0]?.n)).toBe(30 * 4);
  });
});

describe('triggers from data', () => {
  it('enrols on a matching event, one run per cart, and a purchase between reminders reaches the goal', async () => {
    const definition = example('abandoned-cart');
    const id = await automation('Cart trigger', definition);
    const pia = await contact('pia@example.com');
    const quinn = await contact('quinn@example.com');
    await track(pia, 'Cart Updated', { cart_id: 'p-1', total: 30 });
    await track(pia, 'Cart Updated', { cart_id: 'p-2', total: 12 });
    await track(pia, 'Cart Updated', { cart_id: 'p-3', total: 0 }); // fails the where filter
    await track(pia, 'Cart Updated', { total: 5 }); // names no cart: no instance to enrol
    await track(quinn, 'Cart Updated', { cart_id: 'q-1', total: 8 });
    await tick();
    // The next scans read the same events again (the overlap) and enrol nobody twice.
    await tick(10_000);
    const runs = await call('GET', `/v1/automations/${id}/runs`);
    expect(runs.body.data.map((r: { instance_key: string }) => r.instance_key).sort()).toEqual([
      'p-1',
      'p-2',
      'q-1',
    ]);
    expect(runs.body.data[0].data).toMatchObject({ cart_id: 'p-1', total: 30 });
    await tick(4 * HOUR);
    expect(delivered().sort()).toEqual([
      'pia@example.com: Cart reminder',
      'pia@example.com: Cart reminder',
      'quinn@example.com: Cart reminder',
    ]);
    // Quinn buys between the reminder and the discount; Pia's purchase names one of her carts.
    await tick(HOUR);
    await track(quinn, 'Order Completed', { total: 8 });
    await track(pia, 'Order Completed', { cart_id: 'p-2' });
    await tick();
    await tick(DAY);
    expect(delivered()).toEqual(['pia@example.com: Cart discount']);
    const after = (await call('GET', `/v1/automations/${id}/runs`)).body.data as {
      instance_key: string;
      status: string;
      exit_reason: string;
      id: string;
    }[];
    expect(after.map((r) => `${r.instance_key}:${r.status}:${r.exit_reason}`).sort()).toEqual([
      'p-1:completed:exit',
      'p-2:completed:goal',
      'q-1:completed:goal',
    ]);
    const goalRun = after.find((r) => r.instance_key === 'q-1') as { id: string };
    const steps = (await call('GET', `/v1/automations/${id}/runs/${goalRun.id}`)).body.steps;
    expect(steps[steps.length - 1]).toMatchObject({ node_id: 'purchased', outcome: { goal: true } });
  });

  it('wait_for: the awaited event moves the run on; without it the timeout does', async () => {
    const id = await automation('Wait for a click', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'await',
      nodes: [
        {
          id: 'await',
          type: 'wait_for',
          event: 'Feature Used',
          where: [{ property: 'feature', operator: 'equals', value: 'export' }],
          timeout: { days: 1 },
          next: 'thanks',
          timeout_next: 'nudge',
        },
        { id: 'thanks', type: 'send_email', template: 'A', next: 'done' },
        { id: 'nudge', type: 'send_email', template: 'B', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    const rae = await contact('rae@example.com');
    await contact('sam@example.com');
    await enroll(id, { contact: { id: rae } });
    await enroll(id, { contact: { email: 'sam@example.com' } });
    await tick();
    await tick(HOUR);
    await track(rae, 'Feature Used', { feature: 'import' });
    await tick();
    expect(delivered()).toEqual([]);
    await track(rae, 'Feature Used', { feature: 'export' });
    await tick();
    expect(delivered()).toEqual(['rae@example.com: A']);
    await tick(DAY);
    expect(delivered()).toEqual(['sam@example.com: B']);
  });

  it('enrols new contacts, list confirmations and segment entries', async () => {
    const created = await automation('New contacts', {
      trigger: { type: 'contact_created' },
      start: 'tag',
      nodes: [
        { id: 'tag', type: 'update_contact', add_tags: ['greeted'], next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    const list = await call('POST', '/v1/lists', { name: 'Weekly' });
    const welcome = example('welcome-series');
    welcome.trigger.list_id = list.body.id;
    const confirmed = await automation('Weekly welcome', welcome);
    const segment = await call('POST', '/v1/segments', {
      name: 'Gold',
      definition: { attribute: 'tier', operator: 'equals', value: 'gold' },
    });
    expect(segment.status, JSON.stringify(segment.body)).toBe(201);
    const entered = await automation('Gold entered', {
      trigger: { type: 'segment_entered', segment_id: segment.body.id },
      start: 'done',
      nodes: [{ id: 'done', type: 'exit' }],
    });
    const uma = await contact('uma@example.com');
    await tick();
    expect((await call('GET', `/v1/contacts/${uma}`)).body.tags).toEqual(['greeted']);
    expect(
      (await call('POST', `/v1/lists/${list.body.id}/members`, { contact_ids: [uma] })).status,
    ).toBeLessThan(300);
    await tick();
    expect(delivered()).toEqual(['uma@example.com: Welcome']);
    const at = t.clock.now();
    await sql`INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, source, properties)
      VALUES (${uuidv7(at.getTime())}, ${t.workspaceId}, ${at}, ${at}, 'track', 'segment.entered', ${uma}, ${uuidv7()}, 'herald',
              ${JSON.stringify({ segment_id: segment.body.id })})`.execute(t.container.db);
    await tick();
    for (const [automationId, n] of [
      [created, 1],
      [confirmed, 1],
      [entered, 1],
    ] as const)
      expect(
        (await call('GET', `/v1/automations/${automationId}/runs`)).body.data,
        automationId,
      ).toHaveLength(n);
  });
});

describe('webhooks', () => {
  it('posts signed JSON once per step, retried with backoff after a server error', async () => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    let failNext = true;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.statusCode = failNext ? 503 : 204;
        failNext = false;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const id = await automation('Hook', {
        trigger: { type: 'api' },
        start: 'hook',
        nodes: [
          {
            id: 'hook',
            type: 'webhook',
            url: `http://127.0.0.1:${port}/herald`,
            payload: { kind: 'vip' },
            next: 'done',
          },
          { id: 'done', type: 'exit' },
        ],
      });
      const vic = await contact('vic@example.com');
      const run = await enroll(id, { contact: { id: vic }, data: { plan: 'pro' } });
      await tick();
      expect(received).toHaveLength(1);
      await tick(10 * MINUTE);
      expect(received).toHaveLength(2);
      await tick(DAY);
      expect(received).toHaveLength(2);
      const [first, second] = received as [(typeof received)[0], (typeof received)[0]];
      expect(second.body).toBe(first.body);
      expect(second.headers['herald-delivery']).toBe(`automation:${run.body.run.id}:1`);
      const body = JSON.parse(second.body);
      expect(body).toMatchObject({
        automation: { id, name: 'Hook', version: 1 },
        run: { id: run.body.run.id, step: 1, node: 'hook' },
        contact: { id: vic, email: 'vic@example.com' },
        data: { plan: 'pro' },
        payload: { kind: 'vip' },
      });
      const { secret } = (await call('GET', '/v1/automations/webhook-secret')).body;
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(second.headers['herald-signature'])) ?? [];
      expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${second.body}`).digest('hex'));
      const other = await otherWorkspaceSecret();
      expect(other).not.toBe(secret);
      const done = await call('GET', `/v1/automations/${id}/runs/${run.body.run.id}`);
      expect(done.body).toMatchObject({ status: 'completed', exit_reason: 'exit' });
      expect(done.body.steps[0].outcome).toMatchObject({ webhook: 'queued' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

async function otherWorkspaceSecret() {
  const other = await t.createWorkspace('Hooks elsewhere');
  return (await call('GET', '/v1/automations/webhook-secret', undefined, other.adminKey)).body.secret;
}

describe('tenant isolation and scopes', () => {
  it("never enrols into or shows another workspace's automation", async () => {
    const id = await automation('Mine', {
      trigger: { type: 'api' },
      start: 'done',
      nodes: [{ id: 'done', type: 'exit' }],
    });
    await contact('own@example.com');
    const run = await enroll(id, { contact: { email: 'own@example.com' } });
    const other = await t.createWorkspace('Elsewhere');
    await call('POST', '/v1/contacts', { email: 'own@example.com' }, other.adminKey);
    expect((await enroll(id, { contact: { email: 'own@example.com' } }, other.adminKey)).status).toBe(404);
    expect((await call('GET', `/v1/automations/${id}/runs`, undefined, other.adminKey)).status).toBe(404);
    expect(
      (await call('GET', `/v1/automations/${id}/runs/${run.body.run.id}`, undefined, other.adminKey)).status,
    ).toBe(404);
    const reader = await t.createKey(['automations:read']);
    expect((await enroll(id, { contact: { email: 'own@example.com' } }, reader)).status).toBe(403);
    expect((await call('GET', `/v1/automations/${id}/runs`, undefined, reader)).status).toBe(200);
  });
});
