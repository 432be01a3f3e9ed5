import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Bounce and complaint guardrails: a sending campaign pauses itself when its
 * hard-bounce rate (synchronous 550 5.1.1 refusals from a real SMTP server)
 * or its complaint rate (an ARF report through POST /v1/inbound/raw) passes
 * its threshold after its minimum sample. Samples are lowered per campaign
 * to keep the test small; a per-second rate limit with the manual clock
 * standing still stops a campaign half-way, still sending. A workspace's
 * guardrail defaults (deliverability settings) are what new campaigns that
 * set none take.
 */

let t: TestApp;
let sink: SmtpSink;
let templateId: string;

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** A list whose members are created in the order given (contact ids, hence claim order, follow the clock). */
async function listOf(name: string, batches: string[][]): Promise<string> {
  const list = await call('POST', '/v1/lists', { name, opt_in: 'single', visibility: 'private' });
  for (const emails of batches) {
    t.clock.advance(1000);
    const added = await call('POST', `/v1/lists/${list.body.id}/members`, { emails });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
  }
  return list.body.id;
}

async function startCampaign(name: string, listId: string, settings: object): Promise<string> {
  const campaign = await call('POST', '/v1/campaigns', {
    name,
    from_email: 'news@shop.example',
    template_id: templateId,
    lists: [listId],
    failure_threshold: 1,
    ...settings,
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  return campaign.body.id;
}

const addresses = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}@example.org`);

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 }, is_default: true });
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News',
    body: '<p>Hello</p>',
  });
  templateId = template.body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('campaign guardrails', () => {
  it('has the bulk-sender defaults, in the workspace settings too', async () => {
    expect((await call('GET', '/v1/deliverability/settings')).body).toMatchObject({
      hard_bounce_threshold: 0.05,
      complaint_threshold: 0.003,
      guardrail_min_sent: 500,
    });
    const list = await listOf('Defaults', [['someone@example.org']]);
    const created = await call('POST', '/v1/campaigns', {
      name: 'Defaults',
      template_id: templateId,
      lists: [list],
    });
    expect(created.body).toMatchObject({
      hard_bounce_threshold: 0.05,
      complaint_threshold: 0.003,
      guardrail_min_sent: 500,
    });
  });

  it('pauses a campaign whose hard-bounce rate passes the threshold, with the reason', async () => {
    const gone = addresses('gone', 5);
    for (const email of gone)
      sink.reject.set(email, { code: 550, message: `5.1.1 <${email}>: User unknown` });
    // The first 10 recipients claimed (one second's rate limit) include the 5 refused ones.
    const list = await listOf('Bouncy', [[...gone, ...addresses('early', 5)], addresses('late', 20)]);
    const id = await startCampaign('Bouncy', list, {
      hard_bounce_threshold: 0.05,
      guardrail_min_sent: 10,
      rate_limit_per_second: 10,
    });
    await t.container.sender.drain();
    const campaign = (await call('GET', `/v1/campaigns/${id}`)).body;
    expect(campaign.status).toBe('paused');
    expect(campaign.status_reason).toBe(
      'paused automatically: hard-bounce rate 50% (5 of 10 sent) is over the threshold of 5%; clean the audience, then resume',
    );
    // Paused at the threshold: the recipients after the first batch were never sent to.
    t.clock.advance(5000);
    await t.container.sender.drain();
    expect(sink.messages.filter((m) => m.to[0]?.startsWith('late'))).toHaveLength(0);
  });

  it('lets a campaign below the threshold finish', async () => {
    sink.reject.set('once0@example.org', { code: 550, message: '5.1.1 User unknown' });
    const list = await listOf('Clean', [['once0@example.org', ...addresses('clean', 29)]]);
    // 1 hard bounce in 30 sent: 3.3%, under 5%.
    const id = await startCampaign('Clean', list, { hard_bounce_threshold: 0.05, guardrail_min_sent: 10 });
    await t.container.sender.drain();
    const campaign = (await call('GET', `/v1/campaigns/${id}`)).body;
    expect(campaign).toMatchObject({
      status: 'sent',
      status_reason: null,
      progress: { sent: 29, failed: 1 },
    });
  });

  it('does not judge before the minimum sample', async () => {
    sink.reject.set('few0@example.org', { code: 550, message: '5.1.1 User unknown' });
    const list = await listOf('Few', [['few0@example.org', ...addresses('few-ok', 9)]]);
    // 10% hard bounces, but only 10 of the 500 (default) needed to judge.
    const id = await startCampaign('Few', list, {});
    await t.container.sender.drain();
    expect((await call('GET', `/v1/campaigns/${id}`)).body.status).toBe('sent');
  });

  it('pauses a still-sending campaign when a complaint about it arrives over 0.3%', async () => {
    const list = await listOf('Complained', [addresses('first', 10), addresses('second', 10)]);
    const id = await startCampaign('Complained', list, { guardrail_min_sent: 10, rate_limit_per_second: 10 });
    await t.container.sender.drain();
    expect((await call('GET', `/v1/campaigns/${id}`)).body).toMatchObject({
      status: 'sending',
      progress: { sent: 10 },
    });

    const [send] = (
      await t.container.database.pool.query(
        `SELECT s.message_id, c.email FROM campaign_sends s JOIN contacts c ON c.id = s.contact_id
         WHERE s.campaign_id = $1 AND s.status = 'sent' ORDER BY c.email LIMIT 1`,
        [id],
      )
    ).rows;
    const messageId = String(send.message_id).replace(/^<|>$/g, '');
    const report = [
      'From: staff@hotmail.com',
      'To: abuse@shop.example',
      'Subject: complaint about message',
      'Message-Id: <arf-guardrail@hotmail.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="A"',
      '',
      '--A',
      'Content-Type: text/plain',
      '',
      'This is an email abuse report.',
      '',
      '--A',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: SomeGenerator/1.0',
      'Version: 1',
      `Original-Rcpt-To: ${send.email}`,
      '',
      '--A',
      'Content-Type: message/rfc822',
      '',
      'From: news@shop.example',
      `To: ${send.email}`,
      `Message-ID: <${messageId}>`,
      'Subject: News',
      '',
      'Hello',
      '--A--',
      '',
    ].join('\r\n');
    const piped = await t.app.inject({
      method: 'POST',
      url: '/v1/inbound/raw',
      headers: { ...t.auth(), 'content-type': 'message/rfc822' },
      payload: report,
    });
    expect(piped.statusCode, piped.body).toBe(200);
    expect(piped.json().results[0]).toMatchObject({ type: 'complaint', campaign_id: id });

    const campaign = (await call('GET', `/v1/campaigns/${id}`)).body;
    expect(campaign.status).toBe('paused');
    expect(campaign.status_reason).toBe(
      'paused automatically: complaint rate 10% (1 of 10 sent) is over the threshold of 0.3%; clean the audience, then resume',
    );
  });

  it('gives new campaigns that set none the workspace defaults, which then pause them', async () => {
    const list = await listOf('Workspace defaults', [
      [...addresses('wsgone', 3), ...addresses('wsearly', 7)],
    ]);
    const before = await call('POST', '/v1/campaigns', { name: 'Before', template_id: templateId });
    const bad = await call('PATCH', '/v1/deliverability/settings', {
      hard_bounce_threshold: 0,
      guardrail_min_sent: 0.5,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('hard_bounce_threshold');
    const patched = await call('PATCH', '/v1/deliverability/settings', {
      hard_bounce_threshold: 0.2,
      complaint_threshold: 0.001,
      guardrail_min_sent: 10,
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({
      hard_bounce_threshold: 0.2,
      complaint_threshold: 0.001,
      guardrail_min_sent: 10,
      soft_bounce_threshold: 3,
    });

    const own = await call('POST', '/v1/campaigns', {
      name: 'Own',
      template_id: templateId,
      hard_bounce_threshold: 0.1,
    });
    expect(own.body).toMatchObject({
      hard_bounce_threshold: 0.1,
      complaint_threshold: 0.001,
      guardrail_min_sent: 10,
    });
    // Existing campaigns keep theirs; another workspace keeps Herald's.
    expect((await call('GET', `/v1/campaigns/${before.body.id}`)).body).toMatchObject({
      hard_bounce_threshold: 0.05,
      complaint_threshold: 0.003,
      guardrail_min_sent: 500,
    });
    const other = await t.createWorkspace('Other defaults');
    const elsewhere = await t.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: t.auth(other.adminKey),
      payload: { name: 'Elsewhere' },
    });
    expect(elsewhere.json()).toMatchObject({ hard_bounce_threshold: 0.05, guardrail_min_sent: 500 });

    // 3 hard bounces in the first 10 sent: 30%, over the workspace's 20% after its sample of 10.
    for (const email of addresses('wsgone', 3))
      sink.reject.set(email, { code: 550, message: `5.1.1 <${email}>: User unknown` });
    const id = await startCampaign('Workspace defaults', list, {});
    await t.container.sender.drain();
    const campaign = (await call('GET', `/v1/campaigns/${id}`)).body;
    expect(campaign).toMatchObject({ status: 'paused', hard_bounce_threshold: 0.2, guardrail_min_sent: 10 });
    expect(campaign.status_reason).toContain(
      'hard-bounce rate 30% (3 of 10 sent) is over the threshold of 20%',
    );
    // Its last batch paused it with nobody left: resuming finishes it, sending nothing again.
    const sentBefore = sink.messages.length;
    expect((await call('POST', `/v1/campaigns/${id}/resume`)).body.status).toBe('sending');
    await t.container.sender.drain();
    expect((await call('GET', `/v1/campaigns/${id}`)).body).toMatchObject({
      status: 'sent',
      progress: { sent: 7, failed: 3 },
    });
    expect(sink.messages.length).toBe(sentBefore);

    // null: back to Herald's defaults.
    const reset = await call('PATCH', '/v1/deliverability/settings', {
      hard_bounce_threshold: null,
      complaint_threshold: null,
      guardrail_min_sent: null,
    });
    expect(reset.body).toMatchObject({
      hard_bounce_threshold: 0.05,
      complaint_threshold: 0.003,
      guardrail_min_sent: 500,
    });
    const after = await call('POST', '/v1/campaigns', { name: 'After', template_id: templateId });
    expect(after.body).toMatchObject({
      hard_bounce_threshold: 0.05,
      complaint_threshold: 0.003,
      guardrail_min_sent: 500,
    });
  });
});
