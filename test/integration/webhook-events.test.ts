import { createHmac } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES } from '../../src/modules/webhooks/index.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Every webhook event type, emitted by a real action through the API (a
 * campaign sent to an SMTP sink, its pixel and link requested over HTTP, a
 * one-click unsubscribe, a bounce and a spam complaint through the MTA pipe, a signed Mailgun
 * delivery webhook, a conversion, an automation run, a segment check), delivered to a receiver on
 * 127.0.0.1 and verified with the standardwebhooks package.
 */
let t: TestApp;
let sink: SmtpSink;
let receiver: WebhookReceiver;
let origin: string;
let secret: string;
const MAILGUN_KEY = 'key-mailgun-signing-webhook-events';
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

interface Payload {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { contact?: { id: string; email: string; external_id: string | null } };
}

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

beforeAll(async () => {
  t = await createTestApp({
    HERALD_PUBLIC_URL: 'https://mail.shop.example',
    HERALD_WEBHOOKS_ALLOW_HTTP: 'true',
    HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
  });
  sink = await startSmtpSink();
  receiver = await startWebhookReceiver();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await t.addSinkTransport(sink, { is_default: true });
  const settings = await call('PATCH', '/v1/deliverability/settings', { mailgun_signing_key: MAILGUN_KEY });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  const endpoint = await call('POST', '/v1/webhooks/endpoints', { url: `${receiver.url}/all` });
  expect(endpoint.status).toBe(201);
  secret = endpoint.body.secret;
});

afterAll(async () => {
  await t?.close();
  await sink?.close();
  await receiver?.close();
});

/** The Message-ID header of a captured message. */
function messageIdOf(raw: Buffer): string | undefined {
  return /^Message-ID:\s*(.+)$/im.exec(raw.toString('latin1'))?.[1]?.trim();
}

/** Hands a report to the MTA pipe endpoint, as the mail server would. */
async function pipe(raw: string): Promise<void> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/inbound/raw',
    headers: { ...t.auth(), 'content-type': 'message/rfc822' },
    payload: raw,
  });
  expect(res.statusCode, res.body).toBe(200);
}

/** Delivers what is due and returns the payloads received so far, each verified. */
async function received(): Promise<Payload[]> {
  await t.container.tracking.flush();
  await t.container.webhookDispatcher.drain();
  // The clock has moved past the package's 5-minute tolerance: its sign() checks the signature instead.
  return receiver.received.map((r) => {
    const id = r.headers['webhook-id'] as string;
    const timestamp = new Date(Number(r.headers['webhook-timestamp']) * 1000);
    expect(r.headers['webhook-signature']).toBe(new Webhook(secret).sign(id, timestamp, r.body));
    return JSON.parse(r.body) as Payload;
  });
}

const local = (url: string) => `${origin}${new URL(url).pathname}`;

describe('webhook events from real actions', () => {
  it('emits every event type', async () => {
    // segment.entered needs a segment checked once before the contact matches.
    const segment = await call('POST', '/v1/segments', {
      name: 'VIP',
      definition: { attribute: 'plan', operator: 'equals', value: 'vip' },
    });
    expect(segment.status, JSON.stringify(segment.body)).toBe(201);
    await t.container.segmentMembership.refresh();

    // contact.created, contact.updated
    const reader = (await call('POST', '/v1/contacts', { email: 'reader@example.com', external_id: 'crm-7' }))
      .body.id as string;
    const bouncer = (await call('POST', '/v1/contacts', { email: 'bouncer@example.org' })).body.id as string;
    expect((await call('PATCH', `/v1/contacts/${reader}`, { attributes: { plan: 'vip' } })).status).toBe(200);

    // segment.entered, then segment.exited
    t.clock.advance(120_000);
    await t.container.segmentMembership.refresh();
    expect((await call('PATCH', `/v1/contacts/${reader}`, { attributes: { plan: 'free' } })).status).toBe(
      200,
    );
    t.clock.advance(120_000);
    await t.container.segmentMembership.refresh();

    // message.sent: a campaign through the SMTP sink
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News',
      body: '<p>Hi</p><p><a href="https://shop.example/sale">Sale</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const list = (await call('POST', '/v1/lists', { name: 'News', opt_in: 'single' })).body.id;
    await call('POST', `/v1/lists/${list}/members`, { contact_ids: [reader, bouncer] });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'News',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list],
    });
    expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
    // The sender's subscription cache: fresh in this process (the endpoint was created here).
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(2);

    // message.opened, message.clicked: the pixel and the link of the captured message, over HTTP
    const message = sink.messages.find((m) => m.to[0] === 'reader@example.com');
    const html = String((await simpleParser(message?.raw as Buffer)).html || '');
    const pixel = /<img src="(https:\/\/mail\.shop\.example\/o\/[A-Za-z0-9_-]+)"/.exec(html)?.[1];
    const links = [...html.matchAll(/href="(https:\/\/mail\.shop\.example\/c\/[A-Za-z0-9_-]+)"/g)].map(
      (m) => m[1] as string,
    );
    t.clock.advance(10 * 60_000);
    expect((await fetch(local(pixel as string), { headers: { 'user-agent': CHROME } })).status).toBe(200);
    t.clock.advance(30_000);
    const click = await fetch(local(links[1] as string), {
      headers: { 'user-agent': CHROME },
      redirect: 'manual',
    });
    expect(click.status).toBe(302);
    const hid = new URL(click.headers.get('location') as string).searchParams.get('hid');
    await t.container.tracking.flush();

    // conversion.created
    const conversion = await call('POST', '/v1/conversions', {
      click_id: hid,
      revenue: '10.00',
      currency: 'EUR',
    });
    expect(conversion.status, JSON.stringify(conversion.body)).toBe(201);

    // message.bounced: a DSN through the MTA pipe, naming the sent message
    const bounced = sink.messages.find((m) => m.to[0] === 'bouncer@example.org');
    if (!bounced || !message) throw new Error('the campaign messages were not captured');
    const messageId = messageIdOf(bounced.raw);
    const dsn = [
      'From: MAILER-DAEMON@mx.example.org',
      'To: bounces@shop.example',
      'Subject: Undelivered Mail Returned to Sender',
      'Message-Id: <dsn-1@mx.example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
      '',
      '--B',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.org',
      '',
      'Final-Recipient: rfc822; bouncer@example.org',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
      '',
      '--B',
      'Content-Type: text/rfc822-headers',
      '',
      'From: news@shop.example',
      'To: bouncer@example.org',
      `Message-ID: ${messageId}`,
      '',
      '--B--',
      '',
    ].join('\r\n');
    await pipe(dsn);

    // contact.unsubscribed: the one-click unsubscribe of the received message
    const unsubscribe = /^List-Unsubscribe:.*?<(https:\/\/mail\.shop\.example\/u\/[^>]+)>/im.exec(
      message.raw.toString('latin1').replace(/\r\n[ \t]+/g, ' '),
    )?.[1];
    const unsubscribed = await t.app.inject({
      method: 'POST',
      url: new URL(unsubscribe as string).pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(unsubscribed.statusCode, unsubscribed.body).toBe(200);

    // automation.entered, automation.completed
    const automation = await call('POST', '/v1/automations', {
      name: 'Welcome',
      definition: { trigger: { type: 'api' }, start: 'done', nodes: [{ id: 'done', type: 'exit' }] },
    });
    expect(automation.status, JSON.stringify(automation.body)).toBe(201);
    expect((await call('POST', `/v1/automations/${automation.body.id}/publish`, {})).status).toBeLessThan(
      300,
    );
    const enrolled = await call('POST', `/v1/automations/${automation.body.id}/enroll`, {
      contact: { id: reader },
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBeLessThan(300);
    await t.container.automationEngine.drain();

    const readerMessageId = messageIdOf(message.raw);
    // message.delivered: Mailgun reports the reader's message delivered, in a webhook signed with the workspace's key
    const timestamp = String(Math.floor(t.clock.now().getTime() / 1000));
    const token = 'delivery-token-1';
    const delivered = await t.app.inject({
      method: 'POST',
      url: `/webhooks/mailgun/${t.workspaceId}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        signature: {
          timestamp,
          token,
          signature: createHmac('sha256', MAILGUN_KEY)
            .update(timestamp + token)
            .digest('hex'),
        },
        'event-data': {
          event: 'delivered',
          recipient: 'reader@example.com',
          timestamp: t.clock.now().getTime() / 1000,
          message: { headers: { 'message-id': readerMessageId?.replace(/^<|>$/g, '') } },
        },
      }),
    });
    expect(delivered.statusCode, delivered.body).toBe(200);

    // message.complained (last: it suppresses the reader): the reader's mailbox provider reports the message as
    // spam (ARF) through the same pipe
    const arf = [
      'From: staff@mailbox.example.org',
      'To: fbl@shop.example',
      'Subject: complaint about message from 198.51.100.7',
      'Message-Id: <arf-1@mailbox.example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"',
      '',
      '--arf',
      'Content-Type: text/plain; charset="US-ASCII"',
      '',
      'This is an email abuse report.',
      '',
      '--arf',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: SomeGenerator/1.0',
      'Version: 1',
      'Original-Rcpt-To: <reader@example.com>',
      '',
      '--arf',
      'Content-Type: text/rfc822-headers',
      '',
      'From: news@shop.example',
      'To: reader@example.com',
      `Message-ID: ${readerMessageId}`,
      '',
      '--arf--',
      '',
    ].join('\r\n');
    await pipe(arf);

    const events = await received();
    const types = new Set(events.map((e) => e.type));
    // Shop orders update and delete conversions (shop-webhooks.test.ts: a refund, a cancellation).
    const elsewhere = ['conversion.updated', 'conversion.deleted'];
    const missing = WEBHOOK_EVENT_TYPES.filter((type) => !types.has(type) && !elsewhere.includes(type));
    expect(missing).toEqual([]);
    const byType = (type: string) => events.filter((e) => e.type === type);
    expect(
      byType('contact.created')
        .map((e) => e.data.contact?.email)
        .sort(),
    ).toEqual(['bouncer@example.org', 'reader@example.com']);
    expect(
      byType('contact.created').find((e) => e.data.contact?.id === reader)?.data.contact?.external_id,
    ).toBe('crm-7');
    expect(byType('segment.entered')[0]?.data).toMatchObject({
      segment_id: segment.body.id,
      contact: { id: reader },
    });
    expect(byType('segment.exited')[0]?.data).toMatchObject({
      segment_id: segment.body.id,
      contact: { id: reader },
    });
    expect(byType('message.sent')).toHaveLength(2);
    expect(byType('message.sent')[0]?.data).toMatchObject({ campaign_id: campaign.body.id });
    expect(byType('message.opened')[0]?.data).toMatchObject({
      campaign_id: campaign.body.id,
      classification: 'human',
    });
    expect(byType('message.clicked')[0]?.data).toMatchObject({ hit_id: hid, classification: 'human' });
    expect(byType('conversion.created')[0]?.data).toMatchObject({
      currency: 'EUR',
      campaign_id: campaign.body.id,
      attribution: 'click_id',
      contact: { id: reader },
    });
    expect(byType('message.bounced')[0]?.data).toMatchObject({ severity: 'hard', contact: { id: bouncer } });
    expect(byType('message.delivered')).toHaveLength(1);
    expect(byType('message.delivered')[0]?.data).toMatchObject({
      campaign_id: campaign.body.id,
      source: 'mailgun',
      contact: { id: reader },
    });
    expect(byType('message.complained')).toHaveLength(1);
    expect(byType('message.complained')[0]?.data).toMatchObject({
      campaign_id: campaign.body.id,
      contact: { id: reader },
    });
    expect(byType('contact.unsubscribed').map((e) => e.data.contact?.id)).toContain(reader);
    expect(byType('automation.entered')[0]?.data).toMatchObject({ automation_id: automation.body.id });
    expect(byType('automation.completed')[0]?.data).toMatchObject({
      automation_id: automation.body.id,
      reason: 'exit',
    });
  });
});
