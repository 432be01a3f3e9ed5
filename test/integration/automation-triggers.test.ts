import { simpleParser } from 'mailparser';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTriggerScan } from '../../src/modules/automations/index.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The time-based and engagement triggers over HTTP, with the manual clock,
 * a real SMTP server and real tracking requests: birthdays on the local day
 * and hour of each contact, renewals some days before, schedules enrolling a
 * segment at its cron occurrence, opens and clicks by people (not machines)
 * enrolling, and wait_for engagement moving on when the previous email is
 * opened. The clock only moves forward, through one calendar, test by test.
 */

let t: TestApp;
let sink: SmtpSink;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
/** What Apple Mail Privacy Protection fetches images with: a prefetch, not a person. */
const APPLE_PREFETCH = 'Mozilla/5.0';
/** The campaign pixel of reader@example.com (the engagement test), opened again during a later wait. */
let readerCampaignPixel = '';
let readerId = '';

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

function setClock(iso: string) {
  const to = new Date(iso);
  expect(to.getTime(), `the clock moves forward only (to ${iso})`).toBeGreaterThanOrEqual(
    t.clock.now().getTime(),
  );
  t.clock.set(to);
}

async function scan() {
  return t.container.automationTriggers.scan();
}

/** Runs everything due: runs, then the message jobs they queued. */
async function drain() {
  for (let i = 0; i < 5; i++) {
    const steps = await t.container.automationEngine.drain();
    const jobs = await t.container.runner.drain();
    if (steps === 0 && jobs === 0) return;
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

/** Archived, so later tests' scans do not see it. */
async function archive(id: string) {
  expect((await call('POST', `/v1/automations/${id}/archive`)).status).toBe(200);
}

interface RunView {
  id: string;
  contact_id: string;
  status: string;
  node: string;
  exit_reason: string | null;
  data: Record<string, unknown>;
}
async function runsOf(automationId: string): Promise<RunView[]> {
  const res = await call('GET', `/v1/automations/${automationId}/runs?limit=100`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** Trigger ids of the automation's runs, oldest first (not in the API: read from the table). */
async function triggerIds(automationId: string): Promise<string[]> {
  const rows = await t.container.db
    .selectFrom('automation_runs')
    .select('trigger_id')
    .where('automation_id', '=', automationId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.trigger_id as string);
}

const sendAndExit = (template: string) => ({
  sender: SENDER,
  start: 'send',
  nodes: [
    { id: 'send', type: 'send_email', template, next: 'done' },
    { id: 'done', type: 'exit' },
  ],
});

/** The tracked pixel and link URLs of a delivered message, as request paths of the test app. */
async function trackedUrls(to: string) {
  const message = sink.messages.find((m) => m.to[0] === to);
  expect(message, `a message to ${to}`).toBeDefined();
  const html = String((await simpleParser(message?.raw as Buffer)).html || '');
  const pixel = /<img src="https:\/\/mail\.shop\.example(\/o\/[A-Za-z0-9_-]+)"/.exec(html)?.[1];
  const links = [...html.matchAll(/href="https:\/\/mail\.shop\.example(\/c\/[A-Za-z0-9_-]+)"/g)].map(
    (m) => m[1] as string,
  );
  return { pixel: pixel as string, links };
}

async function hit(path: string, userAgent: string) {
  const res = await t.app.inject({ method: 'GET', url: path, headers: { 'user-agent': userAgent } });
  expect([200, 302]).toContain(res.statusCode);
  return res;
}

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  t.clock.set(new Date('2026-05-20T12:00:00Z'));
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  for (const name of ['Happy birthday', 'Renewal', 'Weekly', 'Thanks for clicking', 'Offer']) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name} for {{ contact.email }}</p><p><a href="https://shop.example/sale">Sale</a> <a href="https://shop.example/other">Other</a></p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  // Contacts without a time zone live in the workspace's.
  const workspace = await call('PATCH', '/v1/workspace', { timezone: 'Europe/Berlin' });
  expect(workspace.status, JSON.stringify(workspace.body)).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('date_attribute', () => {
  it('enrols a renewal offset_days before the date, at midnight in the workspace’s zone', async () => {
    const soon = await contact('renews@example.com', { attributes: { renews_on: '2026-06-01' } });
    await contact('next-year@example.com', { attributes: { renews_on: '2027-06-01' } });
    await contact('number@example.com', { attributes: { renews_on: 20260601 } });
    await contact('garbled@example.com', { attributes: { renews_on: '2026-06-01 is the day' } });
    await contact('none@example.com');
    const id = await automation('Renewal reminder', {
      trigger: { type: 'date_attribute', attribute: 'renews_on', offset_days: -7 },
      ...sendAndExit('Renewal'),
    });

    // 25 May 00:00 in Berlin (CEST, +2) is 24 May 22:00 UTC.
    setClock('2026-05-24T21:59:00Z');
    await scan();
    expect(await runsOf(id)).toEqual([]);
    setClock('2026-05-24T22:00:00Z');
    expect((await scan()).enrolled).toBe(1);
    const runs = await runsOf(id);
    expect(runs).toMatchObject([{ contact_id: soon, data: { attribute: 'renews_on', date: '2026-06-01' } }]);
    expect(await triggerIds(id)).toEqual([`date:renews_on:2026-06-01:${soon}`]);
    await drain();
    expect(sink.messages.map((m) => m.to[0])).toEqual(['renews@example.com']);
    sink.messages.length = 0;

    // Later passes that day, the next days, and the date itself enrol nobody else.
    for (const at of ['2026-05-24T22:20:00Z', '2026-05-25T12:00:00Z', '2026-06-01T12:00:00Z']) {
      setClock(at);
      expect((await scan()).enrolled).toBe(0);
    }
    expect(await runsOf(id)).toHaveLength(1);
    await archive(id);
  });

  it('enrols birthdays on the local day from the local hour, once a year, in each contact’s zone', async () => {
    const auckland = await contact('ana@example.com', {
      timezone: 'Pacific/Auckland',
      attributes: { birthday: '1990-06-10' },
    });
    const losAngeles = await contact('leo@example.com', {
      timezone: 'America/Los_Angeles',
      attributes: { birthday: '1985-06-10T00:00:00Z' },
    });
    const berlin = await contact('ben@example.com', { attributes: { birthday: '2001-06-10' } });
    await contact('later@example.com', { timezone: 'UTC', attributes: { birthday: '1990-06-12' } });
    await contact('notadate@example.com', { attributes: { birthday: 'June 10th' } });
    await contact('nobirthday@example.com', { attributes: { plan: 'pro' } });
    setClock('2026-06-09T12:00:00Z');
    const id = await automation('Birthday', {
      trigger: { type: 'date_attribute', attribute: 'birthday', hour: 9, every_year: true },
      ...sendAndExit('Happy birthday'),
    });
    const enrolled = async () => (await runsOf(id)).map((r) => r.contact_id);

    // 10 June 09:00 in Auckland (NZST, +12) is 9 June 21:00 UTC.
    setClock('2026-06-09T20:59:00Z');
    expect((await scan()).enrolled).toBe(0);
    setClock('2026-06-09T21:00:00Z');
    expect((await scan()).enrolled).toBe(1);
    expect(await enrolled()).toEqual([auckland]);
    // Berlin's 09:00 (07:00 UTC) passed while no worker ran: the scan at 11:00 UTC still enrols that day.
    setClock('2026-06-10T11:00:00Z');
    expect((await scan()).enrolled).toBe(1);
    expect(await enrolled()).toEqual([auckland, berlin]);
    // 09:00 in Los Angeles (PDT, -7) is 16:00 UTC.
    setClock('2026-06-10T15:59:00Z');
    expect((await scan()).enrolled).toBe(0);
    setClock('2026-06-10T16:00:00Z');
    expect((await scan()).enrolled).toBe(1);
    await drain();
    expect(sink.messages.map((m) => m.to[0]).sort()).toEqual([
      'ana@example.com',
      'ben@example.com',
      'leo@example.com',
    ]);
    sink.messages.length = 0;
    // The day after, nobody; the 12th's contact is never scanned on the 12th here, so never enrolled.
    setClock('2026-06-11T12:00:00Z');
    expect((await scan()).enrolled).toBe(0);

    // A year later, each again, once.
    setClock('2027-06-09T21:00:00Z');
    expect((await scan()).enrolled).toBe(1);
    setClock('2027-06-10T16:30:00Z');
    expect((await scan()).enrolled).toBe(2);
    setClock('2027-06-10T17:00:00Z');
    expect((await scan()).enrolled).toBe(0);
    expect(await triggerIds(id)).toEqual([
      `date:birthday:2026-06-10:${auckland}`,
      `date:birthday:2026-06-10:${berlin}`,
      `date:birthday:2026-06-10:${losAngeles}`,
      `date:birthday:2027-06-10:${auckland}`,
      ...[`date:birthday:2027-06-10:${berlin}`, `date:birthday:2027-06-10:${losAngeles}`].sort((a, b) =>
        a.localeCompare(b),
      ),
    ]);
    await drain();
    expect(sink.messages).toHaveLength(3);
    sink.messages.length = 0;
    await archive(id);
  });
});

describe('schedule', () => {
  it('enrols the segment’s members at each occurrence in the workspace’s zone, once, and only the latest missed one', async () => {
    const members = [
      await contact('vip1@example.com', { attributes: { tier: 'vip' } }),
      await contact('vip2@example.com', { attributes: { tier: 'vip' } }),
      await contact('vip3@example.com', { attributes: { tier: 'vip' } }),
    ];
    await contact('regular@example.com', { attributes: { tier: 'regular' } });
    const segment = await call('POST', '/v1/segments', {
      name: 'VIP',
      definition: { attribute: 'tier', operator: 'equals', value: 'vip' },
    });
    expect(segment.status, JSON.stringify(segment.body)).toBe(201);
    setClock('2027-06-13T12:00:00Z'); // a Sunday
    const id = await automation('Weekly VIP', {
      trigger: { type: 'schedule', cron: '0 10 * * mon', segment_id: segment.body.id },
      ...sendAndExit('Weekly'),
    });

    // Monday 10:00 in Berlin (CEST) is 08:00 UTC.
    setClock('2027-06-14T07:59:00Z');
    expect((await scan()).enrolled).toBe(0);
    setClock('2027-06-14T08:00:00Z');
    expect((await scan()).enrolled).toBe(3);
    expect((await runsOf(id)).map((r) => r.contact_id).sort()).toEqual([...members].sort());
    expect((await runsOf(id))[0]?.data).toEqual({ occurrence: '2027-06-14T08:00:00.000Z' });
    setClock('2027-06-14T08:00:05Z');
    expect((await scan()).enrolled).toBe(0);
    await drain();
    expect(sink.messages).toHaveLength(3);
    sink.messages.length = 0;

    // Three Mondays pass without a worker: the members get the latest occurrence, once.
    setClock('2027-07-06T09:00:00Z');
    expect((await scan()).enrolled).toBe(3);
    expect((await scan()).enrolled).toBe(0);
    const ids = await triggerIds(id);
    expect(ids).toHaveLength(6);
    expect(ids.filter((i) => i.startsWith('schedule:2027-07-05T08:00:00.000Z:'))).toHaveLength(3);
    expect(ids.filter((i) => i.startsWith('schedule:2027-06-14T08:00:00.000Z:'))).toHaveLength(3);
    await drain();
    sink.messages.length = 0;
    await archive(id);
  });

  it('pages through the segment across scans, in the trigger’s own zone', async () => {
    const segment = await call('POST', '/v1/segments', {
      name: 'Gold',
      definition: { attribute: 'tier', operator: 'equals', value: 'gold' },
    });
    const gold = [];
    for (let i = 0; i < 5; i++)
      gold.push(await contact(`gold${i}@example.com`, { attributes: { tier: 'gold' } }));
    const id = await automation('Daily gold', {
      trigger: {
        type: 'schedule',
        cron: '30 6 * * *',
        segment_id: segment.body.id,
        timezone: 'America/New_York',
      },
      ...sendAndExit('Weekly'),
    });
    // Pages of two, one page per scan: the occurrence takes three scans.
    const small = createTriggerScan({
      db: t.container.db,
      clock: t.clock,
      logger: pino({ level: 'silent' }),
      engine: t.container.automationEngine,
      segments: t.container.segments,
      workspaces: t.container.routeDeps.workspaces,
      pageSize: 2,
      schedulePages: 1,
    });
    // 06:30 in New York (EDT, -4) is 10:30 UTC.
    setClock('2027-07-06T10:29:00Z');
    expect((await small.scan()).enrolled).toBe(0);
    setClock('2027-07-06T10:30:00Z');
    const rounds = [];
    for (let i = 0; i < 4; i++) rounds.push((await small.scan()).enrolled);
    expect(rounds).toEqual([2, 2, 1, 0]);
    expect((await runsOf(id)).map((r) => r.contact_id).sort()).toEqual([...gold].sort());
    await drain();
    sink.messages.length = 0;
    await archive(id);
  });
});

describe('engagement', () => {
  it('enrols on a person’s click of a campaign’s link, not on a scanner’s or another link’s, and on opens by people only', async () => {
    setClock('2027-08-02T09:00:00Z');
    const list = (await call('POST', '/v1/lists', { name: 'Sale', opt_in: 'single' })).body.id;
    const reader = await contact('reader@example.com');
    readerId = reader;
    const scanned = await contact('scanned@example.com');
    const other = await contact('other@example.com');
    await call('POST', `/v1/lists/${list}/members`, { contact_ids: [reader, scanned, other] });
    const template = (await call('GET', '/v1/templates?limit=100')).body.data.find(
      (x: { name: string }) => x.name === 'Offer',
    );
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Summer sale',
      from_email: 'news@shop.example',
      template_id: template.id,
      lists: [list],
    });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    const clicked = await automation('Clicked the sale', {
      trigger: {
        type: 'engagement',
        action: 'clicked',
        campaign_id: campaign.body.id,
        link_url: 'https://shop.example/sale',
      },
      ...sendAndExit('Thanks for clicking'),
    });
    const opened = await automation('Opened anything', {
      trigger: { type: 'engagement', action: 'opened' },
      ...sendAndExit('Thanks for clicking'),
    });
    expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(3);

    // Within seconds of delivery: a link scanner, and Apple's image prefetch.
    const s = await trackedUrls('scanned@example.com');
    expect(s.links).toHaveLength(3); // the hidden honeypot link, sale, other
    await hit(s.links[1] as string, CHROME);
    await hit(s.pixel, APPLE_PREFETCH);
    // Minutes later: people.
    t.clock.advance(10 * MINUTE);
    const r = await trackedUrls('reader@example.com');
    readerCampaignPixel = r.pixel;
    await hit(r.pixel, CHROME);
    t.clock.advance(MINUTE);
    const click = await hit(r.links[1] as string, CHROME);
    expect(click.headers.location).toMatch(/^https:\/\/shop\.example\/sale/);
    const o = await trackedUrls('other@example.com');
    await hit(o.links[2] as string, CHROME);
    sink.messages.length = 0;
    await t.container.tracking.flush();
    const hits = await t.container.db
      .selectFrom('tracking_hits')
      .select(['id', 'contact_id', 'kind', 'classification'])
      .where('campaign_id', '=', campaign.body.id)
      .orderBy('id')
      .execute();
    expect(hits.map((h) => [h.contact_id, h.kind, h.classification])).toEqual([
      [scanned, 'click', 'scanner'],
      [scanned, 'open', 'prefetch'],
      [reader, 'open', 'human'],
      [reader, 'click', 'human'],
      [other, 'click', 'human'],
    ]);

    t.clock.advance(5_000);
    await scan();
    expect(await runsOf(clicked)).toMatchObject([
      { contact_id: reader, data: { campaign_id: campaign.body.id, url: 'https://shop.example/sale' } },
    ]);
    expect(await triggerIds(clicked)).toEqual([`hit:${hits[3]?.id}`]);
    expect((await runsOf(opened)).map((r) => r.contact_id)).toEqual([reader]);
    expect(await triggerIds(opened)).toEqual([`hit:${hits[2]?.id}`]);
    // The next scan reads the same hits again (its overlap): nobody enrols twice.
    t.clock.advance(5_000);
    expect((await scan()).enrolled).toBe(0);
    await drain();
    expect(sink.messages.map((m) => m.to[0])).toEqual(['reader@example.com', 'reader@example.com']);
    sink.messages.length = 0;
    await archive(clicked);
    await archive(opened);
  });
});

describe('wait_for engagement', () => {
  it('goes to next when a person opens the previous email, and times out otherwise', async () => {
    setClock('2027-08-03T09:00:00Z');
    const id = await automation('Offer follow-up', {
      trigger: { type: 'api' },
      sender: SENDER,
      start: 'offer',
      nodes: [
        { id: 'offer', type: 'send_email', template: 'Offer', next: 'opened' },
        {
          id: 'opened',
          type: 'wait_for',
          engagement: 'opened',
          timeout: { days: 2 },
          next: 'tag_opened',
          timeout_next: 'tag_not',
        },
        { id: 'tag_opened', type: 'update_contact', add_tags: ['opened-offer'], next: 'done' },
        { id: 'tag_not', type: 'update_contact', add_tags: ['ignored-offer'], next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    const people = {
      opener: await contact('opener@example.com'),
      prefetched: await contact('prefetched@example.com'),
      silent: await contact('silent@example.com'),
      // Opens another email (a campaign's) while waiting: not the previous email of this run.
      elsewhere: readerId,
    };
    for (const contactId of Object.values(people)) {
      const res = await call('POST', `/v1/automations/${id}/enroll`, { contact: { id: contactId } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    await drain();
    expect(sink.messages).toHaveLength(4);

    // Apple's prefetch at delivery; the opener's own open an hour later.
    await hit(readerCampaignPixel, CHROME);
    await hit((await trackedUrls('prefetched@example.com')).pixel, APPLE_PREFETCH);
    t.clock.advance(HOUR);
    await hit((await trackedUrls('opener@example.com')).pixel, CHROME);
    sink.messages.length = 0;
    await t.container.tracking.flush();
    t.clock.advance(5_000);
    expect((await scan()).moved).toBe(1);
    t.clock.advance(5_000);
    expect((await scan()).moved).toBe(0);
    await drain();

    const runs = await runsOf(id);
    const byContact = (c: string) => runs.find((r) => r.contact_id === c);
    expect(byContact(people.opener)).toMatchObject({ status: 'completed', exit_reason: 'exit' });
    expect(byContact(people.prefetched)).toMatchObject({ status: 'active', node: 'opened' });
    const detail = await call('GET', `/v1/automations/${id}/runs/${byContact(people.opener)?.id}`);
    expect(detail.body.steps.map((s: { node_id: string }) => s.node_id)).toEqual([
      'offer',
      'opened',
      'opened',
      'tag_opened',
      'done',
    ]);
    expect(detail.body.steps[2].outcome).toEqual({ hit_id: expect.any(String) });

    t.clock.advance(2 * DAY);
    await drain();
    for (const c of [people.prefetched, people.silent, people.elsewhere]) {
      const contactRow = await call('GET', `/v1/contacts/${c}`);
      expect(contactRow.body.tags).toEqual(['ignored-offer']);
    }
    expect((await call('GET', `/v1/contacts/${people.opener}`)).body.tags).toEqual(['opened-offer']);
    await archive(id);
  });
});
