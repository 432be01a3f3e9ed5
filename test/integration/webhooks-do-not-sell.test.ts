import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * CCPA "do not sell or share" and outbound webhooks: an endpoint is a third
 * party unless it has share_do_not_sell. Two endpoints on one receiver on
 * 127.0.0.1 (/own shares, /third does not) get contact events (created,
 * updated) and message events (message.sent of transactional email through an
 * SMTP sink); the third party never gets one about a contact flagged
 * do_not_sell when the event was written, not even by a replay.
 */
let t: TestApp;
let sink: SmtpSink;
let receiver: WebhookReceiver;
let own: string;
let third: string;

interface Payload {
  type: string;
  data: { contact?: { email: string } };
}

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** Delivers what is due; `type email` of every event each path received so far. */
async function receivedBy(path: '/own' | '/third'): Promise<string[]> {
  await t.container.webhookDispatcher.drain();
  return receiver.received
    .filter((r) => r.path === path)
    .map((r) => JSON.parse(r.body) as Payload)
    .map((p) => `${p.type} ${p.data.contact?.email ?? '-'}`)
    .sort();
}

async function createContact(email: string, doNotSell: boolean): Promise<string> {
  const res = await call('POST', '/v1/contacts', { email, do_not_sell: doNotSell });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

beforeAll(async () => {
  t = await createTestApp({
    HERALD_WEBHOOKS_ALLOW_HTTP: 'true',
    HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
  });
  sink = await startSmtpSink();
  receiver = await startWebhookReceiver();
  await t.addSinkTransport(sink, { is_default: true });
  const ownRes = await call('POST', '/v1/webhooks/endpoints', {
    url: `${receiver.url}/own`,
    share_do_not_sell: true,
  });
  const thirdRes = await call('POST', '/v1/webhooks/endpoints', { url: `${receiver.url}/third` });
  expect([ownRes.status, thirdRes.status]).toEqual([201, 201]);
  expect(ownRes.body.share_do_not_sell).toBe(true);
  expect(thirdRes.body.share_do_not_sell).toBe(false);
  own = ownRes.body.id;
  third = thirdRes.body.id;
});

afterAll(async () => {
  await t?.close();
  await sink?.close();
  await receiver?.close();
});

describe('outbound webhooks and do_not_sell', () => {
  it('shows the setting on the endpoint, and refuses a value that is not a boolean', async () => {
    expect((await call('GET', `/v1/webhooks/endpoints/${own}`)).body.share_do_not_sell).toBe(true);
    expect((await call('GET', `/v1/webhooks/endpoints/${third}`)).body.share_do_not_sell).toBe(false);
    const before = await databaseSnapshot(t.container.database.pool);
    for (const res of [
      await call('PATCH', `/v1/webhooks/endpoints/${third}`, { share_do_not_sell: 'yes' }),
      await call('POST', '/v1/webhooks/endpoints', { url: `${receiver.url}/x`, share_do_not_sell: 1 }),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain('share_do_not_sell');
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('sends contact events about do-not-sell contacts only to the endpoint that shares them', async () => {
    const flagged = await createContact('flagged@example.com', true);
    const plain = await createContact('plain@example.com', false);
    for (const id of [flagged, plain]) {
      expect((await call('PATCH', `/v1/contacts/${id}`, { attributes: { plan: 'pro' } })).status).toBe(200);
    }
    expect(await receivedBy('/own')).toEqual([
      'contact.created flagged@example.com',
      'contact.created plain@example.com',
      'contact.updated flagged@example.com',
      'contact.updated plain@example.com',
    ]);
    expect(await receivedBy('/third')).toEqual([
      'contact.created plain@example.com',
      'contact.updated plain@example.com',
    ]);
    // A contact that opts out later: what was sent stays sent, nothing from then on goes to the third
    // party; the endpoint that shares is told of the change (contact.updated, changed do_not_sell).
    expect((await call('PATCH', `/v1/contacts/${plain}`, { do_not_sell: true })).status).toBe(200);
    expect((await call('PATCH', `/v1/contacts/${plain}`, { attributes: { plan: 'free' } })).status).toBe(200);
    expect(await receivedBy('/third')).toEqual([
      'contact.created plain@example.com',
      'contact.updated plain@example.com',
    ]);
    expect((await receivedBy('/own')).filter((e) => e === 'contact.updated plain@example.com')).toHaveLength(
      3,
    );
    // Opting in again: events flow to the third party again.
    expect((await call('PATCH', `/v1/contacts/${plain}`, { do_not_sell: false })).status).toBe(200);
    expect(
      (await receivedBy('/third')).filter((e) => e === 'contact.updated plain@example.com'),
    ).toHaveLength(2);
  });

  it('sends message events about do-not-sell contacts only to the endpoint that shares them', async () => {
    const before = receiver.received.length;
    for (const to of ['flagged@example.com', 'plain@example.com']) {
      const res = await call('POST', '/v1/messages', {
        to,
        inline: { subject: 'Your order', html: '<p>Shipped</p>' },
        from_email: 'orders@shop.example',
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
    }
    await t.container.runner.drain();
    expect(sink.messages.map((m) => m.to[0]).sort()).toEqual(['flagged@example.com', 'plain@example.com']);
    await t.container.webhookDispatcher.drain();
    const sent = receiver.received
      .slice(before)
      .map((r) => ({ path: r.path, event: JSON.parse(r.body) as Payload }))
      .filter((r) => r.event.type === 'message.sent')
      .map((r) => `${r.path} ${r.event.data.contact?.email}`)
      .sort();
    expect(sent).toEqual(['/own flagged@example.com', '/own plain@example.com', '/third plain@example.com']);
  });

  it('leaves do-not-sell contacts out of a replay to a third party, and not out of one to its own system', async () => {
    const now = t.clock.now().getTime();
    const range = { from: new Date(now - 86_400_000).toISOString(), to: new Date(now + 1).toISOString() };
    const thirdBefore = await receivedBy('/third');
    const replayed = await call('POST', `/v1/webhooks/endpoints/${third}/replay`, range);
    expect(replayed.status, JSON.stringify(replayed.body)).toBe(200);
    const thirdAfter = (await receivedBy('/third')).slice();
    expect(thirdAfter.length).toBe(thirdBefore.length + replayed.body.enqueued);
    expect(thirdAfter.filter((e) => e.includes('flagged@'))).toEqual([]);
    // plain@ is not flagged now: its events written while it was not flagged are replayed (and only those).
    expect(thirdAfter.filter((e) => e.startsWith('message.sent'))).toEqual([
      'message.sent plain@example.com',
      'message.sent plain@example.com',
    ]);

    const ownBefore = (await receivedBy('/own')).length;
    const ownReplay = await call('POST', `/v1/webhooks/endpoints/${own}/replay`, range);
    expect(ownReplay.status).toBe(200);
    const ownAfter = await receivedBy('/own');
    expect(ownAfter.length).toBe(ownBefore + ownReplay.body.enqueued);
    expect(ownAfter.filter((e) => e === 'message.sent flagged@example.com')).toHaveLength(2);
  });

  it('drops pending do-not-sell deliveries when an endpoint stops sharing, and sends it no more', async () => {
    receiver.always(503);
    const flagged = (await call('GET', '/v1/contacts?email=flagged%40example.com')).body.data[0].id as string;
    const plain = (await call('GET', '/v1/contacts?email=plain%40example.com')).body.data[0].id as string;
    for (const id of [flagged, plain]) {
      expect((await call('PATCH', `/v1/contacts/${id}`, { attributes: { plan: 'team' } })).status).toBe(200);
    }
    await t.container.webhookDispatcher.drain();
    const pending = async () =>
      (await call('GET', `/v1/webhooks/endpoints/${own}/deliveries?status=pending`)).body.data.map(
        (d: { contact_id: string }) => d.contact_id,
      );
    expect((await pending()).sort()).toEqual([flagged, plain].sort());

    const patched = await call('PATCH', `/v1/webhooks/endpoints/${own}`, { share_do_not_sell: false });
    expect(patched.status).toBe(200);
    expect(patched.body.share_do_not_sell).toBe(false);
    expect(await pending()).toEqual([plain]);

    receiver.always(200);
    t.clock.advance(10 * 60_000);
    const before = receiver.received.length;
    expect((await call('PATCH', `/v1/contacts/${flagged}`, { attributes: { plan: 'solo' } })).status).toBe(
      200,
    );
    await t.container.webhookDispatcher.drain();
    const delivered = receiver.received
      .slice(before)
      .filter((r) => r.path === '/own')
      .map((r) => (JSON.parse(r.body) as Payload).data.contact?.email);
    expect(delivered).toEqual(['plain@example.com']);
  });
});
