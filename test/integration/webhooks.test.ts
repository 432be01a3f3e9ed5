import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordWebhookEvent } from '../../src/modules/webhooks/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let t: TestApp;
let receiver: WebhookReceiver;

beforeAll(async () => {
  t = await createTestApp({
    HERALD_WEBHOOKS_ALLOW_HTTP: 'true',
    HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
    HERALD_WEBHOOKS_TIMEOUT_MS: '1500',
  });
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await t.close();
  await receiver.close();
});

afterEach(async () => {
  // Each test starts with no endpoints and an empty outbox, and a receiver that answers 200.
  await t.container.db.deleteFrom('webhook_endpoints').execute();
  await t.container.db.deleteFrom('webhook_events').execute();
  receiver.received.length = 0;
  receiver.always(200);
});

async function call(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
  key?: string,
) {
  const response = await t.app.inject({ method, url, payload: payload as object, headers: t.auth(key) });
  return { status: response.statusCode, body: response.body ? response.json() : undefined };
}

async function createEndpoint(body: Record<string, unknown> = {}) {
  const created = await call('POST', '/v1/webhooks/endpoints', { url: `${receiver.url}/hook`, ...body });
  expect(created.status).toBe(201);
  return created.body as { id: string; secret: string; url: string; event_types: string[] };
}

async function createContact(email: string, extra: Record<string, unknown> = {}) {
  const created = await call('POST', '/v1/contacts', { email, ...extra });
  expect(created.status).toBe(201);
  return created.body as { id: string };
}

const dispatch = () => t.container.webhookDispatcher.drain();
interface Payload {
  type: string;
  timestamp: string;
  data: { contact: { id: string; email: string; external_id: string | null } } & Record<string, unknown>;
}
const payloads = (): Payload[] => receiver.received.map((r) => JSON.parse(r.body));

async function deliveries(endpointId: string) {
  const listed = await call('GET', `/v1/webhooks/endpoints/${endpointId}/deliveries`);
  expect(listed.status).toBe(200);
  return listed.body.data as {
    id: string;
    event_id: string;
    event_type: string;
    status: string;
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
    next_attempt_at: string | null;
  }[];
}

describe('webhook endpoints', () => {
  it('creates an endpoint with a Standard Webhooks secret shown once', async () => {
    const endpoint = await createEndpoint({ description: 'CRM', event_types: ['contact.created'] });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(endpoint.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const got = await call('GET', `/v1/webhooks/endpoints/${endpoint.id}`);
    expect(got.body).toMatchObject({ url: `${receiver.url}/hook`, description: 'CRM', enabled: true });
    expect(got.body.secret).toBeUndefined();
    const listed = await call('GET', '/v1/webhooks/endpoints');
    expect(listed.body.data.map((e: { id: string }) => e.id)).toEqual([endpoint.id]);
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    const stored = await t.container.db
      .selectFrom('webhook_endpoints')
      .select('secret_encrypted')
      .executeTakeFirstOrThrow();
    expect(stored.secret_encrypted).not.toContain(endpoint.secret.slice(6, 20));
  });

  it('refuses bad input with what was wrong, and creates nothing', async () => {
    const cases: [unknown, string][] = [
      [{ url: 'ftp://example.com/x' }, 'https://'],
      [{ url: 'not a url' }, 'not an absolute URL'],
      [{ url: `${receiver.url}/hook`, event_types: ['contact.deleted'] }, 'event_types'],
      [{ url: 'http://user:pw@127.0.0.1/hook' }, 'user name or password'],
      [{ url: `${receiver.url}/hook`, secret: 'whsec_mine' }, 'secret'],
    ];
    for (const [body, message] of cases) {
      const response = await call('POST', '/v1/webhooks/endpoints', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(response.body)).toContain(message);
    }
    expect((await call('GET', '/v1/webhooks/endpoints')).body.data).toEqual([]);
  });

  it('changes, rotates, pings and deletes an endpoint', async () => {
    const endpoint = await createEndpoint();
    const patched = await call('PATCH', `/v1/webhooks/endpoints/${endpoint.id}`, {
      event_types: ['message.sent', 'contact.created'],
      enabled: false,
    });
    expect(patched.body).toMatchObject({ event_types: ['contact.created', 'message.sent'], enabled: false });
    const bad = await call('PATCH', `/v1/webhooks/endpoints/${endpoint.id}`, { url: 'gopher://x' });
    expect(bad.status).toBe(400);
    expect((await call('GET', `/v1/webhooks/endpoints/${endpoint.id}`)).body.url).toBe(
      `${receiver.url}/hook`,
    );

    const rotated = await call('POST', `/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(endpoint.secret);

    const ping = await call('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`);
    expect(ping.body).toEqual({ ok: true, status_code: 200, error: null });
    const [request] = receiver.received;
    if (!request) throw new Error('no ping arrived');
    expect(JSON.parse(request.body)).toMatchObject({
      type: 'webhook.ping',
      data: { endpoint_id: endpoint.id },
    });
    // Signed with the rotated secret: the old one no longer verifies.
    const headers = request.headers as Record<string, string>;
    expect(() => new Webhook(rotated.body.secret).verify(request.body, headers)).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(request.body, headers)).toThrow();

    receiver.next(503);
    expect((await call('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`)).body).toEqual({
      ok: false,
      status_code: 503,
      error: 'endpoint answered HTTP 503',
    });

    expect((await call('DELETE', `/v1/webhooks/endpoints/${endpoint.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/webhooks/endpoints/${endpoint.id}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/webhooks/endpoints/${endpoint.id}`)).body.code).toBe(
      'WEBHOOK_ENDPOINT_NOT_FOUND',
    );
  });

  it('keeps workspaces apart: another workspace neither sees an endpoint nor receives the events', async () => {
    const endpoint = await createEndpoint();
    const other = await t.createWorkspace('Other');
    expect(
      (await call('GET', `/v1/webhooks/endpoints/${endpoint.id}`, undefined, other.adminKey)).status,
    ).toBe(404);
    expect((await call('GET', '/v1/webhooks/endpoints', undefined, other.adminKey)).body.data).toEqual([]);
    const created = await call('POST', '/v1/contacts', { email: 'elsewhere@example.com' }, other.adminKey);
    expect(created.status).toBe(201);
    await dispatch();
    expect(receiver.received).toEqual([]);
  });
});

describe('webhook delivery', () => {
  it('delivers contact.created signed per Standard Webhooks, with the contact in the payload', async () => {
    const endpoint = await createEndpoint({ event_types: ['contact.created'] });
    const contact = await createContact('ann@example.com', { external_id: 'crm-1' });
    expect(await dispatch()).toBe(1);
    const [request] = receiver.received;
    if (!request) throw new Error('nothing delivered');
    const headers = request.headers as Record<string, string>;
    // Verified by an independent implementation (the standardwebhooks package).
    const verified = new Webhook(endpoint.secret).verify(request.body, headers) as Payload;
    expect(verified).toMatchObject({
      type: 'contact.created',
      data: { contact: { id: contact.id, email: 'ann@example.com', external_id: 'crm-1' }, status: 'active' },
    });
    expect(new Date(verified.timestamp).toISOString()).toBe(verified.timestamp);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toMatch(/^Herald-Webhooks\//);
    const [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({
      status: 'delivered',
      attempts: 1,
      last_status_code: 200,
      next_attempt_at: null,
    });
    expect(headers['webhook-id']).toBe(delivery?.event_id);
    // Only subscribed types: an update is not sent to this endpoint.
    await call('PATCH', `/v1/contacts/${contact.id}`, { attributes: { plan: 'pro' } });
    expect(await dispatch()).toBe(0);
  });

  it('retries after a 500 with backoff, then delivers; the log shows each step', async () => {
    const endpoint = await createEndpoint();
    receiver.next(500);
    await createContact('retry@example.com');
    expect(await dispatch()).toBe(1);
    let [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
    expect(delivery?.last_error).toContain('500');
    const wait = new Date(delivery?.next_attempt_at ?? 0).getTime() - t.clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(4_000);
    expect(wait).toBeLessThanOrEqual(6_000);
    // Not due yet: nothing is attempted.
    expect(await dispatch()).toBe(0);
    t.clock.advance(6_001);
    expect(await dispatch()).toBe(1);
    [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 200 });
    // The same message both times: same id and body, so the receiver can deduplicate.
    const [first, second] = receiver.received;
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.body).toBe(first?.body);
  });

  it('retries after a timeout', async () => {
    const endpoint = await createEndpoint();
    receiver.next('hang');
    await createContact('slow@example.com');
    expect(await dispatch()).toBe(1);
    let [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(delivery?.last_error).toContain('1500 ms');
    t.clock.advance(6_001);
    expect(await dispatch()).toBe(1);
    [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('fails after the last attempt (about 18 hours), and a manual retry delivers it', async () => {
    const endpoint = await createEndpoint();
    receiver.always(500);
    await createContact('never@example.com');
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 7; attempt++) {
      expect(await dispatch()).toBe(1);
      const [delivery] = await deliveries(endpoint.id);
      expect(delivery?.attempts).toBe(attempt);
      if (attempt < 7) {
        expect(delivery?.status).toBe('pending');
        const wait = new Date(delivery?.next_attempt_at ?? 0).getTime() - t.clock.now().getTime();
        waits.push(wait);
        t.clock.advance(wait);
      } else {
        expect(delivery).toMatchObject({ status: 'failed', next_attempt_at: null, last_status_code: 500 });
      }
    }
    // Exponential: each wait longer than the last, about 17.6 h in all (+-20%).
    for (let i = 1; i < waits.length; i++) expect(waits[i]).toBeGreaterThan(waits[i - 1] ?? 0);
    const total = waits.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(14 * 3_600_000);
    expect(total).toBeLessThan(24 * 3_600_000);
    t.clock.advance(48 * 3_600_000);
    expect(await dispatch()).toBe(0);

    receiver.always(200);
    const [failed] = await deliveries(endpoint.id);
    const retried = await call('POST', `/v1/webhooks/deliveries/${failed?.id}/retry`);
    expect(retried.body).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await dispatch()).toBe(1);
    expect((await deliveries(endpoint.id))[0]).toMatchObject({ status: 'delivered', attempts: 1 });
    const other = await t.createWorkspace('Retry other');
    expect(
      (await call('POST', `/v1/webhooks/deliveries/${failed?.id}/retry`, undefined, other.adminKey)).body
        .code,
    ).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
  });

  it('a 410 Gone fails the delivery and disables the endpoint', async () => {
    const endpoint = await createEndpoint();
    receiver.next(410);
    await createContact('gone@example.com');
    await dispatch();
    expect((await deliveries(endpoint.id))[0]).toMatchObject({ status: 'failed', last_status_code: 410 });
    const got = await call('GET', `/v1/webhooks/endpoints/${endpoint.id}`);
    expect(got.body).toMatchObject({ enabled: false, disabled_reason: 'the endpoint answered 410 Gone' });
    // A disabled endpoint gets no new events.
    await createContact('gone2@example.com');
    expect(await dispatch()).toBe(0);
    expect((await deliveries(endpoint.id)).length).toBe(1);
  });

  it('replays a time range: delivered events are sent again, outside the range not', async () => {
    const endpoint = await createEndpoint();
    await createContact('early@example.com');
    t.clock.advance(60_000);
    const from = t.clock.now();
    await createContact('inside1@example.com');
    await createContact('inside2@example.com');
    t.clock.advance(60_000);
    const to = t.clock.now();
    await createContact('late@example.com');
    expect(await dispatch()).toBe(4);
    receiver.received.length = 0;

    const replayed = await call('POST', `/v1/webhooks/endpoints/${endpoint.id}/replay`, {
      from: from.toISOString(),
      to: to.toISOString(),
    });
    expect(replayed.body).toEqual({ enqueued: 2 });
    expect(await dispatch()).toBe(2);
    expect(
      payloads()
        .map((p) => p.data.contact.email)
        .sort(),
    ).toEqual(['inside1@example.com', 'inside2@example.com']);

    const backwards = await call('POST', `/v1/webhooks/endpoints/${endpoint.id}/replay`, {
      from: to.toISOString(),
      to: from.toISOString(),
    });
    expect(backwards.status).toBe(400);
    const notDate = await call('POST', `/v1/webhooks/endpoints/${endpoint.id}/replay`, {
      from: 'yesterday',
      to: to.toISOString(),
    });
    expect(notDate.status).toBe(400);
  });

  it("delivers one contact's events in order: a later event waits while an earlier one is retried", async () => {
    const endpoint = await createEndpoint();
    receiver.next(500);
    const contact = await createContact('order@example.com');
    await call('PATCH', `/v1/contacts/${contact.id}`, { attributes: { plan: 'pro' } });
    await createContact('someone-else@example.com');
    // The first event fails; the contact's update waits; the other contact's event goes.
    expect(await dispatch()).toBe(2);
    expect(payloads().map((p) => `${p.type} ${p.data.contact.email}`)).toEqual([
      'contact.created order@example.com',
      'contact.created someone-else@example.com',
    ]);
    t.clock.advance(6_001);
    await dispatch();
    expect(payloads().map((p) => `${p.type} ${p.data.contact.email}`)).toEqual([
      'contact.created order@example.com',
      'contact.created someone-else@example.com',
      'contact.created order@example.com',
      'contact.updated order@example.com',
    ]);
    expect((await deliveries(endpoint.id)).every((d) => d.status === 'delivered')).toBe(true);
  });

  it('records the event in the same transaction as the change: a rollback leaves no event', async () => {
    await createEndpoint();
    const contact = await createContact('tx@example.com');
    const before = await t.container.db
      .selectFrom('webhook_events')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    await expect(
      t.container.db.transaction().execute(async (trx) => {
        await recordWebhookEvent(trx, {
          workspaceId: t.workspaceId,
          type: 'contact.updated',
          contactId: contact.id,
          data: {},
          at: t.clock.now(),
        });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    // A real change that fails half-way: a duplicate external_id is refused after the email check.
    await createContact('tx2@example.com', { external_id: 'dup' });
    const refused = await call('PATCH', `/v1/contacts/${contact.id}`, { external_id: 'dup' });
    expect(refused.status).toBe(409);
    const after = await t.container.db
      .selectFrom('webhook_events')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n + 1);
  });

  it('stores no event when no endpoint subscribes', async () => {
    await createEndpoint({ event_types: ['message.sent'] });
    await createContact('nobody-listens@example.com');
    const events = await t.container.db.selectFrom('webhook_events').selectAll().execute();
    expect(events).toEqual([]);
  });

  it('purges events past retention once nothing is pending', async () => {
    await createEndpoint();
    receiver.always(500);
    await createContact('old-pending@example.com');
    await dispatch();
    receiver.always(200);
    await createContact('old-delivered@example.com');
    await dispatch();
    t.clock.advance(31 * 86_400_000);
    expect(await t.container.webhooks.purge()).toBe(1);
    const left = await t.container.db.selectFrom('webhook_events').select('type').execute();
    expect(left).toHaveLength(1);
  });
});
