import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignSender } from '../../src/modules/campaigns/index.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Throttles and warm-up caps while sending, with the manual clock and a real
 * SMTP server: campaign recipients over a limit stay queued until their
 * window opens (across two senders on one database), automation emails wait
 * at their node, transactional messages go at once and are counted, and a
 * warm-up cap follows the workspace's days.
 */

let t: TestApp;
let sink: SmtpSink;
let transportId: string;
const MINUTE = 60_000;
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };
const templates: Record<string, string> = {};

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** Delivered recipients, sorted; clears the sink. */
function delivered(): string[] {
  const out = sink.messages.map((m) => m.to[0] as string);
  sink.messages.length = 0;
  return out.sort();
}

/** Moves the clock and runs everything due: campaigns, automation runs, the message jobs they queued. */
async function tick(ms = 0) {
  if (ms > 0) t.clock.advance(ms);
  for (let i = 0; i < 5; i++) {
    const sent = await t.container.sender.drain();
    const steps = await t.container.automationEngine.drain();
    const jobs = await t.container.runner.drain();
    if (sent === 0 && steps === 0 && jobs === 0) return;
  }
}

async function listOf(name: string, emails: string[]) {
  const list = (await call('POST', '/v1/lists', { name, opt_in: 'single' })).body.id as string;
  const added = await call('POST', `/v1/lists/${list}/members`, { emails });
  expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
  return list;
}

async function createCampaign(name: string, list: string) {
  const campaign = await call('POST', '/v1/campaigns', {
    name,
    ...SENDER,
    template_id: templates.News,
    lists: [list],
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  return campaign.body.id as string;
}

async function start(campaignId: string) {
  const started = await call('POST', `/v1/campaigns/${campaignId}/send`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
}

async function ledger(campaignId: string) {
  return t.container.db
    .selectFrom('campaign_sends as s')
    .innerJoin('contacts as c', 'c.id', 's.contact_id')
    .select(['c.email', 's.status', 's.attempts'])
    .where('s.campaign_id', '=', campaignId)
    .orderBy('c.email')
    .execute();
}

const yahoo = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i + 1}@${i === 0 ? 'aol.com' : 'yahoo.com'}`);

let ruleId: string;
beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  transportId = (await t.addSinkTransport(sink, { name: 'Sink' })).id;
  for (const name of ['News', 'Hello', 'Receipt']) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name} for {{ contact.email }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    templates[name] = res.body.id;
  }
  // The yahoo group (yahoo.*, ymail.com, aol.com): two messages per clock minute, all transports.
  const rule = await call('POST', '/v1/throttles', { providers: ['yahoo'], per_minute: 2 });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
  ruleId = rule.body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('a per-minute throttle on a campaign', () => {
  it('lets two a minute reach the yahoo group while other domains flow, until everyone has one message', async () => {
    t.clock.set(new Date('2026-12-02T12:00:10Z'));
    const group = yahoo('y', 5);
    const others = ['ann@example.com', 'bob@example.net', 'cy@example.org'];
    const campaign = await createCampaign('Yahoo limited', await listOf('Mixed', [...group, ...others]));
    await start(campaign);
    await tick();
    const first = delivered();
    expect(first.filter((e) => others.includes(e))).toEqual(others);
    expect(first.filter((e) => group.includes(e))).toHaveLength(2);
    const waiting = await call('GET', `/v1/campaigns/${campaign}`);
    expect(waiting.body).toMatchObject({ status: 'sending', progress: { sent: 5, failed: 0 } });

    const rule = await call('GET', `/v1/throttles/${ruleId}`);
    expect(rule.body.usage.per_minute).toMatchObject({
      limit: 2,
      used: 2,
      window_start: '2026-12-02T12:00:00.000Z',
      resets_at: '2026-12-02T12:01:00.000Z',
    });

    // Nothing more in the same minute; the next two minutes release two, then the last one.
    await tick(40_000);
    expect(delivered()).toEqual([]);
    await tick(10_000); // 12:01:00
    const second = delivered();
    await tick(MINUTE); // 12:02:00
    const third = delivered();
    expect([second.length, third.length]).toEqual([2, 1]);
    expect([...first, ...second, ...third].sort()).toEqual([...group, ...others].sort());

    const done = await call('GET', `/v1/campaigns/${campaign}`);
    expect(done.body).toMatchObject({ status: 'sent', progress: { sent: 8, failed: 0 } });
    // Waiting was never counted as an attempt.
    for (const row of await ledger(campaign)) expect(row).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('holds across two senders sharing the campaign', async () => {
    t.clock.set(new Date('2026-12-02T13:00:05Z'));
    const group = yahoo('z', 7);
    const campaign = await createCampaign('Two senders', await listOf('Yahoo only', group));
    await start(campaign);
    const second = createCampaignSender({
      db: t.container.db,
      clock: t.clock,
      logger: pino({ level: 'silent' }),
      campaigns: t.container.campaigns,
      ports: t.container.sendingPorts,
      throttle: t.container.throttling.forCampaigns,
      workerId: 'second-worker',
      batchSize: 1,
    });
    const perMinute: number[] = [];
    for (let minute = 0; minute < 4; minute++) {
      if (minute > 0) t.clock.advance(MINUTE);
      await Promise.all([t.container.sender.drain(), second.drain()]);
      perMinute.push(delivered().length);
    }
    expect(perMinute).toEqual([2, 2, 2, 1]);
    const rows = await ledger(campaign);
    expect(rows.map((r) => r.status)).toEqual(Array(7).fill('sent'));
    expect((await call('GET', `/v1/campaigns/${campaign}`)).body.status).toBe('sent');
  });
});

describe('other mail under the same limit', () => {
  it('sends a transactional message although the minute is used up, and counts it', async () => {
    t.clock.set(new Date('2026-12-02T14:00:00Z'));
    const campaign = await createCampaign('Fills the minute', await listOf('Three', yahoo('t', 3)));
    await start(campaign);
    await tick();
    expect(delivered()).toHaveLength(2);

    const receipt = await call('POST', '/v1/messages', {
      to: 'buyer@yahoo.com',
      template_id: templates.Receipt,
      ...SENDER,
    });
    expect(receipt.status, JSON.stringify(receipt.body)).toBe(202);
    await tick();
    expect(delivered()).toEqual(['buyer@yahoo.com']);
    const rule = await call('GET', `/v1/throttles/${ruleId}`);
    expect(rule.body.usage.per_minute).toMatchObject({ limit: 2, used: 3 });

    await tick(MINUTE);
    expect(delivered()).toEqual(['t3@yahoo.com']);
  });

  it('keeps an automation email waiting at its node until the window opens', async () => {
    t.clock.set(new Date('2026-12-02T15:00:00Z'));
    const created = await call('POST', '/v1/automations', {
      name: 'Welcome',
      definition: {
        trigger: { type: 'api' },
        start: 'hello',
        sender: SENDER,
        nodes: [
          { id: 'hello', type: 'send_email', template: 'Hello', next: 'done' },
          { id: 'done', type: 'exit' },
        ],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const automation = created.body.id as string;
    expect((await call('POST', `/v1/automations/${automation}/publish`)).status).toBe(201);
    const runs: string[] = [];
    for (const email of ['w1@yahoo.com', 'w2@yahoo.com', 'w3@yahoo.com']) {
      expect((await call('POST', '/v1/contacts', { email })).status).toBe(201);
      const res = await call('POST', `/v1/automations/${automation}/enroll`, { contact: { email } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      runs.push(res.body.run.id);
    }
    await tick();
    const first = delivered();
    expect(first).toHaveLength(2);
    const outcomes = await Promise.all(
      runs.map(async (id) => (await call('GET', `/v1/automations/${automation}/runs/${id}`)).body),
    );
    const held = outcomes.find((run) => run.steps.at(-1)?.outcome?.deferred === 'throttle');
    expect(held?.status).toBe('active');
    expect(held?.steps.at(-1).outcome).toEqual({ deferred: 'throttle', until: '2026-12-02T15:01:00.000Z' });

    // A simulation neither waits for the throttle nor uses its budget.
    const simulated = await call('POST', `/v1/automations/${automation}/simulate`, {
      sample: { email: 'sim@yahoo.com' },
    });
    expect(simulated.status, JSON.stringify(simulated.body)).toBe(200);
    expect(simulated.body.emails).toHaveLength(1);
    expect(simulated.body.steps[0].outcome).not.toHaveProperty('deferred');
    expect((await call('GET', `/v1/throttles/${ruleId}`)).body.usage.per_minute.used).toBe(2);

    await tick(MINUTE);
    const rest = ['w1@yahoo.com', 'w2@yahoo.com', 'w3@yahoo.com'].filter((e) => !first.includes(e));
    expect(delivered()).toEqual(rest);
    const after = await call('GET', `/v1/automations/${automation}/runs/${held?.id}`);
    expect(after.body.status).toBe('completed');
  });
});

describe('a warm-up schedule', () => {
  it("caps each day in the workspace's time zone, and the campaign finishes on a later day", async () => {
    // 18:30 on 3 December in New York (23:30 UTC): UTC's next day starts half an hour before New York's.
    t.clock.set(new Date('2026-12-03T23:30:00Z'));
    expect((await call('PATCH', '/v1/workspace', { timezone: 'America/New_York' })).status).toBe(200);
    const schedule = await call('POST', '/v1/warmup-schedules', {
      name: 'New relay',
      transport_id: transportId,
      daily_caps: [2, 3],
    });
    expect(schedule.status, JSON.stringify(schedule.body)).toBe(201);
    expect(schedule.body).toMatchObject({ start_date: '2026-12-03', caps: [2, 3] });

    const emails = ['a@example.org', 'b@example.org', 'c@example.org', 'd@example.org', 'e@example.org'];
    const campaign = await createCampaign('Warming', await listOf('Warm', emails));
    await start(campaign);
    await tick();
    expect(delivered()).toHaveLength(2);
    const status = await call('GET', `/v1/warmup-schedules/${schedule.body.id}`);
    expect(status.body.status).toMatchObject({
      state: 'warming',
      day: 1,
      today: '2026-12-03',
      today_cap: 2,
      used_today: 2,
      remaining_today: 0,
      day_ends_at: '2026-12-04T05:00:00.000Z',
      ends_on: '2026-12-05',
    });

    await tick(45 * MINUTE); // 00:15 UTC: a new day in UTC, still 3 December in New York
    expect(delivered()).toEqual([]);
    await tick(4 * 60 * MINUTE + 45 * MINUTE); // 05:00 UTC: midnight in New York, day 2
    expect(delivered()).toHaveLength(3);
    const done = await call('GET', `/v1/campaigns/${campaign}`);
    expect(done.body).toMatchObject({ status: 'sent', progress: { sent: 5 } });
    expect(new Date(done.body.finished_at).getTime()).toBeGreaterThanOrEqual(
      Date.parse('2026-12-04T05:00:00Z'),
    );
    const dayTwo = await call('GET', `/v1/warmup-schedules/${schedule.body.id}`);
    expect(dayTwo.body.status).toMatchObject({ day: 2, today_cap: 3, used_today: 3, remaining_today: 0 });
    expect((await call('DELETE', `/v1/warmup-schedules/${schedule.body.id}`)).status).toBe(204);
    // Counters of windows that ended days ago are pruned by the hourly job.
    t.clock.advance(3 * 24 * 60 * MINUTE);
    expect(await t.container.throttling.prune()).toBeGreaterThan(0);
    const left = await t.container.db.selectFrom('throttle_counters').select('window_start').execute();
    for (const row of left)
      expect(row.window_start.getTime()).toBeGreaterThan(t.clock.now().getTime() - 2 * 24 * 60 * MINUTE);
  });
});
