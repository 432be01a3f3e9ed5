import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Campaign A/B tests and holdout groups end to end: the test group goes out
 * through a real SMTP server, opens arrive through the real open pixel, the
 * winner is chosen by the periodic decision and the remainder gets it; a
 * holdout group receives nothing and is compared on conversions.
 */

let t: TestApp;
let sink: SmtpSink;
let templateId: string;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'example.org'];

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 } });
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'Control subject',
    body: '<p>Hello {{ contact.email }}</p><a href="https://shop.example/sale">Sale</a><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
  });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  templateId = template.body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});
beforeEach(() => {
  sink.messages.length = 0;
});

/** A list of `count` contacts spread over four mailbox providers. */
async function audienceList(prefix: string, count: number): Promise<string> {
  const list = (await call('POST', '/v1/lists', { name: prefix, opt_in: 'single' })).body.id as string;
  const now = t.clock.now();
  await sql`
    INSERT INTO contacts (id, workspace_id, email, created_at, updated_at)
    SELECT gen_random_uuid(), ${t.workspaceId},
           ${prefix} || i || '@' || (${DOMAINS}::text[])[1 + i % 4], ${now}, ${now}
    FROM generate_series(1, ${count}::int) AS i`.execute(t.container.db);
  await sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT ${t.workspaceId}, ${list}, c.id, 'confirmed', ${now}, ${now}
    FROM contacts c WHERE c.workspace_id = ${t.workspaceId} AND c.email LIKE ${`${prefix}%`}`.execute(
    t.container.db,
  );
  return list;
}

function subjectOf(raw: Buffer): string {
  return /^Subject: (.*)$/m.exec(raw.toString('latin1'))?.[1]?.trim() ?? '';
}

function pixelPath(raw: Buffer): string | undefined {
  const text = raw.toString('latin1').replace(/=\r\n/g, '').replace(/=3D/g, '=');
  return /https:\/\/mail\.shop\.example(\/o\/[A-Za-z0-9_-]+)/.exec(text)?.[1];
}

async function ledger(campaignId: string) {
  return t.container.db
    .selectFrom('campaign_sends as s')
    .innerJoin('contacts as c', 'c.id', 's.contact_id')
    .select(['s.contact_id', 's.status', 's.variant', 'c.email'])
    .where('s.campaign_id', '=', campaignId)
    .execute();
}

describe('A/B tests', () => {
  it('sends the test group, picks the variant with more human opens, and sends it to the remainder', async () => {
    const list = await audienceList('ab', 400);
    const created = await call('POST', '/v1/campaigns', {
      name: 'Subject test',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [list],
      ab_test: {
        variants: [{}, { subject: 'Challenger subject' }],
        test_share: 0.5,
        window_minutes: 60,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.ab_test).toMatchObject({
      variants: [
        { name: 'A', subject: null },
        { name: 'B', subject: 'Challenger subject' },
      ],
      test_share: 0.5,
      metric: 'human_unique_opens',
      method: 'frequentist',
      confidence: 0.95,
      when_inconclusive: 'send_leader',
      phase: 'pending',
    });
    const id = created.body.id as string;

    const started = await call('POST', `/v1/campaigns/${id}/send`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body.ab_test).toMatchObject({ phase: 'testing', test_size: 200 });
    // The test group is split evenly, and evenly within each mailbox provider.
    const rows = await ledger(id);
    expect(rows).toHaveLength(200);
    for (const domain of DOMAINS) {
      const perVariant = [0, 1].map(
        (v) => rows.filter((r) => r.variant === v && r.email.endsWith(`@${domain}`)).length,
      );
      expect(Math.abs((perVariant[0] as number) - (perVariant[1] as number))).toBeLessThanOrEqual(1);
    }

    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(200);
    const testing = await call('GET', `/v1/campaigns/${id}`);
    expect(testing.body).toMatchObject({ status: 'testing', ab_test: { phase: 'testing' } });
    expect(testing.body.ab_test.decide_at).toEqual(expect.any(String));

    // B's recipients open far more often than A's, through the real pixel, as people.
    t.clock.advance(5 * 60_000);
    const variantByEmail = new Map(rows.map((r) => [r.email, r.variant]));
    let opened = 0;
    for (const [index, message] of sink.messages.entries()) {
      const variant = variantByEmail.get(message.to[0] as string);
      expect(subjectOf(message.raw)).toBe(variant === 1 ? 'Challenger subject' : 'Control subject');
      const opens = variant === 1 ? index % 5 < 3 : index % 5 === 0; // about 60% against 20%
      if (!opens) continue;
      const hit = await t.app.inject({
        method: 'GET',
        url: pixelPath(message.raw) as string,
        headers: { 'user-agent': CHROME },
      });
      expect(hit.statusCode).toBe(200);
      opened++;
    }
    expect(opened).toBeGreaterThan(60);
    await t.container.tracking.flush();

    // Not yet: the window has not ended.
    await t.container.analyticsRollup.catchUp();
    expect(await t.container.experiments.decideDue()).toBe(0);
    const live = await call('GET', `/v1/campaigns/${id}/ab-test`);
    expect(live.status, JSON.stringify(live.body)).toBe(200);
    expect(live.body).toMatchObject({ phase: 'testing', final: false, winner: null, test_queued: 0 });
    expect(live.body.evaluation.variants[1].value).toBeGreaterThan(live.body.evaluation.variants[0].value);

    t.clock.advance(60 * 60_000);
    await t.container.analyticsRollup.catchUp();
    expect(await t.container.experiments.decideDue()).toBe(1);
    const report = await call('GET', `/v1/campaigns/${id}/ab-test`);
    expect(report.body).toMatchObject({
      phase: 'decided',
      winner: 'B',
      decided_by: 'test',
      final: true,
      evaluation: { outcome: 'winner', winner: 1, chosen_by: 'test', leader: 1 },
    });
    expect(report.body.evaluation.reason).toContain('B wins on human open rate');
    expect(report.body.evaluation.variants[0].adjusted_p_value).toBeLessThan(0.05);
    expect(report.body.evaluation.variants[1].probability_to_be_best).toBeGreaterThan(0.99);

    const remainder = await call('GET', `/v1/campaigns/${id}`);
    expect(remainder.body).toMatchObject({ status: 'sending', ab_test: { winner: 'B', decided_by: 'test' } });
    sink.messages.length = 0;
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(200);
    expect(sink.messages.every((m) => subjectOf(m.raw) === 'Challenger subject')).toBe(true);
    const all = await ledger(id);
    expect(all).toHaveLength(400);
    expect(new Set(all.map((r) => r.contact_id)).size).toBe(400);
    expect(all.every((r) => r.status === 'sent')).toBe(true);
    const sent = await call('GET', `/v1/campaigns/${id}`);
    expect(sent.body).toMatchObject({ status: 'sent', progress: { sent: 400, failed: 0 } });

    // The campaign report counts every recipient once, test group and remainder alike.
    await t.container.analyticsRollup.catchUp();
    const campaignReport = await call('GET', `/v1/campaigns/${id}/report`);
    expect(campaignReport.status).toBe(200);
    const perProvider = campaignReport.body.providers as { sent: number }[];
    expect(perProvider.reduce((n, p) => n + p.sent, 0)).toBe(400);
  });

  it('waits for a person when nothing wins and the policy says wait, then sends the chosen variant', async () => {
    const list = await audienceList('wait', 60);
    const second = await call('POST', '/v1/templates', {
      name: 'Other layout',
      format: 'html',
      subject: 'Layout B',
      body: '<p>Layout B for {{ contact.email }}</p>',
    });
    const created = await call('POST', '/v1/campaigns', {
      name: 'Layout test',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [list],
      random_seed: 'fixed-seed',
      ab_test: {
        variants: [{ name: 'Classic' }, { name: 'New layout', template_id: second.body.id }],
        test_share: 0.5,
        metric: 'human_unique_clicks',
        method: 'bayesian',
        window_minutes: 30,
        when_inconclusive: 'wait',
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.ab_test.confidence).toBe(0.975);
    const id = created.body.id as string;

    // A test send delivers each variant to each address.
    const test = await call('POST', `/v1/campaigns/${id}/test`, { emails: ['qa@shop.example'] });
    expect(test.body.results).toEqual([
      { email: 'qa@shop.example', variant: 'Classic', delivered: true },
      { email: 'qa@shop.example', variant: 'New layout', delivered: true },
    ]);
    expect(sink.messages.map((m) => subjectOf(m.raw))).toEqual(['Control subject', 'Layout B']);
    sink.messages.length = 0;

    const early = await call('POST', `/v1/campaigns/${id}/ab-test/winner`, { variant: 'Classic' });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('is draft');

    const started = await call('POST', `/v1/campaigns/${id}/send`);
    expect(started.status).toBe(200);
    // Half of each provider's 15 contacts, rounded: 8 each.
    expect(started.body.ab_test.test_size).toBe(32);
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(32);
    t.clock.advance(31 * 60_000);
    await t.container.analyticsRollup.catchUp();
    expect(await t.container.experiments.decideDue()).toBe(1);
    const waiting = await call('GET', `/v1/campaigns/${id}`);
    expect(waiting.body).toMatchObject({ status: 'testing', ab_test: { phase: 'waiting', winner: null } });
    expect(waiting.body.status_reason).toContain('waiting for a person');
    // Nothing more goes out while it waits.
    expect(await t.container.sender.drain()).toBe(0);

    const unknown = await call('POST', `/v1/campaigns/${id}/ab-test/winner`, { variant: 'C' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain('not one of Classic, New layout');
    const chosen = await call('POST', `/v1/campaigns/${id}/ab-test/winner`, { variant: 'new LAYOUT' });
    expect(chosen.status, JSON.stringify(chosen.body)).toBe(200);
    expect(chosen.body).toMatchObject({
      status: 'sending',
      ab_test: { phase: 'decided', winner: 'New layout', decided_by: 'manual' },
    });
    const again = await call('POST', `/v1/campaigns/${id}/ab-test/winner`, { variant: 'Classic' });
    expect(again.status).toBe(409);

    sink.messages.length = 0;
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(28);
    expect(sink.messages.every((m) => subjectOf(m.raw) === 'Layout B')).toBe(true);
  });

  it('sends a send-time variant later, and the same seed deals the same groups', async () => {
    const list = await audienceList('later', 40);
    const settings = {
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [list],
      random_seed: 'same-seed',
      ab_test: {
        variants: [{ name: 'Now' }, { name: 'In an hour', send_delay_minutes: 60 }],
        test_share: 1,
      },
    };
    const first = (await call('POST', '/v1/campaigns', { name: 'Time 1', ...settings })).body.id as string;
    const second = (await call('POST', '/v1/campaigns', { name: 'Time 2', ...settings })).body.id as string;
    expect((await call('POST', `/v1/campaigns/${first}/send`)).status).toBe(200);
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(20);
    const report = await call('GET', `/v1/campaigns/${first}/ab-test`);
    expect(report.body.test_queued).toBe(20);
    expect((await call('GET', `/v1/campaigns/${first}`)).body.status).toBe('sending');
    t.clock.advance(60 * 60_000);
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(40);
    expect((await call('GET', `/v1/campaigns/${first}`)).body.status).toBe('testing');

    expect((await call('POST', `/v1/campaigns/${second}/send`)).status).toBe(200);
    const a = new Map((await ledger(first)).map((r) => [r.contact_id, r.variant]));
    const b = new Map((await ledger(second)).map((r) => [r.contact_id, r.variant]));
    expect(b).toEqual(a);
    await call('POST', `/v1/campaigns/${second}/cancel`);
  });

  it('judges revenue per recipient from conversions within the window of each send', async () => {
    const list = await audienceList('rev', 40);
    const created = await call('POST', '/v1/campaigns', {
      name: 'Offer test',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [list],
      ab_test: {
        variants: [{ name: 'Plain' }, { name: 'Offer', subject: '20% off today' }],
        test_share: 1,
        metric: 'revenue_per_recipient',
        revenue_currency: 'EUR',
        window_minutes: 120,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect((await call('POST', `/v1/campaigns/${id}/send`)).status).toBe(200);
    await t.container.sender.drain();
    const rows = await ledger(id);
    t.clock.advance(30 * 60_000);
    // Most Offer recipients buy within the window; Plain recipients buy only days later (not counted).
    for (const [i, row] of rows.entries()) {
      if (row.variant === 1 && i % 4 !== 0) {
        const res = await call('POST', '/v1/conversions', {
          contact: { id: row.contact_id },
          revenue: '50.00',
          currency: 'EUR',
        });
        expect(res.status).toBe(201);
      }
    }
    t.clock.advance(3 * 24 * 3_600_000);
    for (const row of rows.filter((r) => r.variant === 0)) {
      await call('POST', '/v1/conversions', {
        contact: { id: row.contact_id },
        revenue: '80.00',
        currency: 'EUR',
      });
    }
    await t.container.analyticsRollup.catchUp();
    // (An earlier test's campaign, left testing, is decided in the same pass.)
    expect(await t.container.experiments.decideDue()).toBeGreaterThanOrEqual(1);
    const report = await call('GET', `/v1/campaigns/${id}/ab-test`);
    expect(report.body).toMatchObject({
      winner: 'Offer',
      decided_by: 'test',
      metric: 'revenue_per_recipient',
    });
    const [plain, offer] = report.body.evaluation.variants;
    expect(plain.value).toBe(0);
    expect(offer.value).toBeGreaterThan(30);
    expect(offer.successes).toBe(rows.filter((r, i) => r.variant === 1 && i % 4 !== 0).length);
  });

  it('refuses A/B settings that cannot work, saying which field is wrong', async () => {
    const base = { name: 'Bad', from_email: 'news@shop.example', template_id: templateId };
    const cases: [object, number, string][] = [
      [{ variants: [{}] }, 400, 'variants'],
      [{ variants: [{ name: 'X' }, { name: 'x', subject: 'Other' }] }, 400, 'already used'],
      [{ variants: [{ subject: 'Same' }, { subject: 'Same' }] }, 400, 'is the same as variant'],
      [{ variants: [{}, { subject: 'Hi' }], metric: 'revenue_per_recipient' }, 400, 'revenue_currency'],
      [{ variants: [{}, { subject: 'Hi {{ contact.email' }] }, 400, '/ab_test/variants/1'],
      [{ variants: [{}, { template_id: '00000000-0000-4000-8000-000000000000' }] }, 404, 'does not exist'],
      [{ variants: [{}, { subject: 'Hi' }], test_share: 0 }, 400, 'test_share'],
      [{ variants: [{}, { subject: 'Hi' }], confidence: 1 }, 400, 'confidence'],
    ];
    for (const [abTest, status, text] of cases) {
      const res = await call('POST', '/v1/campaigns', { ...base, ab_test: abTest });
      expect(res.status, JSON.stringify(abTest)).toBe(status);
      expect(JSON.stringify(res.body), JSON.stringify(abTest)).toContain(text);
    }
    const sto = await call('POST', '/v1/campaigns', {
      ...base,
      send_time_optimization: true,
      ab_test: { variants: [{}, { send_delay_minutes: 30 }] },
    });
    expect(sto.status).toBe(400);
    expect(sto.body.errors[0].path).toBe('/ab_test/variants/1/send_delay_minutes');

    // A test group too small for its variants is refused at the start, and nothing is written.
    const list = await audienceList('tiny', 3);
    const tiny = await call('POST', '/v1/campaigns', {
      ...base,
      lists: [list],
      ab_test: { variants: [{}, { subject: 'B' }, { subject: 'C' }], test_share: 0.1 },
    });
    const refused = await call('POST', `/v1/campaigns/${tiny.body.id}/send`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('raise test_share');
    expect(await ledger(tiny.body.id)).toHaveLength(0);
    expect((await call('GET', `/v1/campaigns/${tiny.body.id}`)).body.status).toBe('draft');

    const plain = await call('POST', '/v1/campaigns', { ...base, name: 'Plain' });
    expect((await call('GET', `/v1/campaigns/${plain.body.id}/ab-test`)).status).toBe(404);
  });

  it('keeps another workspace out', async () => {
    const other = await t.createWorkspace();
    const mine = await call('POST', '/v1/campaigns', {
      name: 'Mine',
      from_email: 'news@shop.example',
      template_id: templateId,
      ab_test: { variants: [{}, { subject: 'B' }] },
    });
    const read = await call('GET', `/v1/campaigns/${mine.body.id}/ab-test`, undefined, other.adminKey);
    expect(read.status).toBe(404);
    const choose = await call(
      'POST',
      `/v1/campaigns/${mine.body.id}/ab-test/winner`,
      { variant: 'B' },
      other.adminKey,
    );
    expect(choose.status).toBe(404);
    const holdout = await call('GET', `/v1/campaigns/${mine.body.id}/holdout`, undefined, other.adminKey);
    expect(holdout.status).toBe(404);
  });
});

describe('holdout groups', () => {
  it('sends nobody in the holdout and compares conversions with the recipients', async () => {
    const list = await audienceList('hold', 300);
    const created = await call('POST', '/v1/campaigns', {
      name: 'Holdout',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [list],
      holdout_share: 0.2,
    });
    expect(created.body.holdout_share).toBe(0.2);
    const id = created.body.id as string;
    const started = await call('POST', `/v1/campaigns/${id}/send`);
    expect(started.status).toBe(200);
    await t.container.sender.drain();
    const rows = await ledger(id);
    const held = rows.filter((r) => r.status === 'holdout');
    const sent = rows.filter((r) => r.status === 'sent');
    expect(rows).toHaveLength(300);
    expect(held.length).toBeGreaterThan(30);
    expect(held.length).toBeLessThan(90);
    expect(started.body.progress.to_send).toBe(sent.length);
    expect(sink.messages).toHaveLength(sent.length);
    const received = new Set(sink.messages.map((m) => m.to[0]));
    expect(held.some((r) => received.has(r.email))).toBe(false);
    expect((await call('GET', `/v1/campaigns/${id}`)).body).toMatchObject({
      status: 'sent',
      progress: { sent: sent.length },
    });

    // Half the recipients buy, a tenth of the held-out contacts do.
    t.clock.advance(60 * 60_000);
    const buyers = [...sent.filter((_, i) => i % 2 === 0), ...held.filter((_, i) => i % 10 === 0)];
    for (const buyer of buyers) {
      const res = await call('POST', '/v1/conversions', {
        contact: { id: buyer.contact_id },
        revenue: '10.00',
        currency: 'EUR',
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const report = await call('GET', `/v1/campaigns/${id}/holdout`);
    expect(report.status, JSON.stringify(report.body)).toBe(200);
    expect(report.body.treated).toMatchObject({
      contacts: sent.length,
      converters: Math.ceil(sent.length / 2),
    });
    expect(report.body.holdout).toMatchObject({
      contacts: held.length,
      converters: Math.ceil(held.length / 10),
    });
    expect(report.body.lift.difference).toBeGreaterThan(0.3);
    expect(report.body.lift.p_value).toBeLessThan(0.001);
    const eur = report.body.lift.revenue_per_contact.find((r: { currency: string }) => r.currency === 'EUR');
    expect(eur.treated).toBeCloseTo((Math.ceil(sent.length / 2) * 10) / sent.length, 6);

    const none = await call('POST', '/v1/campaigns', { name: 'No holdout', template_id: templateId });
    expect((await call('GET', `/v1/campaigns/${none.body.id}/holdout`)).status).toBe(404);
  });
});
