import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { createAnalyticsRollup } from '../../src/modules/analytics/index.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Campaign analytics end to end: a campaign sent through the API to a real
 * SMTP server, raw hits written as the tracking module writes them (SQL, per
 * the shared contract), the rollup run synchronously, and the report,
 * overview, CSV export and conversions read over HTTP.
 */

let t: TestApp;
let sink: SmtpSink;
const HOUR = 3_600_000;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const emails = [
  'ann@gmail.com',
  'bo@hotmail.co.uk',
  'cy@yahoo.fr',
  'dee@icloud.com',
  'eve@example.com',
  'fay@googlemail.com',
  'gone@example.com',
];
const contacts = new Map<string, { id: string; messageId: string }>();
let campaignId: string;
let sentAt: Date;
const links: string[] = [];

interface HitInput {
  email: string;
  kind: 'open' | 'click';
  classification?: 'human' | 'proxy' | 'prefetch' | 'scanner' | 'bot';
  at: Date;
  link?: number;
  campaign?: string;
  workspaceId?: string;
}

/** Writes a raw hit the way the tracking module does; returns its id (the click id of `hid=`). */
async function hit(h: HitInput): Promise<string> {
  const contact = contacts.get(h.email);
  if (!contact) throw new Error(`no contact ${h.email}`);
  const id = uuidv7(h.at.getTime());
  await sql`
    INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, link_id, kind, occurred_at,
                               user_agent, ip, classification, reason)
    VALUES (${id}, ${h.workspaceId ?? t.workspaceId}, ${h.campaign ?? campaignId}, ${contact.id},
            ${contact.messageId}, ${h.link === undefined ? null : links[h.link]}, ${h.kind}, ${h.at},
            'Mozilla/5.0', '192.0.2.0', ${h.classification ?? 'human'}, null)`.execute(t.container.db);
  return id;
}

async function report(id = campaignId) {
  const res = await call('GET', `/v1/campaigns/${id}/report`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const catchUp = () => t.container.analyticsRollup.catchUp();

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  sink.reject.set('gone@example.com', { code: 550, message: '5.1.1 no such user' });
  await t.addSinkTransport(sink, { name: 'Sink' });
  expect(
    (await call('POST', '/v1/sending-domains', { domain: 'shop.example', algorithm: 'ed25519' })).status,
  ).toBe(201);
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News',
    body: '<p>Hello</p><a href="https://shop.example/a">A</a><a href="https://shop.example/b">B</a>',
  });
  expect(template.status).toBe(201);
  const list = (await call('POST', '/v1/lists', { name: 'All', opt_in: 'single' })).body.id;
  expect((await call('POST', `/v1/lists/${list}/members`, { emails })).status).toBeLessThan(300);
  const campaign = await call('POST', '/v1/campaigns', {
    name: 'Spring sale',
    from_email: 'news@shop.example',
    template_id: template.body.id,
    lists: [list],
  });
  campaignId = campaign.body.id;
  sentAt = t.clock.now();
  expect((await call('POST', `/v1/campaigns/${campaignId}/send`)).status).toBe(200);
  await t.container.sender.drain();

  const rows = await sql<{
    email: string;
    contact_id: string;
    message_id: string;
    template_version_id: string;
  }>`
    SELECT c.email, s.contact_id, s.message_id, k.template_version_id
    FROM campaign_sends s JOIN contacts c ON c.id = s.contact_id JOIN campaigns k ON k.id = s.campaign_id
    WHERE s.campaign_id = ${campaignId}`.execute(t.container.db);
  for (const row of rows.rows) {
    contacts.set(row.email, { id: row.contact_id, messageId: row.message_id.split('@')[0] as string });
  }
  const versionId = rows.rows[0]?.template_version_id;
  for (const [position, url] of ['https://shop.example/a', 'https://shop.example/b'].entries()) {
    const existing = await sql<{ id: string }>`
      SELECT id FROM template_links WHERE template_version_id = ${versionId} AND url = ${url}`.execute(
      t.container.db,
    );
    let id = existing.rows[0]?.id;
    if (!id) {
      id = uuidv7();
      await sql`
        INSERT INTO template_links (id, workspace_id, template_version_id, position, url, created_at)
        VALUES (${id}, ${t.workspaceId}, ${versionId}, ${position}, ${url}, ${t.clock.now()})`.execute(
        t.container.db,
      );
    }
    links.push(id);
  }
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('campaign report', () => {
  it('reports sends, hard bounces and providers from the ledger before any hit', async () => {
    await catchUp();
    const r = await report();
    expect(r).toMatchObject({
      campaign_id: campaignId,
      status: 'sent',
      sent: 6,
      failed: 1,
      delivered: null,
      bounced: { hard: 1, soft: 0 },
      complaints: 0,
      opens: { total: 0, unique: 0, human: 0, human_unique: 0 },
      rates: { open_rate: 0, click_rate: 0, click_to_open_rate: null },
      unsubscribes: 0,
      conversions: { count: 0, revenue: [] },
      series: [],
    });
    const providers = Object.fromEntries(
      r.providers.map((p: { provider: string; sent: number; failed: number }) => [
        p.provider,
        [p.sent, p.failed],
      ]),
    );
    expect(providers).toEqual({
      gmail: [2, 0],
      outlook: [1, 0],
      yahoo: [1, 0],
      apple: [1, 0],
      other: [1, 1],
    });
  });

  it('counts totals, unique and human opens and clicks, per link, per provider and per hour', async () => {
    const h0 = new Date(Math.floor(sentAt.getTime() / HOUR) * HOUR + HOUR); // the next full hour
    const at = (minutes: number) => new Date(h0.getTime() + minutes * 60_000);
    await hit({ email: 'ann@gmail.com', kind: 'open', classification: 'proxy', at: at(1) });
    await hit({ email: 'ann@gmail.com', kind: 'open', classification: 'proxy', at: at(70) });
    await hit({ email: 'dee@icloud.com', kind: 'open', classification: 'prefetch', at: at(2) });
    await hit({ email: 'bo@hotmail.co.uk', kind: 'open', classification: 'human', at: at(3) });
    await hit({ email: 'bo@hotmail.co.uk', kind: 'click', link: 0, at: at(4) });
    await hit({ email: 'bo@hotmail.co.uk', kind: 'click', link: 0, at: at(5) });
    await hit({ email: 'cy@yahoo.fr', kind: 'click', link: 1, classification: 'scanner', at: at(6) });
    await hit({ email: 'cy@yahoo.fr', kind: 'click', link: 0, classification: 'scanner', at: at(6) });
    const result = await catchUp();
    expect(result.hits).toBe(8);

    const r = await report();
    expect(r.opens).toEqual({ total: 4, unique: 3, human: 3, human_unique: 2 });
    expect(r.clicks).toEqual({ total: 4, unique: 2, human: 2, human_unique: 1 });
    expect(r.rates).toEqual({ open_rate: 0.333333, click_rate: 0.166667, click_to_open_rate: 0.5 });
    expect(r.links).toEqual([
      { link_id: links[0], url: 'https://shop.example/a', clicks: 3, unique: 2, human: 2, human_unique: 1 },
      { link_id: links[1], url: 'https://shop.example/b', clicks: 1, unique: 1, human: 0, human_unique: 0 },
    ]);
    const byProvider = Object.fromEntries(r.providers.map((p: { provider: string }) => [p.provider, p]));
    expect(byProvider.gmail).toMatchObject({ unique_opens: 1, human_unique_opens: 1, unique_clicks: 0 });
    expect(byProvider.apple).toMatchObject({ unique_opens: 1, human_unique_opens: 0 });
    expect(byProvider.outlook).toMatchObject({
      unique_opens: 1,
      human_unique_opens: 1,
      human_unique_clicks: 1,
    });
    expect(byProvider.yahoo).toMatchObject({ unique_opens: 0, unique_clicks: 1, human_unique_clicks: 0 });

    // From the hour sending started to the last hour with hits, zero-filled.
    const hours = r.series.map((s: { hour: string }) => s.hour);
    expect(hours[0]).toBe(new Date(Math.floor(sentAt.getTime() / HOUR) * HOUR).toISOString());
    expect(hours.at(-1)).toBe(new Date(h0.getTime() + HOUR).toISOString());
    const first = r.series.find((s: { hour: string }) => s.hour === h0.toISOString());
    expect(first).toMatchObject({
      opens: 3,
      human_opens: 2,
      unique_opens: 3,
      human_unique_opens: 2,
      clicks: 4,
    });
    expect(r.series.at(-1)).toMatchObject({
      opens: 1,
      human_opens: 1,
      unique_opens: 0,
      human_unique_opens: 0,
    });
    const sum = (key: string) =>
      r.series.reduce((n: number, s: Record<string, number>) => n + (s[key] ?? 0), 0);
    expect(sum('unique_opens')).toBe(r.opens.unique);
    expect(sum('human_unique_clicks')).toBe(r.clicks.human_unique);
  });

  it('adds new hits incrementally, counts a contact once, and moves a first open when an earlier hit arrives late', async () => {
    const before = await report();
    const h0 = new Date(Math.floor(sentAt.getTime() / HOUR) * HOUR + HOUR);
    // Ann opens again (no new unique); Eve opens for the first time, two hours later.
    await hit({
      email: 'ann@gmail.com',
      kind: 'open',
      classification: 'human',
      at: new Date(h0.getTime() + 2 * HOUR),
    });
    await hit({ email: 'eve@example.com', kind: 'open', at: new Date(h0.getTime() + 2 * HOUR) });
    expect((await catchUp()).hits).toBe(2);
    const mid = await report();
    expect(mid.opens).toEqual({
      total: before.opens.total + 2,
      unique: before.opens.unique + 1,
      human: before.opens.human + 2,
      human_unique: before.opens.human_unique + 1,
    });
    const eveHour = new Date(h0.getTime() + 2 * HOUR).toISOString();
    expect(mid.series.find((s: { hour: string }) => s.hour === eveHour).unique_opens).toBe(1);

    // A hit recorded late, but earlier than Eve's first open: her first open moves to h0.
    await hit({ email: 'eve@example.com', kind: 'open', at: new Date(h0.getTime() + 10 * 60_000) });
    await catchUp();
    const after = await report();
    expect(after.opens.unique).toBe(mid.opens.unique);
    expect(after.opens.human_unique).toBe(mid.opens.human_unique);
    expect(after.series.find((s: { hour: string }) => s.hour === eveHour).unique_opens).toBe(0);
    expect(after.series.find((s: { hour: string }) => s.hour === h0.toISOString()).unique_opens).toBe(4);

    // Nothing new: a second run changes nothing.
    expect((await catchUp()).hits).toBe(0);
    expect(await report()).toEqual({ ...after, events_counted_until: expect.any(String) });
  });

  it('recomputes a campaign whose hits were re-classified', async () => {
    const before = await report();
    // The tracking module decides Bo's clicks were a scanner burst after all.
    await sql`
      UPDATE tracking_hits SET classification = 'scanner', reason = 'burst', reclassified_at = ${t.clock.now()}
      WHERE contact_id = ${contacts.get('bo@hotmail.co.uk')?.id} AND kind = 'click'`.execute(t.container.db);
    await sql`
      INSERT INTO analytics_dirty (campaign_id, workspace_id, marked_at)
      VALUES (${campaignId}, ${t.workspaceId}, ${t.clock.now()})`.execute(t.container.db);
    expect((await catchUp()).recomputed).toBe(1);
    const r = await report();
    expect(r.clicks).toEqual({ total: before.clicks.total, unique: 2, human: 0, human_unique: 0 });
    expect(r.opens).toEqual(before.opens);
    expect(r.links[0]).toMatchObject({ clicks: 3, unique: 2, human: 0, human_unique: 0 });
    expect(r.providers.find((p: { provider: string }) => p.provider === 'outlook')).toMatchObject({
      sent: 1,
      human_unique_opens: 1,
      human_unique_clicks: 0,
    });
    expect(r.sent).toBe(6);
    expect(r.bounced).toEqual({ hard: 1, soft: 0 });
    const dirty = await sql`SELECT 1 FROM analytics_dirty`.execute(t.container.db);
    expect(dirty.rows).toHaveLength(0);
  });

  it('counts distinct contacts who unsubscribed through the campaign', async () => {
    const record = async (email: string, sourceId: string) =>
      sql`
        INSERT INTO consent_records (id, workspace_id, contact_id, action, source, source_id, detail, created_at)
        VALUES (${uuidv7()}, ${t.workspaceId}, ${contacts.get(email)?.id}, 'unsubscribe', 'form', ${sourceId},
                ${JSON.stringify({ method: 'one-click', campaign_id: sourceId })}, ${t.clock.now()})`.execute(
        t.container.db,
      );
    await record('ann@gmail.com', campaignId);
    await record('ann@gmail.com', campaignId);
    await record('cy@yahoo.fr', campaignId);
    await record('dee@icloud.com', uuidv7()); // another campaign
    expect((await report()).unsubscribes).toBe(2);
  });

  it('counts nothing of another campaign or of transactional hits', async () => {
    const before = await report();
    await sql`
      INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
      VALUES (${uuidv7()}, ${t.workspaceId}, null, ${contacts.get('ann@gmail.com')?.id}, ${uuidv7()}, 'open',
              ${t.clock.now()}, 'human')`.execute(t.container.db);
    await catchUp();
    expect((await report()).opens).toEqual(before.opens);
  });

  it('lags by the settle time in the background round, and catches up after it', async () => {
    t.clock.advance(24 * HOUR); // ahead of the real clock, so new ids carry the manual time
    const before = await report();
    await hit({ email: 'fay@googlemail.com', kind: 'open', at: t.clock.now() });
    await t.container.analyticsRollup.round();
    expect((await report()).opens.total).toBe(before.opens.total);
    t.clock.advance(t.config.analyticsSettleMs + 1000);
    await t.container.analyticsRollup.round();
    const r = await report();
    expect(r.opens.total).toBe(before.opens.total + 1);
    expect(new Date(r.events_counted_until).getTime()).toBe(
      t.clock.now().getTime() - t.config.analyticsSettleMs,
    );
  });

  it('keeps reports current in the background once the workers run', async () => {
    const before = await report();
    const at = new Date(t.clock.now().getTime() - t.config.analyticsSettleMs - 1000);
    await hit({ email: 'fay@googlemail.com', kind: 'open', at });
    t.clock.advance(t.config.analyticsSettleMs + 1000);
    t.container.analyticsRollup.start(10);
    try {
      await vi.waitFor(async () => expect((await report()).opens.total).toBe(before.opens.total + 1), {
        timeout: 10_000,
        interval: 20,
      });
    } finally {
      await t.container.analyticsRollup.stop();
    }
  });

  it('never double counts when two workers run the rollup at the same time', async () => {
    const other = createAnalyticsRollup({
      db: t.container.db,
      clock: t.clock,
      logger: t.container.logger,
      settleMs: 0,
      batchSize: 2,
    });
    const before = await report();
    const at = new Date(t.clock.now().getTime() - 60_000);
    for (let i = 0; i < 7; i++) await hit({ email: 'ann@gmail.com', kind: 'open', at });
    await Promise.all([catchUp(), other.catchUp(), other.catchUp()]);
    await catchUp();
    expect((await report()).opens.total).toBe(before.opens.total + 7);
  });

  it('maps addresses to mailbox providers by domain', async () => {
    const cases: Record<string, string> = {
      'a@gmail.com': 'gmail',
      'a@GoogleMail.com': 'gmail',
      'a@outlook.com': 'outlook',
      'a@outlook.de': 'outlook',
      'a@hotmail.fr': 'outlook',
      'a@live.co.uk': 'outlook',
      'a@msn.com': 'outlook',
      'a@yahoo.com': 'yahoo',
      'a@yahoo.co.jp': 'yahoo',
      'a@ymail.com': 'yahoo',
      'a@aol.com': 'yahoo',
      'a@icloud.com': 'apple',
      'a@me.com': 'apple',
      'a@mac.com': 'apple',
      'a@gmail.com.evil.example': 'other',
      'a@notyahoo.com': 'other',
      '"odd@gmail.com"@example.com': 'other',
      'a@example.com': 'other',
    };
    for (const [email, provider] of Object.entries(cases)) {
      const result = await sql<{ p: string }>`SELECT herald_mailbox_provider(${email}) AS p`.execute(
        t.container.db,
      );
      expect(result.rows[0]?.p, email).toBe(provider);
    }
  });

  it('answers 404 for an unknown campaign and 400 for a malformed id', async () => {
    expect((await call('GET', `/v1/campaigns/${uuidv7()}/report`)).body.code).toBe('CAMPAIGN_NOT_FOUND');
    expect((await call('GET', '/v1/campaigns/nope/report')).status).toBe(400);
  });
});

describe('conversions', () => {
  let base: Date;
  const convert = (payload: object, key?: string) => call('POST', '/v1/conversions', payload, key);

  beforeAll(() => {
    t.clock.advance(30 * 24 * HOUR);
    base = t.clock.now();
  });

  it('attributes to the last human click within the window, and not after it', async () => {
    const click = await hit({ email: 'dee@icloud.com', kind: 'click', link: 1, at: base });
    // A scanner click later does not count as the last click.
    await hit({
      email: 'dee@icloud.com',
      kind: 'click',
      link: 0,
      classification: 'scanner',
      at: new Date(base.getTime() + 60_000),
    });
    t.clock.advance(2 * HOUR);
    const inside = await convert({
      contact: { email: 'DEE@icloud.com' },
      revenue: '19.99',
      currency: 'eur',
      event: 'purchase',
    });
    expect(inside.status, JSON.stringify(inside.body)).toBe(201);
    expect(inside.body).toMatchObject({
      contact_id: contacts.get('dee@icloud.com')?.id,
      campaign_id: campaignId,
      click_id: click,
      link_id: links[1],
      attribution: 'last_click',
      revenue: '19.99',
      currency: 'EUR',
      event: 'purchase',
    });

    t.clock.advance(7 * 24 * HOUR);
    const outside = await convert({
      contact: { id: contacts.get('dee@icloud.com')?.id },
      occurred_at: new Date(base.getTime() + 7 * 24 * HOUR + 1000).toISOString(),
      revenue: 5,
      currency: 'EUR',
    });
    expect(outside.status, JSON.stringify(outside.body)).toBe(201);
    expect(outside.body).toMatchObject({ attribution: 'none', campaign_id: null, click_id: null });
    expect(outside.body.contact_id).toBe(contacts.get('dee@icloud.com')?.id);

    // Just inside the 7-day window.
    const edge = await convert({
      contact: { id: contacts.get('dee@icloud.com')?.id },
      occurred_at: new Date(base.getTime() + 7 * 24 * HOUR - 1000).toISOString(),
    });
    expect(edge.body).toMatchObject({ attribution: 'last_click', click_id: click });

    // A conversion before the click is not caused by it.
    const earlier = await convert({
      contact: { id: contacts.get('dee@icloud.com')?.id },
      occurred_at: new Date(base.getTime() - 1000).toISOString(),
    });
    expect(earlier.body.attribution).toBe('none');
  });

  it('takes the latest of several clicks, and click_id over the last click', async () => {
    const other = await call('POST', '/v1/campaigns', { name: 'Second' });
    await sql`UPDATE campaigns SET status = 'sent', started_at = ${t.clock.now()} WHERE id = ${other.body.id}`.execute(
      t.container.db,
    );
    const now = t.clock.now().getTime();
    const first = await hit({
      email: 'eve@example.com',
      kind: 'click',
      link: 0,
      at: new Date(now - 3 * HOUR),
    });
    const last = await hit({
      email: 'eve@example.com',
      kind: 'click',
      campaign: other.body.id,
      at: new Date(now - HOUR),
    });
    const lastClick = await convert({ contact: { external_id: 'none-such' } });
    expect(lastClick.status).toBe(201);
    expect(lastClick.body).toMatchObject({ contact_id: null, attribution: 'none' });

    const byContact = await convert({ contact: { email: 'eve@example.com' } });
    expect(byContact.body).toMatchObject({
      attribution: 'last_click',
      click_id: last,
      campaign_id: other.body.id,
    });

    const byClick = await convert({ click_id: first, revenue: '10', currency: 'USD' });
    expect(byClick.body).toMatchObject({
      attribution: 'click_id',
      click_id: first,
      campaign_id: campaignId,
      contact_id: contacts.get('eve@example.com')?.id,
      revenue: '10.00',
    });

    // A click_id outside the window falls back to the last click within it.
    t.clock.advance(7 * 24 * HOUR - 2 * HOUR);
    const stale = await convert({ click_id: first });
    expect(stale.body).toMatchObject({ attribution: 'last_click', click_id: last });
  });

  it("refuses another workspace's click id and an open's id, writing nothing", async () => {
    const intruder = await t.createWorkspace('Shop B');
    const openId = await hit({ email: 'ann@gmail.com', kind: 'open', at: t.clock.now() });
    const clickId = await hit({ email: 'ann@gmail.com', kind: 'click', link: 0, at: t.clock.now() });
    const before = await databaseSnapshot(t.container.database.pool);
    const foreign = await convert({ click_id: clickId, revenue: '1', currency: 'EUR' }, intruder.adminKey);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ code: 'CLICK_NOT_FOUND' });
    expect(foreign.body.errors[0].path).toBe('/click_id');
    const open = await convert({ click_id: openId });
    expect(open.body.code).toBe('CLICK_NOT_FOUND');
    const unknownContact = await convert({ contact: { id: uuidv7() } });
    expect(unknownContact.body.code).toBe('CONTACT_NOT_FOUND');
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('counts a retried conversion once, and refuses the key with other data', async () => {
    const before = (await report()).conversions;
    const body = {
      contact: { email: 'dee@icloud.com' },
      revenue: 0.1,
      currency: 'EUR',
      idempotency_key: 'order-1001',
    };
    const click = await hit({ email: 'dee@icloud.com', kind: 'click', link: 0, at: t.clock.now() });
    const first = await convert(body);
    expect(first.status).toBe(201);
    expect(first.body.click_id).toBe(click);
    const again = await convert(body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const changed = await convert({ ...body, revenue: '0.2' });
    expect(changed.status).toBe(409);
    expect(changed.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await convert({ ...body, revenue: '0.2', idempotency_key: 'order-1002' })).status).toBe(201);
    expect(
      (await convert({ ...body, currency: 'JPY', revenue: '300', idempotency_key: 'order-1003' })).status,
    ).toBe(201);

    const after = (await report()).conversions;
    expect(after.count).toBe(before.count + 3);
    const eur = after.revenue.find((r: { currency: string }) => r.currency === 'EUR');
    const eurBefore = before.revenue.find((r: { currency: string }) => r.currency === 'EUR');
    // Exact decimals: 0.1 + 0.2 added to what was there, no float error.
    expect(Math.round((Number(eur.amount) - Number(eurBefore?.amount ?? 0)) * 100)).toBe(30);
    expect(eur.amount).toMatch(/^\d+\.\d{2}$/);
    expect(after.revenue.find((r: { currency: string }) => r.currency === 'JPY')).toEqual({
      currency: 'JPY',
      amount: '300',
      conversions: 1,
    });
  });

  it('sums revenue exactly', async () => {
    const c = await call('POST', '/v1/campaigns', { name: 'Exact' });
    await sql`UPDATE campaigns SET status = 'sent' WHERE id = ${c.body.id}`.execute(t.container.db);
    const click = await hit({
      email: 'fay@googlemail.com',
      kind: 'click',
      campaign: c.body.id,
      at: t.clock.now(),
    });
    for (const revenue of ['0.1', 0.2, '0.000001', '-0.05']) {
      expect((await convert({ click_id: click, revenue, currency: 'EUR' })).status).toBe(201);
    }
    expect((await report(c.body.id)).conversions).toEqual({
      count: 4,
      revenue: [{ currency: 'EUR', amount: '0.250001', conversions: 4 }],
    });
  });

  it('refuses bad revenue, currency, contact and dates with the path of each', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const cases: [object, string, string][] = [
      [{ revenue: '10' }, 'VALIDATION_FAILED', '/currency'],
      [{ currency: 'EUR' }, 'VALIDATION_FAILED', '/revenue'],
      [{ revenue: '1e5', currency: 'EUR' }, 'VALIDATION_FAILED', '/revenue'],
      [{ revenue: '12.1234567', currency: 'EUR' }, 'VALIDATION_FAILED', '/revenue'],
      [{ revenue: '', currency: 'EUR' }, 'VALIDATION_FAILED', '/revenue'],
      [{ revenue: 1e21, currency: 'EUR' }, 'VALIDATION_FAILED', '/revenue'],
      [{ revenue: '10', currency: 'ZZZ' }, 'VALIDATION_FAILED', '/currency'],
      [{ revenue: '10', currency: 'EURO' }, 'VALIDATION_FAILED', '/body/currency'],
      [{ revenue: true, currency: 'EUR' }, 'VALIDATION_FAILED', '/body/revenue'],
      [{ contact: {} }, 'VALIDATION_FAILED', '/contact'],
      [
        { contact: { id: contacts.get('ann@gmail.com')?.id, email: 'ann@gmail.com' } },
        'VALIDATION_FAILED',
        '/contact',
      ],
      [{ contact: { email: 'not-an-address' } }, 'INVALID_EMAIL', '/contact/email'],
      [{ contact: { id: 'nope' } }, 'VALIDATION_FAILED', '/body/contact/id'],
      [{ click_id: 'nope' }, 'VALIDATION_FAILED', '/body/click_id'],
      [{ occurred_at: 'yesterday' }, 'VALIDATION_FAILED', '/body/occurred_at'],
      [
        { occurred_at: new Date(t.clock.now().getTime() + 3_600_000).toISOString() },
        'VALIDATION_FAILED',
        '/occurred_at',
      ],
      [{ idempotency_key: '' }, 'VALIDATION_FAILED', '/body/idempotency_key'],
    ];
    for (const [payload, code, path] of cases) {
      const res = await convert(payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect(res.body.code, JSON.stringify(payload)).toBe(code);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(payload),
      ).toContain(path);
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('needs the conversions:write scope', async () => {
    const reader = await t.createKey(['analytics:read']);
    expect((await convert({}, reader)).status).toBe(403);
    const writer = await t.createKey(['conversions:write']);
    expect((await convert({ event: 'signup' }, writer)).status).toBe(201);
  });
});

describe('overview and export', () => {
  it('sums the workspace over a range', async () => {
    await catchUp();
    const from = new Date(sentAt.getTime() - HOUR).toISOString();
    const to = new Date(t.clock.now().getTime() + HOUR).toISOString();
    const all = await call('GET', `/v1/analytics/overview?from=${from}&to=${to}`);
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    const r = await report();
    expect(all.body.sent).toBeGreaterThanOrEqual(6);
    expect(all.body.opens.total).toBeGreaterThanOrEqual(r.opens.total);
    expect(all.body.opens.human_unique).toBeGreaterThanOrEqual(r.opens.human_unique);
    expect(all.body.unsubscribes).toBe(3);
    expect(all.body.conversions.count).toBeGreaterThan(0);
    expect(all.body.conversions.attributed).toBeLessThan(all.body.conversions.count);
    expect(all.body.campaigns.map((c: { id: string }) => c.id)).toContain(campaignId);

    const none = await call(
      'GET',
      `/v1/analytics/overview?from=${new Date(sentAt.getTime() - 48 * HOUR).toISOString()}&to=${new Date(sentAt.getTime() - 24 * HOUR).toISOString()}`,
    );
    expect(none.body).toMatchObject({
      campaigns_started: 0,
      sent: 0,
      opens: { total: 0 },
      clicks: { total: 0 },
      unsubscribes: 0,
      conversions: { count: 0, attributed: 0, revenue: [] },
      campaigns: [],
    });

    const intruder = await t.createWorkspace('Overview intruder');
    const theirs = await call(
      'GET',
      `/v1/analytics/overview?from=${from}&to=${to}`,
      undefined,
      intruder.adminKey,
    );
    expect(theirs.body).toMatchObject({
      sent: 0,
      opens: { total: 0 },
      conversions: { count: 0 },
      campaigns: [],
    });
  });

  it('refuses a reversed, too long or malformed range', async () => {
    const now = t.clock.now().getTime();
    const iso = (ms: number) => new Date(ms).toISOString();
    for (const query of [
      `from=${iso(now)}&to=${iso(now - HOUR)}`,
      `from=${iso(now)}&to=${iso(now)}`,
      `from=${iso(now - 400 * 24 * HOUR)}&to=${iso(now)}`,
      'from=yesterday',
      'to=2026-13-45T00:00:00Z',
      'surprise=1',
    ]) {
      const res = await call('GET', `/v1/analytics/overview?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
  });

  it("streams the campaign's raw events as CSV", async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/campaigns/${campaignId}/events.csv`,
      headers: t.auth(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    const rows = parse(res.body, { columns: true }) as Record<string, string>[];
    const count = await sql<{ n: string }>`
      SELECT count(*) AS n FROM tracking_hits WHERE campaign_id = ${campaignId}`.execute(t.container.db);
    expect(rows).toHaveLength(Number(count.rows[0]?.n));
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'id',
      'occurred_at',
      'kind',
      'classification',
      'reason',
      'contact_id',
      'email',
      'link_id',
      'url',
      'user_agent',
      'ip',
      'reclassified_at',
    ]);
    const ids = rows.map((r) => r.id as string);
    expect([...ids].sort()).toEqual(ids);
    const boClick = rows.find((r) => r.email === 'bo@hotmail.co.uk' && r.kind === 'click');
    expect(boClick).toMatchObject({
      classification: 'scanner',
      reason: 'burst',
      url: 'https://shop.example/a',
    });

    const intruder = await t.createWorkspace('Export intruder');
    const foreign = await t.app.inject({
      method: 'GET',
      url: `/v1/campaigns/${campaignId}/events.csv`,
      headers: t.auth(intruder.adminKey),
    });
    expect(foreign.statusCode).toBe(404);
  });

  it('streams in pages without holding the export in memory', async () => {
    const file = await t.container.analytics.eventsCsv(t.workspaceId, campaignId, { pageSize: 3 });
    let text = '';
    for await (const chunk of file.stream) text += chunk.toString();
    const direct = await t.app.inject({
      method: 'GET',
      url: `/v1/campaigns/${campaignId}/events.csv`,
      headers: t.auth(),
    });
    expect(text).toBe(direct.body);
  });
});
