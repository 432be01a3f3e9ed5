import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The sunset policy with real campaigns, stored opens and clicks and the
 * periodic job: who stopped engaging is suppressed once, with evidence; the
 * engaged (human or proxy, or a conversion), the new, the lightly mailed and
 * those without tracking consent stay; the preview counts what a run does.
 */

let t: TestApp;
let sink: SmtpSink;
const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T12:00:00Z');
const day = (n: number) => new Date(T0 + n * DAY);
const contacts: Record<string, string> = {};
let list: string;
let template: string;

type Method = 'GET' | 'POST' | 'PUT';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function addContact(name: string, extra: object = {}) {
  const res = await call('POST', '/v1/contacts', { email: `${name}@example.com`, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  contacts[name] = res.body.id;
  const added = await call('POST', `/v1/lists/${list}/members`, { contact_ids: [res.body.id] });
  expect(added.status).toBeLessThan(300);
}

async function sendCampaign(name: string): Promise<string> {
  const campaign = await call('POST', '/v1/campaigns', {
    name,
    from_email: 'news@shop.example',
    template_id: template,
    lists: [list],
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
  await t.container.sender.drain();
  return campaign.body.id;
}

async function hit(name: string, campaignId: string, at: Date, classification: string, kind = 'open') {
  await sql`
    INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
    VALUES (${uuidv7(at.getTime())}, ${t.workspaceId}, ${campaignId}, ${contacts[name]}, ${randomUUID()},
            ${kind}, ${at}, ${classification})`.execute(t.container.db);
}

async function suppressions() {
  return t.container.db
    .selectFrom('suppressions')
    .select(['email', 'reason', 'source', 'note'])
    .where('workspace_id', '=', t.workspaceId)
    .orderBy('email')
    .execute();
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  const created = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News',
    body: '<p>News</p><a href="https://shop.example/">Shop</a><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
  });
  template = created.body.id;
  list = (await call('POST', '/v1/lists', { name: 'Newsletter', opt_in: 'single' })).body.id;

  // Day 0: five long-standing contacts; one of them does not consent to tracking.
  t.clock.set(day(0));
  for (const name of ['ann', 'bob', 'eve', 'fay', 'hal']) await addContact(name);
  await addContact('gus', { tracking_consent: false });
  // Day 35: a newcomer (inside the 30-day window at day 60).
  t.clock.set(day(35));
  await addContact('cid');
  // Campaigns on days 40, 45 and 50; dan joins on day 48 and gets only the last one.
  t.clock.set(day(40));
  const first = await sendCampaign('Day 40');
  t.clock.set(day(45));
  await sendCampaign('Day 45');
  t.clock.set(day(48));
  await addContact('dan');
  t.clock.set(day(50));
  await sendCampaign('Day 50');
  expect(sink.messages).toHaveLength(3 * 7 + 1);
  sink.messages.length = 0;
  // The campaigns' follow-up work (re-classifying their hits an hour after sending) is done before hits are stored.
  await t.container.runner.drain();

  await hit('bob', first, day(20), 'human'); // before the window: does not keep bob
  await hit('eve', first, day(41), 'prefetch'); // Apple Mail Privacy Protection: a machine
  await hit('eve', first, day(42), 'scanner', 'click'); // a link scanner: a machine
  await hit('ann', first, day(52), 'human', 'click');
  await hit('hal', first, day(53), 'proxy'); // an image proxy fetching for a person
  await sql`
    INSERT INTO conversions (id, workspace_id, contact_id, attribution, occurred_at, created_at)
    VALUES (${randomUUID()}, ${t.workspaceId}, ${contacts.fay}, 'none', ${day(55)}, ${day(55)})`.execute(
    t.container.db,
  );
  t.clock.set(day(60));
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('the sunset policy', () => {
  it('is off by default and refuses values out of range, naming the field', async () => {
    const settings = await call('GET', '/v1/deliverability/sunset');
    expect(settings.body).toEqual({
      enabled: false,
      inactive_days: 180,
      min_emails: 5,
      max_open_probability: null,
      predicted_inactive_days: 60,
      last_run_at: null,
      last_run_suppressed: null,
    });
    for (const [body, path] of [
      [{ inactive_days: 3 }, '/body/inactive_days'],
      [{ min_emails: 0 }, '/body/min_emails'],
      [{ enabled: 'yes' }, '/body/enabled'],
      [{ max_open_probability: 0.9 }, '/body/max_open_probability'],
      [{ predicted_inactive_days: 1 }, '/body/predicted_inactive_days'],
    ] as const) {
      const res = await call('PUT', '/v1/deliverability/sunset', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect((await call('GET', '/v1/deliverability/sunset')).body).toEqual(settings.body);
  });

  it('previews, then the periodic job suppresses the inactive once with evidence; the rest stay', async () => {
    const saved = await call('PUT', '/v1/deliverability/sunset', { inactive_days: 30, min_emails: 3 });
    expect(saved.body).toMatchObject({ enabled: false, inactive_days: 30, min_emails: 3 });

    const preview = await call('POST', '/v1/deliverability/sunset/preview', {});
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body).toMatchObject({ inactive_days: 30, min_emails: 3, would_suppress: 2 });
    expect(preview.body.sample).toEqual([
      expect.objectContaining({
        email: 'bob@example.com',
        emails: 3,
        last_engaged_at: day(20).toISOString(),
      }),
      expect.objectContaining({ email: 'eve@example.com', emails: 3, last_engaged_at: null }),
    ]);
    // Other values can be tried without saving them: with two emails dan still has too few.
    const looser = await call('POST', '/v1/deliverability/sunset/preview', { min_emails: 2 });
    expect(looser.body.would_suppress).toBe(2);
    expect(await suppressions()).toEqual([]);

    // Turned on, the daily job (offered by the scheduler, run from the jobs table) applies it.
    await call('PUT', '/v1/deliverability/sunset', { enabled: true });
    await t.container.scheduler.tick();
    await t.container.runner.drain();
    const after = await suppressions();
    expect(after.map((s) => [s.email, s.reason, s.source])).toEqual([
      ['bob@example.com', 'sunset', 'sunset'],
      ['eve@example.com', 'sunset', 'sunset'],
    ]);
    expect(after[0]?.note).toBe(
      'sunset: no human open or click and no conversion since 2026-01-31 (30 days); 3 tracked marketing emails sent in that time; last human open or click: 2026-01-21',
    );
    expect(after[1]?.note).toContain('last human open or click: none recorded');
    expect((await call('GET', '/v1/deliverability/sunset')).body).toMatchObject({
      enabled: true,
      last_run_at: day(60).toISOString(),
      last_run_suppressed: 2,
    });

    // Running again changes nothing; the preview agrees.
    const again = await call('POST', '/v1/deliverability/sunset/run');
    expect(again.body).toMatchObject({ suppressed: 0, inactive_days: 30, min_emails: 3 });
    expect((await call('POST', '/v1/deliverability/sunset/preview', {})).body.would_suppress).toBe(0);
    expect(await suppressions()).toEqual(after);
    const listed = await call('GET', '/v1/suppressions?reason=sunset');
    expect(listed.body.data.map((s: { email: string }) => s.email)).toEqual([
      'bob@example.com',
      'eve@example.com',
    ]);
  });

  it('holds back marketing email only: the next campaign skips them, a receipt still reaches them', async () => {
    await sendCampaign('Day 60');
    expect(sink.messages.map((m) => m.to[0]).sort()).toEqual(
      ['ann', 'cid', 'dan', 'fay', 'gus', 'hal'].map((n) => `${n}@example.com`),
    );
    sink.messages.length = 0;
    const receipt = await call('POST', '/v1/messages', {
      to: 'bob@example.com',
      from_email: 'orders@shop.example',
      inline: { subject: 'Receipt', text: 'Thanks' },
    });
    expect(receipt.status, JSON.stringify(receipt.body)).toBe(202);
    expect(receipt.body.status).toBe('queued');
    await t.container.runner.drain();
    expect(sink.messages.map((m) => m.to[0])).toEqual(['bob@example.com']);
  });

  it('lets the engagement prediction sunset sooner, only those it expects not to open', async () => {
    // Predictions as the engagement refresh stores them (no model is trained here): cid and ann look lost, dan does not.
    const predicted = { cid: 0.01, ann: 0.01, dan: 0.3 };
    for (const [name, p] of Object.entries(predicted)) {
      await sql`
        INSERT INTO contact_engagement (workspace_id, contact_id, score, p_open, opens_30d, opens_90d, clicks_30d,
          clicks_90d, received_30d, received_90d, conversions_365d, computed_at)
        VALUES (${t.workspaceId}, ${contacts[name]}, 0, ${p}, 0, 0, 0, 0, 1, 3, 0, ${day(60)})
        ON CONFLICT (workspace_id, contact_id) DO UPDATE SET p_open = excluded.p_open`.execute(
        t.container.db,
      );
    }
    const plain = { inactive_days: 30, min_emails: 1, predicted_inactive_days: 9 };
    expect((await call('POST', '/v1/deliverability/sunset/preview', plain)).body.would_suppress).toBe(0);
    // Within 9 days: cid (created day 35, never engaged) is sunset; ann clicked on day 52, dan is expected to open.
    const predictive = await call('POST', '/v1/deliverability/sunset/preview', {
      ...plain,
      max_open_probability: 0.05,
    });
    expect(predictive.body).toMatchObject({ would_suppress: 1, max_open_probability: 0.05 });
    expect(predictive.body.sample.map((s: { email: string }) => s.email)).toEqual(['cid@example.com']);
    await call('PUT', '/v1/deliverability/sunset', { ...plain, max_open_probability: 0.05 });
    const run = await call('POST', '/v1/deliverability/sunset/run');
    expect(run.body.suppressed).toBe(1);
    const cid = (await suppressions()).find((s) => s.email === 'cid@example.com');
    expect(cid?.note).toMatch(/^sunset: predicted open probability below 0.05; no human open or click/);
  });

  it("never looks at another workspace's contacts", async () => {
    const other = await t.createWorkspace('Elsewhere');
    const settings = await call('GET', '/v1/deliverability/sunset', undefined, other.adminKey);
    expect(settings.body.enabled).toBe(false);
    await call('PUT', '/v1/deliverability/sunset', { inactive_days: 7, min_emails: 1 }, other.adminKey);
    const preview = await call('POST', '/v1/deliverability/sunset/preview', {}, other.adminKey);
    expect(preview.body).toMatchObject({ would_suppress: 0, sample: [] });
    const run = await call('POST', '/v1/deliverability/sunset/run', undefined, other.adminKey);
    expect(run.body.suppressed).toBe(0);
    expect((await suppressions()).map((s) => s.email)).toEqual([
      'bob@example.com',
      'cid@example.com',
      'eve@example.com',
    ]);
  });
});
