import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * POST /v1/automations/:id/simulate: the path, emails and end it reports,
 * that it sends and changes nothing, its errors, and that the engine then
 * really does the same for the same timeline (driven with the manual clock
 * to each due time and each event, as a worker without lag would).
 */

let t: TestApp;
let sink: SmtpSink;
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function contact(email: string, extra: object = {}) {
  const res = await call('POST', '/v1/contacts', { email, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function automation(name: string, definition: object, publish = true) {
  const created = await call('POST', '/v1/automations', { name, definition });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  if (publish) {
    const published = await call('POST', `/v1/automations/${created.body.id}/publish`);
    expect(published.status, JSON.stringify(published.body)).toBe(201);
  }
  return created.body.id as string;
}

async function simulate(id: string, body: object) {
  const res = await call('POST', `/v1/automations/${id}/simulate`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

function example(name: string) {
  return JSON.parse(readFileSync(join(process.cwd(), 'examples', 'automations', `${name}.json`), 'utf8'));
}

interface TimedEvent {
  at: string;
  contactId: string;
  event: string;
  properties?: object;
}

async function insertEvent(e: TimedEvent) {
  const at = new Date(e.at);
  await sql`SELECT herald_events_partition(${e.at.slice(0, 10)}::date)`.execute(t.container.db);
  await sql`INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, properties)
    VALUES (${uuidv7(at.getTime())}, ${t.workspaceId}, ${at}, ${at}, 'track', ${e.event}, ${e.contactId}, ${uuidv7()}, ${JSON.stringify(e.properties ?? {})})`.execute(
    t.container.db,
  );
}

/**
 * Moves the clock to each moment something is due (a run's next step or an
 * event of the timeline) and runs what a worker without lag would: the
 * trigger scan (events first), the runner, the message jobs.
 */
async function drive(events: TimedEvent[], until: Date) {
  const queue = [...events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (let i = 0; i < 500; i++) {
    const due = await t.container.db
      .selectFrom('automation_runs')
      .select((eb) => eb.fn.min('next_run_at').as('at'))
      .where('status', '=', 'active')
      .where('workspace_id', '=', t.workspaceId)
      .executeTakeFirst();
    const candidates = [
      due?.at ? new Date(due.at as Date).getTime() : Infinity,
      Date.parse(queue[0]?.at ?? ''),
    ]
      .filter((n) => !Number.isNaN(n))
      .sort((a, b) => a - b);
    const next = candidates[0] ?? Infinity;
    if (next === Infinity || next > until.getTime()) return;
    if (next > t.clock.now().getTime()) t.clock.set(new Date(next));
    while (queue[0] && Date.parse(queue[0].at) <= t.clock.now().getTime())
      await insertEvent(queue.shift() as TimedEvent);
    await t.container.automationTriggers.scan();
    await t.container.automationEngine.drain();
    await t.container.runner.drain();
  }
  throw new Error('the engine did not settle');
}

const subjectOf = (raw: Buffer) => /^Subject: (.*)$/im.exec(raw.toString('utf8'))?.[1]?.trim();

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  for (const name of [
    'Welcome',
    'Getting started',
    'Tips and tricks',
    'Pro',
    'Free',
    'Cart reminder',
    'Cart discount',
  ]) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name} for {{ contact.email }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('simulating the abandoned cart', () => {
  it('reports both reminders without a purchase, and the goal with one, sending and changing nothing', async () => {
    t.clock.set(new Date('2026-12-02T10:00:00Z'));
    const id = await automation('Abandoned cart', example('abandoned-cart'));
    const ivy = await contact('ivy@example.com');
    const start = '2026-12-02T10:00:00.000Z';

    const abandoned = await simulate(id, {
      contact: { id: ivy },
      start_at: start,
      instance_key: 'cart-7',
      data: { cart_id: 'cart-7', total: 40 },
    });
    expect(
      abandoned.emails.map((e: { node: string; at: string; template_name: string }) => [
        e.node,
        e.at,
        e.template_name,
      ]),
    ).toEqual([
      ['reminder', '2026-12-02T14:00:00.000Z', 'Cart reminder'],
      ['discount', '2026-12-03T14:00:00.000Z', 'Cart discount'],
    ]);
    expect(abandoned.steps.map((s: { node: string }) => s.node)).toEqual([
      'wait_4h',
      'check',
      'reminder',
      'wait_1d',
      'discount',
      'done',
    ]);
    expect(abandoned.steps[1].outcome).toEqual({ branch: 'else' });
    expect(abandoned.end).toMatchObject({
      status: 'completed',
      reason: 'exit',
      node: 'done',
      at: '2026-12-03T14:00:00.000Z',
    });

    // A purchase between the reminder and the discount: the goal ends it there.
    const bought = await simulate(id, {
      contact: { id: ivy },
      start_at: start,
      instance_key: 'cart-7',
      timeline: [{ at: '2026-12-03T09:30:00Z', event: 'Order Completed', properties: { cart_id: 'cart-7' } }],
    });
    expect(bought.emails.map((e: { node: string }) => e.node)).toEqual(['reminder']);
    expect(bought.end).toMatchObject({
      status: 'completed',
      reason: 'goal',
      node: 'purchased',
      at: '2026-12-03T09:30:00.000Z',
    });
    // An order for another cart is not this run's goal.
    const other = await simulate(id, {
      contact: { id: ivy },
      start_at: start,
      instance_key: 'cart-7',
      timeline: [{ at: '2026-12-03T09:30:00Z', event: 'Order Completed', properties: { cart_id: 'cart-8' } }],
    });
    expect(other.emails.map((e: { node: string }) => e.node)).toEqual(['reminder', 'discount']);

    // A purchase within the first four hours: the branch (a segment condition over the timeline's events) would
    // also see it, but the goal comes first.
    const early = await simulate(id, {
      sample: { email: 'sample@example.com', timezone: 'Europe/Berlin' },
      start_at: start,
      instance_key: 'c',
      timeline: [{ at: '2026-12-02T11:00:00Z', event: 'Order Completed' }],
    });
    expect(early).toMatchObject({ contact: { id: null, sample: true }, emails: [], end: { reason: 'goal' } });

    // Nothing was sent, written or left behind.
    await t.container.runner.drain();
    expect(sink.messages).toHaveLength(0);
    const counts = await sql<{ runs: string; messages: string; events: string; contacts: string }>`
      SELECT (SELECT count(*) FROM automation_runs) AS runs, (SELECT count(*) FROM messages) AS messages,
             (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM contacts WHERE email = 'sample@example.com') AS contacts`.execute(
      t.container.db,
    );
    expect(counts.rows[0]).toEqual({ runs: '0', messages: '0', events: '0', contacts: '0' });
  });
});

describe('simulation and engine', () => {
  it('take the same steps at the same times and send the same emails, across time zones and quiet hours', async () => {
    const start = '2026-12-02T23:00:00.000Z'; // a Wednesday: 18:00 in New York, 08:00 Thursday in Tokyo, midnight in Berlin
    t.clock.set(new Date(start));
    const policy = await call('PATCH', '/v1/workspace', {
      timezone: 'Europe/Berlin',
      sending_policy: { quiet_hours: { start: '21:00', end: '08:00' } },
    });
    expect(policy.status).toBe(200);
    const id = await automation('Onboarding', {
      trigger: { type: 'api' },
      sender: SENDER,
      goal: { event: 'Order Completed', node: 'bought' },
      start: 'welcome',
      nodes: [
        { id: 'welcome', type: 'send_email', template: 'Welcome', next: 'signin' },
        {
          id: 'signin',
          type: 'wait_for',
          event: 'Signed In',
          where: [{ property: 'device', operator: 'equals', value: 'app' }],
          timeout: { days: 2 },
          next: 'tag',
          timeout_next: 'nudge',
        },
        { id: 'nudge', type: 'send_email', template: 'Getting started', next: 'monday' },
        { id: 'tag', type: 'update_contact', set_attributes: { plan: 'pro' }, next: 'monday' },
        { id: 'monday', type: 'wait', until: { weekdays: ['mon'], hour: 9 }, next: 'which' },
        {
          id: 'which',
          type: 'branch',
          branches: [{ condition: { attribute: 'plan', operator: 'equals', value: 'pro' }, next: 'pro' }],
          else: 'free',
        },
        { id: 'pro', type: 'send_email', template: 'Pro', next: 'later' },
        { id: 'free', type: 'send_email', template: 'Free', next: 'later' },
        { id: 'later', type: 'wait', for: { days: 3 }, next: 'tips' },
        { id: 'tips', type: 'send_email', template: 'Tips and tricks', next: 'done' },
        { id: 'bought', type: 'goal' },
        { id: 'done', type: 'exit' },
      ],
    });
    const people = {
      nora: await contact('nora@example.com', { timezone: 'America/New_York' }),
      taro: await contact('taro@example.com', { timezone: 'Asia/Tokyo' }),
      berta: await contact('berta@example.com'), // the workspace's zone: Berlin
    };
    const timelines: Record<keyof typeof people, { at: string; event: string; properties?: object }[]> = {
      // Signs in on the web first (does not count), then in the app.
      nora: [
        { at: '2026-12-03T12:00:00Z', event: 'Signed In', properties: { device: 'web' } },
        { at: '2026-12-03T15:00:00Z', event: 'Signed In', properties: { device: 'app' } },
      ],
      taro: [],
      berta: [{ at: '2026-12-05T10:00:00Z', event: 'Order Completed' }],
    };
    const until = new Date('2026-12-20T00:00:00Z');

    const simulations: Record<string, Awaited<ReturnType<typeof simulate>>> = {};
    for (const [name, contactId] of Object.entries(people))
      simulations[name] = await simulate(id, {
        contact: { id: contactId },
        start_at: start,
        until: until.toISOString(),
        timeline: timelines[name as keyof typeof people],
      });
    // What the simulation says, in words: Nora signs in in the app and is pro by Monday 09:00 New York; Taro
    // never signs in, is nudged, and is free; quiet hours hold Berta's welcome until 08:00 in Berlin.
    const emailsOf = (name: string) =>
      simulations[name]?.emails.map(
        (e: { template_name: string; at: string }) => `${e.template_name} ${e.at}`,
      );
    expect(emailsOf('nora')).toEqual([
      'Welcome 2026-12-02T23:00:00.000Z',
      'Pro 2026-12-07T14:00:00.000Z',
      'Tips and tricks 2026-12-10T14:00:00.000Z',
    ]);
    expect(emailsOf('taro')).toEqual([
      'Welcome 2026-12-02T23:00:00.000Z',
      'Getting started 2026-12-04T23:00:00.000Z',
      'Free 2026-12-07T00:00:00.000Z',
      'Tips and tricks 2026-12-10T00:00:00.000Z',
    ]);
    // Berta is nudged at 08:00 on Saturday (Berlin) and orders two hours later, while waiting for Monday.
    expect(emailsOf('berta')).toEqual([
      'Welcome 2026-12-03T07:00:00.000Z',
      'Getting started 2026-12-05T07:00:00.000Z',
    ]);
    expect(simulations.berta?.end).toMatchObject({ status: 'completed', reason: 'goal' });
    expect(simulations.berta?.steps[0].outcome).toMatchObject({ deferred: 'quiet_hours' });
    // The simulation's update_contact changed nothing for real.
    expect((await call('GET', `/v1/contacts/${people.nora}`)).body.attributes).toEqual({});

    // Now for real, with the same timelines.
    const runs: Record<string, string> = {};
    for (const [name, contactId] of Object.entries(people)) {
      const res = await call('POST', `/v1/automations/${id}/enroll`, { contact: { id: contactId } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      runs[name] = res.body.run.id;
    }
    await drive(
      Object.entries(timelines).flatMap(([name, items]) =>
        items.map((item) => ({ ...item, contactId: people[name as keyof typeof people] })),
      ),
      until,
    );
    const received = sink.messages.map((m) => `${m.to[0]}: ${subjectOf(m.raw)}`).sort();
    const predicted = Object.entries(simulations)
      .flatMap(([name, s]) =>
        s.emails.map((e: { template_name: string }) => `${name}@example.com: ${e.template_name}`),
      )
      .sort();
    expect(received).toEqual(predicted);
    for (const [name, runId] of Object.entries(runs)) {
      const run = (await call('GET', `/v1/automations/${id}/runs/${runId}`)).body;
      const simulation = simulations[name];
      const real = run.steps.map((s: { step: number; node_id: string; executed_at: string }) => [
        s.step,
        s.node_id,
        s.executed_at,
      ]);
      const simulated = simulation.steps.map((s: { step: number; node: string; at: string }) => [
        s.step,
        s.node,
        s.at,
      ]);
      expect(real, name).toEqual(simulated);
      expect({ status: run.status, reason: run.exit_reason, node: run.node }, name).toEqual({
        status: simulation.end.status,
        reason: simulation.end.reason,
        node: simulation.end.node,
      });
      // Branch, wait, timeout and deferral outcomes agree too (where the engine names message and event
      // ids, the simulation names the email and the event).
      for (const [i, s] of simulation.steps.entries())
        if (!['email', 'event', 'goal'].some((k) => k in s.outcome))
          expect(run.steps[i].outcome, `${name} step ${s.step}`).toMatchObject(s.outcome);
    }
    await call('PATCH', '/v1/workspace', {
      sending_policy: { frequency_caps: { per_day: null, per_week: null }, quiet_hours: null },
    });
  });
});

describe('bad simulations', () => {
  it('are refused with what is wrong', async () => {
    const id = await automation('Cart for errors', example('abandoned-cart'));
    const draftOnly = await automation('Never published', example('abandoned-cart'), false);
    const zed = await contact('zed@example.com');
    const cases: [object, number, string][] = [
      [{}, 400, '/contact'],
      [{ contact: { id: zed }, sample: {} }, 400, '/contact'],
      [{ contact: { email: 'nobody@example.com' } }, 404, '/contact/email'],
      [{ sample: {}, start_at: '2026-12-02 10:00' }, 400, '/start_at'],
      [
        {
          sample: {},
          start_at: '2026-12-02T10:00:00Z',
          timeline: [{ at: '2026-12-01T10:00:00Z', event: 'X' }],
        },
        400,
        '/timeline/0/at',
      ],
      [{ sample: {}, timeline: [{ at: '2030-01-01T00:00:00Z' }] }, 400, '/timeline/0'],
      [
        { sample: {}, timeline: [{ at: '2030-01-01T00:00:00Z', event: 'X', engagement: 'opened' }] },
        400,
        '/timeline/0',
      ],
      [{ sample: {}, start_at: '2026-12-02T10:00:00Z', until: '2029-12-02T10:00:00Z' }, 400, '/until'],
      [{ sample: {}, version: 7 }, 404, '/version'],
    ];
    for (const [body, status, path] of cases) {
      const res = await call('POST', `/v1/automations/${id}/simulate`, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(JSON.stringify(res.body.errors ?? res.body), JSON.stringify(body)).toContain(path);
    }
    const unpublished = await call('POST', `/v1/automations/${draftOnly}/simulate`, { sample: {} });
    expect(unpublished.status).toBe(409);
    expect(unpublished.body.detail).toContain('draft');
    const draft = await call('POST', `/v1/automations/${draftOnly}/simulate`, {
      sample: {},
      version: 'draft',
      instance_key: 'c',
    });
    expect(draft.status, JSON.stringify(draft.body)).toBe(200);
    expect(draft.body.emails).toHaveLength(2);

    // A draft that would not publish names the node.
    const broken = example('abandoned-cart');
    broken.nodes[2].template = 'No such template';
    await call('PATCH', `/v1/automations/${draftOnly}`, { definition: broken });
    const refused = await call('POST', `/v1/automations/${draftOnly}/simulate`, {
      sample: {},
      version: 'draft',
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]).toMatchObject({ node: 'reminder' });

    const unknown = await call('POST', `/v1/automations/${uuidv7()}/simulate`, { sample: {} });
    expect(unknown.status).toBe(404);
    const other = await t.createWorkspace('Elsewhere');
    const foreign = await call('POST', `/v1/automations/${id}/simulate`, { sample: {} }, other.adminKey);
    expect(foreign.status).toBe(404);
    const reader = await t.createKey(['contacts:read']);
    expect((await call('POST', `/v1/automations/${id}/simulate`, { sample: {} }, reader)).status).toBe(403);
  });
});
