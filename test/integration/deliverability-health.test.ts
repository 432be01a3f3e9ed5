import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BounceReport } from '../../src/modules/deliverability/index.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * GET /v1/deliverability/health: sends (transactional messages and a
 * campaign through a real SMTP sink) and bounce reports (through the
 * deliverability service) at known moments of the manual clock, then the
 * numbers per mailbox provider for the last 7 and 30 days.
 */

let t: TestApp;
let sink: SmtpSink;
const DAY = 86_400_000;

type Method = 'GET' | 'POST';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function sendMessage(to: string): Promise<void> {
  const accepted = await call('POST', '/v1/messages', {
    to,
    from_email: 'shop@shop.example',
    inline: { subject: 'Receipt', text: 'Thanks' },
  });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  await t.container.messages.send(t.workspaceId, accepted.body.id);
}

let serial = 0;
async function report(recipient: string, type: 'bounce' | 'complaint', severity: 'hard' | 'soft' | null) {
  const bounce: BounceReport = {
    type,
    recipient,
    severity,
    reason: type === 'complaint' ? 'abuse' : severity === 'hard' ? 'user_unknown' : 'mailbox_full',
    status: null,
    replyCode: null,
    diagnostic: null,
    remoteMta: null,
    messageId: null,
    returnPath: null,
    occurredAt: null,
    evidence: {},
    dedupKey: `health-${serial++}`,
  };
  await t.container.routeDeps.deliverability.applyBounce(t.workspaceId, bounce, 'http');
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 }, is_default: true });

  // 35 days ago: outside both windows.
  await sendMessage('old@example.org');
  await report('old@example.org', 'bounce', 'hard');
  t.clock.advance(15 * DAY);
  // 20 days ago: in the 30-day window only.
  for (const to of ['g1@gmail.com', 'g2@gmail.com', 'y1@yahoo.com', 'm1@outlook.com']) await sendMessage(to);
  await report('g1@gmail.com', 'bounce', 'hard');
  await report('y1@yahoo.com', 'complaint', null);
  t.clock.advance(18 * DAY);
  // 2 days ago: in both windows; two of them through a campaign (campaign_sends).
  for (const to of ['g3@googlemail.com', 'm2@hotmail.co.uk', 'a1@icloud.com', 'x1@example.org'])
    await sendMessage(to);
  const list = await call('POST', '/v1/lists', { name: 'News', opt_in: 'single', visibility: 'private' });
  await call('POST', `/v1/lists/${list.body.id}/members`, { emails: ['c1@gmail.com', 'c2@aol.com'] });
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News',
    body: '<p>Hello</p>',
  });
  const campaign = await call('POST', '/v1/campaigns', {
    name: 'News',
    from_email: 'news@shop.example',
    template_id: template.body.id,
    lists: [list.body.id],
  });
  expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
  await t.container.sender.drain();
  await report('m2@hotmail.co.uk', 'bounce', 'soft');
  await report('g3@googlemail.com', 'complaint', null);
  t.clock.advance(2 * DAY);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

const ok = { hard_bounce_rate: 'ok', soft_bounce_rate: 'ok', complaint_rate: 'ok' };

describe('GET /v1/deliverability/health', () => {
  it('counts sends, bounces and complaints per provider for 7 and 30 days, with statuses', async () => {
    const res = await call('GET', '/v1/deliverability/health');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.thresholds.complaint_rate).toEqual({ warning: 0.001, critical: 0.003 });
    const [week, month] = res.body.windows;
    const summary = (w: {
      providers: {
        provider: string;
        sent: number;
        hard_bounces: number;
        soft_bounces: number;
        complaints: number;
      }[];
    }) =>
      Object.fromEntries(
        w.providers.map((p) => [p.provider, [p.sent, p.hard_bounces, p.soft_bounces, p.complaints]]),
      );

    expect(week.days).toBe(7);
    expect(summary(week)).toEqual({
      gmail: [2, 0, 0, 1],
      yahoo: [1, 0, 0, 0],
      microsoft: [1, 0, 1, 0],
      apple: [1, 0, 0, 0],
      other: [1, 0, 0, 0],
    });
    expect(week.total).toMatchObject({ sent: 6, hard_bounces: 0, soft_bounces: 1, complaints: 1 });
    const gmail = week.providers.find((p: { provider: string }) => p.provider === 'gmail');
    expect(gmail).toMatchObject({
      complaint_rate: 0.5,
      status: { ...ok, complaint_rate: 'critical' },
    });

    expect(month.days).toBe(30);
    expect(summary(month)).toEqual({
      gmail: [4, 1, 0, 1],
      yahoo: [2, 0, 0, 1],
      microsoft: [2, 0, 1, 0],
      apple: [1, 0, 0, 0],
      other: [1, 0, 0, 0],
    });
    expect(month.total).toMatchObject({
      sent: 10,
      hard_bounces: 1,
      soft_bounces: 1,
      complaints: 2,
      hard_bounce_rate: 0.1,
      complaint_rate: 0.2,
      status: { hard_bounce_rate: 'critical', soft_bounce_rate: 'critical', complaint_rate: 'critical' },
    });
    const apple = month.providers.find((p: { provider: string }) => p.provider === 'apple');
    expect(apple).toMatchObject({ hard_bounce_rate: 0, status: ok });
  });

  it('needs the suppressions read scope', async () => {
    const key = await t.createKey(['contacts:read']);
    expect((await call('GET', '/v1/deliverability/health', undefined, key)).status).toBe(403);
  });
});
