import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The automation report from a real journey: ten contacts enrolled through
 * the API, emails delivered to a real SMTP server, their pixel and link
 * requested at the public tracking endpoints (one open by Apple's prefetch,
 * which must not count as a person), conversions posted to the public API
 * (one by click id, one by the contact's last click), a goal event through
 * /v1/track and an unsubscribe, with the manual clock moving the waits on.
 */

let t: TestApp;
let sink: SmtpSink;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = new Date('2030-03-04T10:00:00.000Z');
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
/** The bare user agent Apple Mail Privacy Protection prefetches with: a machine (prefetch). */
const APPLE_PREFETCH = 'Mozilla/5.0';

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** Runs everything due: trigger scan (goals), runs, then the message jobs they queued. */
async function tick(ms = 0) {
  if (ms > 0) t.clock.advance(ms);
  for (let i = 0; i < 5; i++) {
    const scanned = await t.container.automationTriggers.scan();
    const steps = await t.container.automationEngine.drain();
    const jobs = await t.container.runner.drain();
    if (steps === 0 && jobs === 0 && scanned.enrolled + scanned.moved === 0) return;
  }
}

/** The tracked pixel and sale link of the email delivered to `email` (the honeypot link is left out). */
async function trackingUrls(email: string): Promise<{ pixel: string; link: string }> {
  const message = sink.messages.find((m) => m.to[0] === email);
  expect(message, `an email to ${email}`).toBeDefined();
  const html = String((await simpleParser(message?.raw as Buffer)).html || '');
  const pixel = /<img src="https:\/\/mail\.shop\.example(\/o\/[A-Za-z0-9_-]+)"/.exec(html)?.[1];
  const visible = /<a href="https:\/\/mail\.shop\.example(\/c\/[A-Za-z0-9_-]+)">Sale<\/a>/.exec(html)?.[1];
  expect(pixel).toBeDefined();
  expect(visible).toBeDefined();
  return { pixel: pixel as string, link: visible as string };
}

async function open(url: string, userAgent = CHROME) {
  const res = await t.app.inject({ method: 'GET', url, headers: { 'user-agent': userAgent } });
  expect(res.statusCode).toBe(200);
}

/** Clicks a tracked link; returns the click id (`hid`) of the redirect. */
async function click(url: string): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url, headers: { 'user-agent': CHROME } });
  expect(res.statusCode).toBe(302);
  return new URL(res.headers.location as string).searchParams.get('hid') as string;
}

const report = (id: string, query = '', key?: string) =>
  call('GET', `/v1/automations/${id}/report${query}`, undefined, key);

function node(body: { nodes: { id: string }[] }, id: string) {
  const found = body.nodes.find((n) => n.id === id);
  expect(found, `node ${id} in the report`).toBeDefined();
  return found as Record<string, unknown>;
}

const zero = { total: 0, unique: 0, human: 0, human_unique: 0 };
const definition = {
  trigger: { type: 'api' },
  sender: { from_email: 'news@shop.example', from_name: 'Shop' },
  goal: { event: 'Order Completed', node: 'purchased' },
  start: 'welcome',
  nodes: [
    { id: 'welcome', type: 'send_email', template: 'Welcome', next: 'plan' },
    {
      id: 'plan',
      type: 'branch',
      branches: [{ condition: { attribute: 'plan', operator: 'equals', value: 'pro' }, next: 'pro_offer' }],
      else: 'wait_1d',
    },
    { id: 'pro_offer', type: 'send_email', template: 'Pro offer', next: 'done' },
    { id: 'wait_1d', type: 'wait', for: { days: 1 }, next: 'reminder' },
    { id: 'reminder', type: 'send_email', template: 'Reminder', next: 'done' },
    { id: 'purchased', type: 'goal' },
    { id: 'done', type: 'exit' },
  ],
};

let automationId: string;
const contacts: string[] = [];

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  t.clock.set(T0);
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  for (const name of ['Welcome', 'Pro offer', 'Reminder']) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name}</p><p><a href="https://shop.example/sale">Sale</a></p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  const created = await call('POST', '/v1/automations', { name: 'Onboarding', definition });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  automationId = created.body.id;
  expect((await call('POST', `/v1/automations/${automationId}/publish`)).status).toBe(201);
  // c0-c2 are on the pro plan and take the first branch; c3-c9 wait a day for the reminder.
  for (let i = 0; i < 10; i++) {
    const res = await call('POST', '/v1/contacts', {
      email: `c${i}@example.com`,
      attributes: { plan: i < 3 ? 'pro' : 'free' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    contacts.push(res.body.id);
    const enrolled = await call('POST', `/v1/automations/${automationId}/enroll`, {
      contact: { id: res.body.id },
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('an automation report from a real journey', () => {
  it('counts runs just enrolled as waiting at the start node', async () => {
    const res = await report(automationId);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.runs).toEqual({
      entered: 10,
      held_out: 0,
      active: 10,
      completed: 0,
      exited: 0,
      failed: 0,
      goal_reached: 0,
    });
    expect(node(res.body, 'welcome')).toMatchObject({
      entered: 10,
      waiting: 10,
      completed: 0,
      executions: 0,
    });
    expect(node(res.body, 'plan')).toMatchObject({ entered: 0, waiting: 0 });
  });

  it('follows the runs through emails, opens, clicks, conversions, a goal and an exit', async () => {
    await tick();
    expect(sink.messages).toHaveLength(13); // 10 welcome, 3 pro offers

    // Ten minutes later (clicks right after delivery are scanners), on the welcome emails:
    t.clock.advance(10 * MINUTE);
    const [c0, c1, c3, c4] = await Promise.all(
      ['c0', 'c1', 'c3', 'c4'].map((c) => trackingUrls(`${c}@example.com`)),
    );
    await open(c0!.pixel);
    const c0Click = await click(c0!.link);
    await open(c1!.pixel);
    await open(c1!.pixel);
    await open(c3!.pixel, APPLE_PREFETCH); // a machine: counts in total and unique, not as a person
    await open(c4!.pixel);
    t.clock.advance(MINUTE);
    await click(c4!.link);
    await t.container.tracking.flush();

    t.clock.advance(HOUR);
    const byClick = await call('POST', '/v1/conversions', {
      click_id: c0Click,
      revenue: '49.90',
      currency: 'EUR',
    });
    expect(byClick.body).toMatchObject({ attribution: 'click_id', campaign_id: null });
    // No click id: the analytics attribution takes c4's last human click, on its welcome email.
    const byLastClick = await call('POST', '/v1/conversions', {
      contact: { id: contacts[4] },
      revenue: '10',
      currency: 'USD',
    });
    expect(byLastClick.body).toMatchObject({ attribution: 'last_click', campaign_id: null });
    // A conversion of someone who never clicked is not the automation's.
    await call('POST', '/v1/conversions', { contact: { id: contacts[9] }, revenue: '5', currency: 'EUR' });

    // c5 buys while waiting (the goal); c6 unsubscribes and leaves at the reminder.
    const track = await call('POST', '/v1/track', {
      event: 'Order Completed',
      anonymousId: 'visitor-5',
      context: { traits: { email: 'c5@example.com' } },
    });
    expect(track.status, JSON.stringify(track.body)).toBe(200);
    expect((await call('PATCH', `/v1/contacts/${contacts[6]}`, { status: 'unsubscribed' })).status).toBe(200);
    await tick();

    const mid = (await report(automationId)).body;
    expect(mid.runs).toEqual({
      entered: 10,
      held_out: 0,
      active: 6,
      completed: 4,
      exited: 0,
      failed: 0,
      goal_reached: 1,
    });
    expect(node(mid, 'wait_1d')).toMatchObject({ entered: 7, waiting: 6, completed: 1 });
    expect(node(mid, 'purchased')).toMatchObject({ entered: 1, completed: 1, goal_reached: 1 });

    await tick(DAY);
    const res = await report(automationId);
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body).toMatchObject({
      automation_id: automationId,
      name: 'Onboarding',
      status: 'active',
      current_version: 1,
      from: null,
      to: null,
      runs: { entered: 10, active: 0, completed: 9, exited: 1, failed: 0, goal_reached: 1 },
      emails: { sent: 18, failed: 0, queued: 0 },
      opens: { total: 5, unique: 4, human: 4, human_unique: 3 },
      clicks: { total: 2, unique: 2, human: 2, human_unique: 2 },
      conversions: {
        count: 2,
        converting_runs: 2,
        revenue: [
          { currency: 'EUR', amount: '49.90', conversions: 1 },
          { currency: 'USD', amount: '10.00', conversions: 1 },
        ],
      },
      rates: {
        open_rate: 0.166667,
        click_rate: 0.111111,
        click_to_open_rate: 0.666667,
        goal_rate: 0.1,
        conversion_rate: 0.2,
      },
    });
    expect(body.nodes.map((n: { id: string }) => n.id)).toEqual(definition.nodes.map((n) => n.id));
    const common = { versions: [1], in_current_version: true, waiting: 0, failed: 0 };
    expect(node(body, 'welcome')).toEqual({
      ...common,
      id: 'welcome',
      type: 'send_email',
      entered: 10,
      completed: 10,
      exited: 0,
      executions: 10,
      email: {
        sent: 10,
        failed: 0,
        queued: 0,
        opens: { total: 5, unique: 4, human: 4, human_unique: 3 },
        clicks: { total: 2, unique: 2, human: 2, human_unique: 2 },
        conversions: body.conversions,
      },
      goal_reached: null,
      paths: null,
    });
    expect(node(body, 'plan')).toEqual({
      ...common,
      id: 'plan',
      type: 'branch',
      entered: 10,
      completed: 10,
      exited: 0,
      executions: 10,
      email: null,
      goal_reached: null,
      paths: [
        { path: '0', next: 'pro_offer', count: 3 },
        { path: 'else', next: 'wait_1d', count: 7 },
      ],
    });
    expect(node(body, 'pro_offer')).toMatchObject({
      entered: 3,
      completed: 3,
      email: {
        sent: 3,
        opens: zero,
        clicks: zero,
        conversions: { count: 0, converting_runs: 0, revenue: [] },
      },
    });
    // c5 left it for the goal, c6 for the reminder, where it exited.
    expect(node(body, 'wait_1d')).toMatchObject({ entered: 7, waiting: 0, completed: 7, email: null });
    expect(node(body, 'reminder')).toMatchObject({
      entered: 6,
      completed: 5,
      exited: 1,
      email: { sent: 5, failed: 0 },
    });
    expect(node(body, 'purchased')).toMatchObject({
      type: 'goal',
      entered: 1,
      completed: 1,
      goal_reached: 1,
    });
    expect(node(body, 'done')).toMatchObject({ type: 'exit', entered: 8, completed: 8, goal_reached: null });
  });

  it('counts only the runs that entered in the from/to window', async () => {
    const at = (ms: number) => encodeURIComponent(new Date(T0.getTime() + ms).toISOString());
    const inside = await report(automationId, `?from=${at(0)}&to=${at(1)}`);
    expect(inside.body).toMatchObject({
      runs: { entered: 10 },
      emails: { sent: 18 },
      conversions: { count: 2 },
    });
    expect(inside.body.from).toBe(T0.toISOString());
    const later = await report(automationId, `?from=${at(1)}`);
    expect(later.body).toMatchObject({
      runs: { entered: 0 },
      emails: { sent: 0 },
      conversions: { count: 0 },
    });
    expect(node(later.body, 'welcome')).toMatchObject({ entered: 0, versions: [] });
    expect((await report(automationId, `?to=${at(0)}`)).body.runs.entered).toBe(0);
    const backwards = await report(automationId, `?from=${at(1)}&to=${at(0)}`);
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([{ path: '/from', message: 'must be before to' }]);
    expect((await report(automationId, '?from=yesterday')).status).toBe(400);
  });

  it("keeps an older version's nodes, marked with their version, after a new one is published", async () => {
    const v2 = structuredClone(definition);
    v2.nodes[2]!.id = 'pro_offer_v2';
    (v2.nodes[1] as { branches: { next: string }[] }).branches[0]!.next = 'pro_offer_v2';
    expect((await call('PATCH', `/v1/automations/${automationId}`, { definition: v2 })).status).toBe(200);
    expect((await call('POST', `/v1/automations/${automationId}/publish`)).status).toBe(201);
    const body = (await report(automationId)).body;
    expect(body.current_version).toBe(2);
    expect(body.nodes.map((n: { id: string }) => n.id)).toEqual([...v2.nodes.map((n) => n.id), 'pro_offer']);
    expect(node(body, 'pro_offer_v2')).toMatchObject({ versions: [], in_current_version: true, entered: 0 });
    expect(node(body, 'pro_offer')).toMatchObject({
      type: 'send_email',
      versions: [1],
      in_current_version: false,
      entered: 3,
      email: { sent: 3 },
    });
    expect(node(body, 'plan').paths).toEqual([
      { path: '0', next: 'pro_offer_v2', count: 3 },
      { path: 'else', next: 'wait_1d', count: 7 },
    ]);
  });
});

describe('empty, unknown and foreign automations', () => {
  it('reports zeros for a draft with no runs, with the nodes of its draft', async () => {
    const draft = await call('POST', '/v1/automations', { name: 'Draft', definition });
    expect(draft.status, JSON.stringify(draft.body)).toBe(201);
    const res = await report(draft.body.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'draft',
      current_version: null,
      runs: { entered: 0, active: 0, completed: 0, exited: 0, failed: 0, goal_reached: 0 },
      emails: { sent: 0, failed: 0, queued: 0 },
      opens: zero,
      clicks: zero,
      conversions: { count: 0, converting_runs: 0, revenue: [] },
      rates: {
        open_rate: null,
        click_rate: null,
        click_to_open_rate: null,
        goal_rate: null,
        conversion_rate: null,
      },
    });
    expect(res.body.nodes).toHaveLength(definition.nodes.length);
    expect(node(res.body, 'welcome')).toMatchObject({ entered: 0, versions: [], email: { sent: 0 } });
    expect(node(res.body, 'plan').paths).toEqual([
      { path: '0', next: 'pro_offer', count: 0 },
      { path: 'else', next: 'wait_1d', count: 0 },
    ]);
  });

  it("answers 404 for an unknown automation and for another workspace's, and needs automations:read", async () => {
    const unknown = await report('00000000-0000-7000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('AUTOMATION_NOT_FOUND');
    const other = await t.createWorkspace('Elsewhere');
    const foreign = await report(automationId, '', other.adminKey);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('AUTOMATION_NOT_FOUND');
    expect((await report(automationId, '', await t.createKey(['automations:read']))).status).toBe(200);
    expect((await report(automationId, '', await t.createKey(['analytics:read']))).status).toBe(403);
  });
});
