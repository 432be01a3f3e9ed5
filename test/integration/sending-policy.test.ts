import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The workspace's sending policy through the API, the campaign sender and
 * the automation engine together, with the manual clock and a real SMTP
 * server: caps count campaign and automation email alike (transactional is
 * exempt), and quiet hours hold marketing email until the contact's morning.
 */

let t: TestApp;
let sink: SmtpSink;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };
const NO_POLICY = { frequency_caps: { per_day: null, per_week: null }, quiet_hours: null };

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

/** Delivered mail as "to: subject", in order; clears the sink. */
function delivered(): string[] {
  const out = sink.messages.map((m) => {
    const subject = /^Subject: (.*)$/im.exec(m.raw.toString('utf8'))?.[1]?.trim();
    return `${m.to[0]}: ${subject}`;
  });
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

async function setPolicy(patch: object) {
  const res = await call('PATCH', '/v1/workspace', patch);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function listWith(name: string, contacts: { email: string; timezone?: string }[]) {
  const list = (await call('POST', '/v1/lists', { name, opt_in: 'single' })).body.id as string;
  const ids: string[] = [];
  for (const c of contacts) {
    const res = await call('POST', '/v1/contacts', c);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    ids.push(res.body.id);
  }
  const added = await call('POST', `/v1/lists/${list}/members`, { contact_ids: ids });
  expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
  return { list, ids };
}

async function sendCampaign(name: string, list: string) {
  const campaign = await call('POST', '/v1/campaigns', {
    name,
    ...SENDER,
    template_id: templates.News,
    lists: [list],
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  return campaign.body.id as string;
}

async function sendStatus(campaignId: string) {
  const rows = await t.container.db
    .selectFrom('campaign_sends as s')
    .innerJoin('contacts as c', 'c.id', 's.contact_id')
    .select(['c.email', 's.status', 's.error'])
    .where('s.campaign_id', '=', campaignId)
    .orderBy('c.email')
    .execute();
  return rows.map((r) => `${r.email}: ${r.status}${r.error ? ` (${r.error.split(':')[0]})` : ''}`);
}

async function welcomeAutomation(kind: 'marketing' | 'transactional' = 'marketing') {
  const definition = {
    trigger: { type: 'api' },
    start: 'hello',
    sender: SENDER,
    nodes: [
      { id: 'hello', type: 'send_email', template: 'Hello', kind, next: 'done' },
      { id: 'done', type: 'exit' },
    ],
  };
  const created = await call('POST', '/v1/automations', {
    name: `Hello ${kind} ${Math.random()}`,
    definition,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const published = await call('POST', `/v1/automations/${created.body.id}/publish`);
  expect(published.status, JSON.stringify(published.body)).toBe(201);
  return created.body.id as string;
}

async function enroll(automationId: string, email: string) {
  const res = await call('POST', `/v1/automations/${automationId}/enroll`, { contact: { email } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.run.id as string;
}

async function lastOutcome(automationId: string, runId: string) {
  const run = await call('GET', `/v1/automations/${automationId}/runs/${runId}`);
  expect(run.status, JSON.stringify(run.body)).toBe(200);
  return run.body.steps.at(-1)?.outcome;
}

const templates: Record<string, string> = {};
beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
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
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});
beforeEach(async () => {
  await setPolicy({ timezone: 'UTC', sending_policy: NO_POLICY });
  await tick();
  sink.messages.length = 0;
});

describe('the sending policy setting', () => {
  it('starts with none, is changed by an admin key, and keeps fields left out', async () => {
    const start = await call('GET', '/v1/workspace');
    expect(start.body).toMatchObject({ timezone: 'UTC', sending_policy: NO_POLICY });

    const changed = await setPolicy({
      timezone: 'Europe/Berlin',
      sending_policy: { frequency_caps: { per_day: 2 }, quiet_hours: { start: '21:00', end: '08:00' } },
    });
    expect(changed).toMatchObject({
      timezone: 'Europe/Berlin',
      sending_policy: {
        frequency_caps: { per_day: 2, per_week: null },
        quiet_hours: { start: '21:00', end: '08:00' },
      },
    });
    const weekly = await setPolicy({ sending_policy: { frequency_caps: { per_week: 5 } } });
    expect(weekly.sending_policy).toEqual({
      frequency_caps: { per_day: 2, per_week: 5 },
      quiet_hours: { start: '21:00', end: '08:00' },
    });
    expect((await call('GET', '/v1/workspace')).body).toEqual(weekly);

    const reader = await t.createKey(['contacts:read', 'campaigns:write']);
    const refused = await call('PATCH', '/v1/workspace', { timezone: 'UTC' }, reader);
    expect(refused.status).toBe(403);
  });

  it('refuses bad values with every reason and changes nothing', async () => {
    await setPolicy({ sending_policy: { frequency_caps: { per_day: 3 } } });
    const before = (await call('GET', '/v1/workspace')).body;
    const bad = await call('PATCH', '/v1/workspace', {
      timezone: 'Mars/Olympus_Mons',
      sending_policy: { quiet_hours: { start: '22:00', end: '22:00' } },
    });
    expect(bad.status, JSON.stringify(bad.body)).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      '/sending_policy/quiet_hours',
      '/timezone',
    ]);
    expect(JSON.stringify(bad.body)).toContain('Mars/Olympus_Mons');
    for (const body of [
      { sending_policy: { frequency_caps: { per_day: 0 } } },
      { sending_policy: { frequency_caps: { per_week: 1.5 } } },
      { sending_policy: { quiet_hours: { start: '9pm', end: '08:00' } } },
      { sending_policy: { quiet_hours: { start: '24:00', end: '08:00' } } },
      { sending_policy: { caps: 1 } },
    ]) {
      const res = await call('PATCH', '/v1/workspace', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call('GET', '/v1/workspace')).body).toEqual(before);
  });
});

describe('frequency caps', () => {
  it('count campaign and automation email together, per 24 hours and per 7 days; transactional is exempt', async () => {
    t.clock.set(new Date('2026-12-02T12:00:00Z'));
    await setPolicy({ sending_policy: { frequency_caps: { per_day: 1, per_week: 2 } } });
    const { list } = await listWith('Capped', [{ email: 'ann@example.com' }, { email: 'bob@example.com' }]);
    const hello = await welcomeAutomation();

    // Wednesday 12:00: a campaign reaches both.
    const first = await sendCampaign('Wednesday news', list);
    await tick();
    expect(delivered()).toEqual(['ann@example.com: News', 'bob@example.com: News']);

    // 13:00: Ann enters the automation; its email waits until her campaign email is 24 hours old.
    await tick(HOUR);
    const run = await enroll(hello, 'ann@example.com');
    await tick();
    expect(delivered()).toEqual([]);
    const outcome = await lastOutcome(hello, run);
    expect(outcome).toMatchObject({ deferred: 'frequency_cap', cap: 'per_day' });
    const campaignSentAt = (
      await t.container.db
        .selectFrom('campaign_sends')
        .select('finished_at')
        .where('campaign_id', '=', first)
        .executeTakeFirstOrThrow()
    ).finished_at as Date;
    expect(new Date(outcome.until).getTime()).toBe(campaignSentAt.getTime() + 24 * HOUR);

    // A receipt is transactional: not held, not counted.
    const receipt = await call('POST', '/v1/messages', {
      to: 'ann@example.com',
      template_id: templates.Receipt,
      ...SENDER,
    });
    expect(receipt.status, JSON.stringify(receipt.body)).toBe(202);
    await tick();
    expect(delivered()).toEqual(['ann@example.com: Receipt']);

    await tick(22 * HOUR + 59 * MINUTE); // Thursday 11:59
    expect(delivered()).toEqual([]);
    await tick(2 * MINUTE); // Thursday 12:01
    expect(delivered()).toEqual(['ann@example.com: Hello']);

    // Thursday 12:30: the second campaign skips Ann (the automation email is 29 minutes old), reaches Bob.
    await tick(29 * MINUTE);
    const second = await sendCampaign('Thursday news', list);
    await tick();
    expect(delivered()).toEqual(['bob@example.com: News']);
    expect(await sendStatus(second)).toEqual([
      'ann@example.com: skipped (frequency_cap)',
      'bob@example.com: sent',
    ]);
    expect((await call('GET', `/v1/campaigns/${second}`)).body).toMatchObject({ status: 'sent' });

    // Saturday: a day has passed for both, but both have had two this week.
    await tick(2 * 24 * HOUR);
    const third = await sendCampaign('Saturday news', list);
    await tick();
    expect(delivered()).toEqual([]);
    expect(await sendStatus(third)).toEqual([
      'ann@example.com: skipped (frequency_cap)',
      'bob@example.com: skipped (frequency_cap)',
    ]);

    // Transactional automation email is exempt as well.
    const receipts = await welcomeAutomation('transactional');
    await enroll(receipts, 'bob@example.com');
    await tick();
    expect(delivered()).toEqual(['bob@example.com: Hello']);
  });
});

describe('quiet hours', () => {
  it("hold automation and campaign email until the end of the night in each contact's time zone", async () => {
    // Thursday 02:30 UTC: 21:30 on Wednesday in New York, 03:30 in Berlin.
    t.clock.set(new Date('2026-12-10T02:30:00Z'));
    await setPolicy({
      timezone: 'Europe/Berlin',
      sending_policy: { quiet_hours: { start: '21:00', end: '08:00' } },
    });
    const { list } = await listWith('Night owls', [
      { email: 'carl@example.com', timezone: 'America/New_York' },
      { email: 'dora@example.com' }, // no zone: the workspace's (Berlin)
      { email: 'emil@example.com', timezone: 'Asia/Tokyo' }, // 11:30 there: allowed
    ]);
    const hello = await welcomeAutomation();
    const carl = await enroll(hello, 'carl@example.com');
    await enroll(hello, 'dora@example.com');
    await enroll(hello, 'emil@example.com');
    const campaign = await sendCampaign('Night news', list);
    await tick();
    expect(delivered()).toEqual(['emil@example.com: Hello', 'emil@example.com: News']);
    expect(await lastOutcome(hello, carl)).toMatchObject({
      deferred: 'quiet_hours',
      until: '2026-12-10T13:00:00.000Z', // 08:00 in New York
    });
    expect((await call('GET', `/v1/campaigns/${campaign}`)).body).toMatchObject({ status: 'sending' });

    await tick(4 * HOUR + 29 * MINUTE); // 06:59 UTC = 07:59 in Berlin
    expect(delivered()).toEqual([]);
    await tick(MINUTE); // 08:00 in Berlin
    expect(delivered()).toEqual(['dora@example.com: Hello', 'dora@example.com: News']);

    await tick(6 * HOUR); // 13:00 UTC = 08:00 in New York
    expect(delivered()).toEqual(['carl@example.com: Hello', 'carl@example.com: News']);
    expect(await sendStatus(campaign)).toEqual([
      'carl@example.com: sent',
      'dora@example.com: sent',
      'emil@example.com: sent',
    ]);
    const done = await call('GET', `/v1/campaigns/${campaign}`);
    expect(done.body).toMatchObject({ status: 'sent', progress: { sent: 3, failed: 0 } });
  });
});
