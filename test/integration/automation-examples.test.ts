import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The shipped birthday and re-engagement journeys, as shipped (only their
 * placeholder segment id replaced), enrolled by their own triggers over
 * weeks of manual-clock time with a real SMTP server and real tracking
 * requests: who got which email at which instant, in which time zone, with
 * the workspace's quiet hours. (The welcome series and the abandoned cart
 * run over their weeks in automation-engine.test.ts.)
 */

let t: TestApp;
let sink: SmtpSink;
const HOUR = 3_600_000;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

function example(name: string) {
  return JSON.parse(readFileSync(join(process.cwd(), 'examples', 'automations', `${name}.json`), 'utf8'));
}

async function publish(name: string, definition: object) {
  const created = await call('POST', '/v1/automations', { name, definition });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const published = await call('POST', `/v1/automations/${created.body.id}/publish`);
  expect(published.status, JSON.stringify(published.body)).toBe(201);
  return created.body.id as string;
}

async function contact(email: string, extra: object = {}) {
  const res = await call('POST', '/v1/contacts', { email, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** Every email delivered so far as "to: subject @ the instant it went out". */
const log: string[] = [];

/** Advances the clock an hour at a time to `until`, doing each hour what the workers would. */
async function hourly(until: string, each?: (now: Date) => Promise<void>) {
  while (t.clock.now().getTime() < Date.parse(until)) {
    t.clock.advance(HOUR);
    await each?.(t.clock.now());
    await t.container.automationTriggers.scan();
    for (let i = 0; i < 5; i++) {
      const steps = await t.container.automationEngine.drain();
      const jobs = await t.container.runner.drain();
      if (steps === 0 && jobs === 0) break;
    }
    for (const m of sink.messages.splice(0)) {
      const subject = /^Subject: (.*)$/im.exec(m.raw.toString('utf8'))?.[1]?.trim();
      log.push(`${m.to[0]}: ${subject} @ ${t.clock.now().toISOString()}`);
      delivered.push(m);
    }
  }
}
const delivered: SmtpSink['messages'] = [];

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  for (const name of ['Happy birthday', 'We miss you']) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name}, {{ contact.email }}</p><p><a href="https://shop.example/new">See what is new</a></p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  const attribute = await call('POST', '/v1/attributes', { name: 'birthday', type: 'date' });
  expect(attribute.status, JSON.stringify(attribute.body)).toBe(201);
  // Contacts without a time zone live in Berlin; nothing goes out between 21:00 and 08:00 local.
  const policy = await call('PATCH', '/v1/workspace', {
    timezone: 'Europe/Berlin',
    sending_policy: { quiet_hours: { start: '21:00', end: '08:00' } },
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('the shipped birthday journey', () => {
  it('greets each contact at 09:00 on their birthday in their own time zone, once, over three weeks', async () => {
    t.clock.set(new Date('2026-12-05T00:00:00Z'));
    const id = await publish('Birthday', example('birthday'));
    await contact('amy@example.com', {
      timezone: 'Pacific/Auckland',
      attributes: { birthday: '1990-12-10' },
    });
    await contact('ben@example.com', {
      timezone: 'America/Los_Angeles',
      attributes: { birthday: '1985-12-10' },
    });
    await contact('cas@example.com', { attributes: { birthday: '2000-12-20' } }); // Berlin
    await contact('dan@example.com'); // no birthday
    await contact('eli@example.com', { attributes: { birthday: '1970-06-01' } }); // not in these weeks
    await hourly('2026-12-26T00:00:00Z');
    expect(log.filter((l) => l.includes('Happy birthday'))).toEqual([
      'amy@example.com: Happy birthday @ 2026-12-09T20:00:00.000Z', // 09:00 on the 10th in Auckland (UTC+13)
      'ben@example.com: Happy birthday @ 2026-12-10T17:00:00.000Z', // 09:00 in Los Angeles (UTC-8)
      'cas@example.com: Happy birthday @ 2026-12-20T08:00:00.000Z', // 09:00 in Berlin (UTC+1)
    ]);
    const runs = await call('GET', `/v1/automations/${id}/runs?status=completed`);
    expect(runs.body.data).toHaveLength(3);
    const amy = (await call('GET', '/v1/contacts?email=amy@example.com')).body.data[0];
    expect(amy.tags).toContain('birthday-greeted');
    expect((await call('POST', `/v1/automations/${id}/archive`)).status).toBe(200);
  });
});

describe('the shipped re-engagement journey', () => {
  it('mails the inactive on Monday 10:00, welcomes back who clicks, sunsets who does not, and enrols nobody twice', async () => {
    t.clock.set(new Date('2026-12-26T00:00:00Z'));
    const segment = await call('POST', '/v1/segments', {
      name: 'No opens in 90 days',
      definition: {
        all: [
          { field: 'tags', operator: 'contains', value: 'inactive' },
          { not: { engagement: 'opened', window: { within_last_days: 90 } } },
        ],
      },
    });
    expect(segment.status, JSON.stringify(segment.body)).toBe(201);
    const definition = example('re-engagement');
    definition.trigger.segment_id = segment.body.id;
    const id = await publish('Re-engagement', definition);
    await contact('fay@example.com', { tags: ['inactive'], timezone: 'America/New_York' });
    await contact('gus@example.com', { tags: ['inactive'] }); // Berlin
    log.length = 0;

    // Gus clicks the email the day after it came; Fay never does.
    let clicked = false;
    await hourly('2027-01-25T00:00:00Z', async (now) => {
      if (clicked || now.toISOString() !== '2026-12-29T12:00:00.000Z') return;
      const mail = delivered.find((m) => m.to[0] === 'gus@example.com');
      const html = String((await simpleParser(mail?.raw as Buffer)).html || '');
      // The first tracked link is the hidden one only scanners follow; the second is "See what is new".
      const links = [...html.matchAll(/href="https:\/\/mail\.shop\.example(\/c\/[A-Za-z0-9_-]+)"/g)];
      const link = links[1]?.[1];
      const res = await t.app.inject({
        method: 'GET',
        url: link as string,
        headers: { 'user-agent': CHROME },
      });
      expect(res.statusCode).toBe(302);
      await t.container.tracking.flush();
      clicked = true;
    });
    // Monday 28 December, 10:00 in Berlin, is 04:00 in New York: Fay's email waits for the end of her
    // quiet hours. Later Mondays enrol nobody (again only after 180 days).
    expect(log).toEqual([
      'gus@example.com: We miss you @ 2026-12-28T09:00:00.000Z',
      'fay@example.com: We miss you @ 2026-12-28T13:00:00.000Z',
    ]);
    const fay = (await call('GET', '/v1/contacts?email=fay@example.com')).body.data[0];
    const gus = (await call('GET', '/v1/contacts?email=gus@example.com')).body.data[0];
    expect({ status: fay.status, tags: [...fay.tags].sort() }).toEqual({
      status: 'unsubscribed',
      tags: ['inactive', 'sunset'],
    });
    expect({ status: gus.status, tags: gus.tags }).toEqual({ status: 'active', tags: [] });
    const runs = (await call('GET', `/v1/automations/${id}/runs`)).body.data;
    // Fay's run ends as unsubscribed: the sunset unsubscribed her, and the run exits on that before its exit node.
    const ends = runs.map((r: { contact_id: string; status: string; exit_reason: string }) =>
      [r.contact_id === fay.id ? 'fay' : 'gus', r.status, r.exit_reason].join(' '),
    );
    expect(ends.sort()).toEqual(['fay exited unsubscribed', 'gus completed exit']);
    const fayRun = runs.find((r: { contact_id: string }) => r.contact_id === fay.id);
    const steps = (await call('GET', `/v1/automations/${id}/runs/${fayRun.id}`)).body.steps;
    expect(steps[0].outcome).toMatchObject({ deferred: 'quiet_hours', until: '2026-12-28T13:00:00.000Z' });
    // Fay's wait ran its 14 days from her email: the sunset came on 11 January at 08:00 New York.
    expect(steps.find((s: { node_id: string }) => s.node_id === 'sunset').executed_at).toBe(
      '2027-01-11T13:00:00.000Z',
    );
  });
});
