import { sql } from 'kysely';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignSender } from '../../src/modules/campaigns/index.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Campaigns end to end: the API starts a campaign, the sender renders,
 * builds, DKIM-signs and sends through a real SMTP server, and an independent
 * verifier checks every signature.
 */

let t: TestApp;
let sink: SmtpSink;
const dns = new Map<string, string>();
const resolver = async (name: string, type: string) => {
  const value = dns.get(name.toLowerCase());
  if (type === 'TXT' && value) return [[value]];
  throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
};

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300 && method !== 'GET') return { status: res.statusCode, body: res.json() };
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

let templateId: string;
beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 }, max_concurrency: 8 });
  const domain = await call('POST', '/v1/sending-domains', { domain: 'shop.example', algorithm: 'rsa' });
  expect(domain.status).toBe(201);
  dns.set(domain.body.dns_record.name, domain.body.dns_record.value);
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News for {{ contact.attributes.first_name | default: "you" }}',
    body: '<p>Hello {{ contact.attributes.first_name | default: "there" }} ({{ contact.email }})</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
  });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  templateId = template.body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

/** Adds `count` contacts named `prefix-i@example.com` with a first name to a list, set-based. */
async function fill(listId: string, prefix: string, from: number, to: number) {
  const now = t.clock.now();
  await sql`
    INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
    SELECT gen_random_uuid(), ${t.workspaceId}, ${prefix} || '-' || i || '@example.com',
           jsonb_build_object('first_name', 'Name' || i), ${now}, ${now}
    FROM generate_series(${from}::int, ${to}::int) AS i
    ON CONFLICT DO NOTHING`.execute(t.container.db);
  await sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT ${t.workspaceId}, ${listId}, c.id, 'confirmed', ${now}, ${now}
    FROM contacts c
    WHERE c.workspace_id = ${t.workspaceId}
      AND c.email ~ ${`^${prefix}-[0-9]+@`} AND split_part(split_part(c.email, '@', 1), '-', 2)::int BETWEEN ${from}::int AND ${to}::int
    ON CONFLICT DO NOTHING`.execute(t.container.db);
}

function header(raw: Buffer, name: string): string | undefined {
  const head = raw
    .subarray(0, raw.indexOf('\r\n\r\n'))
    .toString('latin1')
    .replace(/\r\n[ \t]+/g, ' ');
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1];
}

describe('sending a campaign', () => {
  it('sends once to exactly the audience across overlapping lists, personalized and DKIM-signed', async () => {
    const a = (await call('POST', '/v1/lists', { name: 'A', opt_in: 'single' })).body.id;
    const b = (await call('POST', '/v1/lists', { name: 'B', opt_in: 'double' })).body.id;
    const x = (await call('POST', '/v1/lists', { name: 'Excluded', opt_in: 'single' })).body.id;
    await fill(a, 'p', 1, 200); // 200 on A
    await fill(b, 'p', 150, 300); // overlap 150-200, 201-300 only on B
    await fill(x, 'p', 1, 10); // 1-10 excluded
    const unsubscribed = (await call('GET', '/v1/contacts?email=p-20@example.com')).body.data[0];
    await call('PATCH', `/v1/contacts/${unsubscribed.id}`, { status: 'unsubscribed' });
    await call('POST', `/v1/lists/${a}/members/unsubscribe`, { emails: ['p-21@example.com'] });
    const bounced = (await call('GET', '/v1/contacts?email=p-250@example.com')).body.data[0];
    await call('PATCH', `/v1/contacts/${bounced.id}`, { status: 'bounced' });
    const expected = new Set<string>();
    for (let i = 11; i <= 300; i++) if (![20, 21, 250].includes(i)) expected.add(`p-${i}@example.com`);

    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Overlap',
      from_name: 'Shop',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [a, b],
      exclude_lists: [x],
    });
    const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ status: 'sending', progress: { to_send: expected.size } });
    expect(started.body.template_version_id).toEqual(expect.any(String));

    const again = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain('already sending');

    await t.container.sender.drain();
    const received = sink.messages.map((m) => m.to[0] as string);
    expect(received).toHaveLength(expected.size);
    expect(new Set(received)).toEqual(expected);

    const done = await call('GET', `/v1/campaigns/${campaign.body.id}`);
    expect(done.body).toMatchObject({ status: 'sent', progress: { to_send: 287, sent: 287, failed: 0 } });

    const sample = sink.messages.find((m) => m.to[0] === 'p-42@example.com');
    expect(header(sample?.raw as Buffer, 'Subject')).toBe('News for Name42');
    expect(sample?.raw.toString()).toContain('Hello Name42 (p-42@example.com)');
    expect(header(sample?.raw as Buffer, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(sample?.from).toMatch(/^b-[a-z2-7]+@shop\.example$/);

    for (const message of sink.messages.slice(0, 60)) {
      const result = await dkimVerify(message.raw, { resolver, curTime: t.clock.now() });
      expect(result.results[0]?.status.result, result.results[0]?.info).toBe('pass');
      const h = /\bh=([^;]+)/.exec(header(message.raw, 'DKIM-Signature') ?? '')?.[1]?.toLowerCase() ?? '';
      expect(h).toContain('list-unsubscribe');
      expect(h).toContain('list-unsubscribe-post');
    }
  });

  it('shares one campaign between two senders without sending anyone twice', async () => {
    sink.messages.length = 0;
    const list = (await call('POST', '/v1/lists', { name: 'Shared', opt_in: 'single' })).body.id;
    // More than the first sender's four lanes claim at once (4 x 100), so the second gets its share.
    await fill(list, 'shared', 1, 1000);
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Two workers',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [list],
    });
    await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    const second = createCampaignSender({
      db: t.container.db,
      clock: t.clock,
      logger: pino({ level: 'silent' }),
      campaigns: t.container.campaigns,
      ports: t.container.sendingPorts,
      workerId: 'second-worker',
      batchSize: 25,
      onFinished: t.container.afterCampaignSent,
    });
    await Promise.all([t.container.sender.drain(), second.drain()]);
    const received = sink.messages.map((m) => m.to[0]);
    expect(received).toHaveLength(1000);
    expect(new Set(received).size).toBe(1000);
    const byWorker = await t.container.db
      .selectFrom('campaign_sends')
      .select(['claimed_by'])
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('campaign_id', '=', campaign.body.id)
      .groupBy('claimed_by')
      .execute();
    expect(byWorker).toHaveLength(2);
    for (const row of byWorker) expect(Number(row.n)).toBeGreaterThan(0);

    // Once sent, the campaign's tracking hits are classified again together an hour later (scanner bursts span workers).
    const finished = (await call('GET', `/v1/campaigns/${campaign.body.id}`)).body;
    expect(finished.status).toBe('sent');
    const reclassify = await t.container.db
      .selectFrom('jobs')
      .select(['run_at', 'payload'])
      .where('task', '=', 'tracking.reclassify')
      .execute();
    const mine = reclassify.filter(
      (j) => (j.payload as { campaignId?: string }).campaignId === campaign.body.id,
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]?.run_at.getTime()).toBe(new Date(finished.finished_at).getTime() + 3_600_000);
  });

  it('refuses to send or schedule what cannot be sent, with every reason', async () => {
    const empty = (await call('POST', '/v1/lists', { name: 'Empty', opt_in: 'single' })).body.id;
    const bare = await call('POST', '/v1/campaigns', { name: 'Bare' });
    const notReady = await call('POST', `/v1/campaigns/${bare.body.id}/send`);
    expect(notReady.status).toBe(409);
    expect(notReady.body.code).toBe('CAMPAIGN_NOT_READY');
    expect(notReady.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      '/from_email',
      '/lists',
      '/template_id',
    ]);

    const noAudience = await call('POST', '/v1/campaigns', {
      name: 'Nobody',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [empty],
    });
    const res = await call('POST', `/v1/campaigns/${noAudience.body.id}/send`);
    expect(res.body.code).toBe('AUDIENCE_EMPTY');

    const past = await call('POST', `/v1/campaigns/${noAudience.body.id}/schedule`, {
      send_at: new Date(t.clock.now().getTime() - 60_000).toISOString(),
    });
    expect(past.status).toBe(400);
    expect(past.body.code).toBe('SCHEDULE_IN_PAST');
    const garbled = await call('POST', `/v1/campaigns/${noAudience.body.id}/schedule`, {
      send_at: 'next friday',
    });
    expect(garbled.body.detail).toContain('is not a time');
  });

  it('schedules in a time zone, starts when due, and honours pause, resume and cancel', async () => {
    sink.messages.length = 0;
    const list = (await call('POST', '/v1/lists', { name: 'Scheduled', opt_in: 'single' })).body.id;
    await fill(list, 'sched', 1, 30);
    const campaign = (
      await call('POST', '/v1/campaigns', {
        name: 'Later',
        from_email: 'news@shop.example',
        template_id: templateId,
        lists: [list],
      })
    ).body;
    const nowBerlin = new Date(t.clock.now().getTime() + 2 * 3_600_000);
    const local = new Intl.DateTimeFormat('sv-SE', {
      timeZone: 'Europe/Berlin',
      dateStyle: 'short',
      timeStyle: 'short',
    }).format(nowBerlin);
    const scheduled = await call('POST', `/v1/campaigns/${campaign.id}/schedule`, {
      send_at: local.replace(' ', 'T'),
      timezone: 'Europe/Berlin',
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    expect(Math.abs(new Date(scheduled.body.scheduled_at).getTime() - nowBerlin.getTime())).toBeLessThan(
      60_000,
    );

    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(0);
    expect((await call('PATCH', `/v1/campaigns/${campaign.id}`, { name: 'Still editable' })).status).toBe(
      200,
    );
    t.clock.advance(2 * 3_600_000 + 60_000);
    expect(await t.container.campaigns.startDue()).toBe(1);
    expect((await call('GET', `/v1/campaigns/${campaign.id}`)).body.status).toBe('sending');
    expect((await call('PATCH', `/v1/campaigns/${campaign.id}`, { name: 'Too late' })).status).toBe(409);
    expect((await call('POST', `/v1/campaigns/${campaign.id}/pause`)).body.status).toBe('paused');
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(0);
    expect((await call('POST', `/v1/campaigns/${campaign.id}/resume`)).body.status).toBe('sending');
    await t.container.sender.drain();
    expect(new Set(sink.messages.map((m) => m.to[0])).size).toBe(30);
    expect((await call('POST', `/v1/campaigns/${campaign.id}/cancel`)).status).toBe(409);
  });

  it('test-sends to a few addresses with their contact data, without touching the campaign', async () => {
    sink.messages.length = 0;
    const list = (await call('POST', '/v1/lists', { name: 'Test sends', opt_in: 'single' })).body.id;
    await fill(list, 'tester', 1, 3);
    const campaign = (
      await call('POST', '/v1/campaigns', {
        name: 'Try me',
        from_email: 'news@shop.example',
        template_id: templateId,
        lists: [list],
      })
    ).body;
    const res = await call('POST', `/v1/campaigns/${campaign.id}/test`, {
      emails: ['tester-2@example.com', 'Stranger@Example.com'],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results).toEqual([
      { email: 'tester-2@example.com', delivered: true },
      { email: 'Stranger@example.com', delivered: true },
    ]);
    expect(sink.messages.map((m) => m.to[0])).toEqual(['tester-2@example.com', 'Stranger@example.com']);
    expect(header(sink.messages[0]?.raw as Buffer, 'Subject')).toBe('News for Name2');
    expect(header(sink.messages[1]?.raw as Buffer, 'Subject')).toBe('News for you');
    const after = (await call('GET', `/v1/campaigns/${campaign.id}`)).body;
    expect(after).toMatchObject({ status: 'draft', progress: { sent: 0, to_send: 0 } });
    const bad = await call('POST', `/v1/campaigns/${campaign.id}/test`, { emails: ['not-an-address'] });
    expect(bad.status).toBe(400);
  });

  it("keeps to the campaign's rate limit: a round sends one second's allowance, the next second the next", async () => {
    sink.messages.length = 0;
    const list = (await call('POST', '/v1/lists', { name: 'Throttled', opt_in: 'single' })).body.id;
    await fill(list, 'slow', 1, 12);
    const campaign = (
      await call('POST', '/v1/campaigns', {
        name: 'Slow',
        from_email: 'news@shop.example',
        template_id: templateId,
        lists: [list],
        rate_limit_per_second: 5,
      })
    ).body;
    await call('POST', `/v1/campaigns/${campaign.id}/send`);
    const sent: number[] = [];
    for (let second = 0; second < 4; second++) {
      await t.container.sender.round();
      sent.push(sink.messages.length);
      t.clock.advance(1000);
    }
    expect(sent).toEqual([5, 10, 12, 12]);
    expect((await call('GET', `/v1/campaigns/${campaign.id}`)).body.status).toBe('sent');
  });

  it('pauses itself when the failure rate passes the threshold, and says why', async () => {
    sink.messages.length = 0;
    const list = (await call('POST', '/v1/lists', { name: 'Failing', opt_in: 'single' })).body.id;
    // More than the sender's four lanes claim at once (4 x 100): the pause must stop the rest.
    await fill(list, 'fail', 1, 600);
    for (let i = 1; i <= 600; i++)
      if (i % 5 !== 0) sink.reject.set(`fail-${i}@example.com`, { code: 550, message: '5.1.1 no such user' });
    const campaign = (
      await call('POST', '/v1/campaigns', {
        name: 'Bad list',
        from_email: 'news@shop.example',
        template_id: templateId,
        lists: [list],
        failure_threshold: 0.5,
      })
    ).body;
    await call('POST', `/v1/campaigns/${campaign.id}/send`);
    await t.container.sender.drain();
    const paused = (await call('GET', `/v1/campaigns/${campaign.id}`)).body;
    expect(paused.status).toBe('paused');
    expect(paused.status_reason).toMatch(
      /paused automatically: [78]\d% of \d+ recipients failed \(threshold 50%\)/,
    );
    expect(paused.progress.sent + paused.progress.failed).toBeLessThan(600);
    const failed = await t.container.db
      .selectFrom('campaign_sends')
      .select(['status', 'error'])
      .where('campaign_id', '=', campaign.id)
      .where('status', '=', 'failed')
      .executeTakeFirstOrThrow();
    expect(failed.error).toContain('no such user');
    sink.reject.clear();
  });
});
