import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Segment-compatible ingestion over HTTP: the shapes Segment's libraries
 * send, the write key as Bearer or HTTP Basic, contacts matched and created
 * through the contact rules, anonymous events attached on identify,
 * messageId idempotency, per-event errors in batches, and the timestamp rules.
 */

let t: TestApp;
let writeKey: string;
const DAY = 86_400_000;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown, headers?: Record<string, string>) {
  const res = await t.app.inject({
    method,
    url,
    headers: headers ?? { authorization: `Bearer ${writeKey}` },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}
const admin = (method: Method, url: string, payload?: unknown) => call(method, url, payload, t.auth());

async function eventsOf(filter: { name?: string; anonymousId?: string; userId?: string } = {}) {
  const rows = await sql<{
    name: string | null;
    type: string;
    contact_id: string | null;
    occurred_at: Date;
    properties: Record<string, unknown>;
    message_id: string;
  }>`
    SELECT name, type, contact_id, occurred_at, properties, message_id FROM events
    WHERE workspace_id = ${t.workspaceId}
      AND (${filter.name ?? null}::text IS NULL OR name = ${filter.name ?? null})
      AND (${filter.anonymousId ?? null}::text IS NULL OR anonymous_id = ${filter.anonymousId ?? null})
      AND (${filter.userId ?? null}::text IS NULL OR user_id = ${filter.userId ?? null})
    ORDER BY occurred_at, id`.execute(t.container.db);
  return rows.rows;
}

async function contactByEmail(email: string) {
  const res = await admin('GET', `/v1/contacts?email=${encodeURIComponent(email)}`);
  return res.body.data[0] as
    | { id: string; external_id: string | null; attributes: Record<string, unknown> }
    | undefined;
}

beforeAll(async () => {
  t = await createTestApp({ HERALD_EVENT_RETENTION_DAYS: '400' });
  t.clock.set(new Date('2026-03-15T12:00:00Z'));
  writeKey = await t.createKey(['events:write']);
  expect((await admin('POST', '/v1/attributes', { name: 'age', type: 'number' })).status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

describe('authentication', () => {
  it('takes the write key as Bearer, or as HTTP Basic user name with an empty password (as Segment sends it)', async () => {
    const body = { userId: 'auth-1', event: 'Signed In' };
    expect((await call('POST', '/v1/track', body)).body).toEqual({ success: true, duplicate: false });
    const basic = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
    const res = await call('POST', '/v1/track', { ...body, messageId: 'basic-1' }, { authorization: basic });
    expect(res.status).toBe(200);
    // Without the colon, as some clients send it.
    const bare = `Basic ${Buffer.from(writeKey).toString('base64')}`;
    expect((await call('POST', '/v1/track', body, { authorization: bare })).status).toBe(200);
  });

  it('refuses an unknown write key, a key without events:write, and Basic on other routes', async () => {
    const wrong = `Basic ${Buffer.from('hk_unknown:').toString('base64')}`;
    const res = await call('POST', '/v1/track', { userId: 'x', event: 'E' }, { authorization: wrong });
    expect(res.status).toBe(401);
    const reader = await t.createKey(['contacts:read']);
    const forbidden = await call(
      'POST',
      '/v1/track',
      { userId: 'x', event: 'E' },
      { authorization: `Bearer ${reader}` },
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.detail).toContain('events:write');
    const basicAdmin = `Basic ${Buffer.from(`${t.adminKey}:`).toString('base64')}`;
    expect((await call('GET', '/v1/contacts', undefined, { authorization: basicAdmin })).status).toBe(401);
  });
});

describe('identify', () => {
  it('creates the contact from traits.email with userId as external_id and the other traits as attributes', async () => {
    const res = await call('POST', '/v1/identify', {
      userId: 'user-100',
      traits: { email: ' Ann@Example.COM ', firstName: 'Ann', age: 41, address: { city: 'Berlin' } },
      context: { timezone: 'Europe/Berlin', locale: 'de-DE', ip: '192.0.2.1' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const contact = await contactByEmail('ann@example.com');
    expect(contact?.external_id).toBe('user-100');
    expect(contact?.attributes).toEqual({ firstName: 'Ann', age: 41, address: { city: 'Berlin' } });
    const full = await admin('GET', `/v1/contacts/${contact?.id}`);
    expect(full.body.email).toBe('Ann@example.com');
    expect(full.body.timezone).toBe('Europe/Berlin');
    expect(full.body.locale).toBe('de-DE');
    const stored = await eventsOf({ userId: 'user-100' });
    expect(stored.map((e) => [e.type, e.contact_id])).toEqual([['identify', contact?.id]]);
  });

  it('updates the contact a userId names without an email, merging attributes', async () => {
    await call('POST', '/v1/identify', { userId: 'user-100', traits: { plan: 'pro', firstName: null } });
    const contact = await contactByEmail('ann@example.com');
    expect(contact?.attributes).toEqual({ age: 41, address: { city: 'Berlin' }, plan: 'pro' });
  });

  it('refuses traits that break the attribute schema or an invalid email, with the path', async () => {
    const bad = await call('POST', '/v1/identify', { userId: 'user-100', traits: { age: 'forty' } });
    expect(bad.status, JSON.stringify(bad.body)).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: '/traits/age' })]);
    expect(bad.body.detail).toContain('must be a number');
    const email = await call('POST', '/v1/identify', {
      userId: 'user-101',
      traits: { email: 'not an address' },
    });
    expect(email.status).toBe(400);
    expect(email.body.code).toBe('VALIDATION_FAILED');
    expect(email.body.errors[0].path).toBe('/traits/email');
    expect(await contactByEmail('not an address')).toBeUndefined();
  });

  it('needs a userId or an anonymousId', async () => {
    const res = await call('POST', '/v1/identify', { traits: { email: 'nobody@example.com' } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual({ path: '/userId', message: 'give userId or anonymousId (or both)' });
  });
});

describe('track and anonymous visitors', () => {
  it('matches userId to the external_id, else to the email, else context.traits.email', async () => {
    await call('POST', '/v1/track', {
      userId: 'user-100',
      event: 'Viewed Product',
      properties: { sku: 'A1' },
    });
    await call('POST', '/v1/track', { userId: 'ANN@example.com', event: 'Viewed Product' });
    await call('POST', '/v1/track', {
      userId: 'someone-else',
      event: 'Viewed Product',
      context: { traits: { email: 'ann@example.com' } },
    });
    const ann = await contactByEmail('ann@example.com');
    const viewed = await eventsOf({ name: 'Viewed Product' });
    expect(viewed.map((e) => e.contact_id)).toEqual([ann?.id, ann?.id, ann?.id]);
    expect(viewed[0]?.properties).toEqual({ sku: 'A1' });
  });

  it('keeps events of unknown senders and attaches them when an identify names them', async () => {
    await call('POST', '/v1/track', { anonymousId: 'anon-7', event: 'Added to Cart' });
    await call('POST', '/v1/page', {
      anonymousId: 'anon-7',
      name: 'Pricing',
      properties: { path: '/pricing' },
    });
    await call('POST', '/v1/identify', { anonymousId: 'anon-7', traits: { newsletter: true } });
    await call('POST', '/v1/track', { userId: 'user-200', event: 'Logged In' });
    expect((await eventsOf({ anonymousId: 'anon-7' })).every((e) => e.contact_id === null)).toBe(true);

    await call('POST', '/v1/identify', {
      userId: 'user-200',
      anonymousId: 'anon-7',
      traits: { email: 'bo@example.com', firstName: 'Bo' },
    });
    const bo = await contactByEmail('bo@example.com');
    expect(bo?.external_id).toBe('user-200');
    // Traits of the earlier anonymous identify are kept, the newer ones win.
    expect(bo?.attributes).toEqual({ newsletter: true, firstName: 'Bo' });
    const anon = await eventsOf({ anonymousId: 'anon-7' });
    expect(anon.map((e) => e.type)).toEqual(['track', 'page', 'identify', 'identify']);
    expect(anon.every((e) => e.contact_id === bo?.id)).toBe(true);
    expect((await eventsOf({ name: 'Logged In' }))[0]?.contact_id).toBe(bo?.id);

    // Later anonymous events of that visitor find the contact at once.
    await call('POST', '/v1/track', { anonymousId: 'anon-7', event: 'Checkout Started' });
    expect((await eventsOf({ name: 'Checkout Started' }))[0]?.contact_id).toBe(bo?.id);
  });

  it("never attaches to another workspace's contacts", async () => {
    const other = await t.createWorkspace('Elsewhere');
    const otherKey = await t.createKey(['events:write'], other.workspaceId);
    const res = await call(
      'POST',
      '/v1/track',
      { userId: 'user-100', anonymousId: 'anon-7', event: 'Intruded' },
      { authorization: `Bearer ${otherKey}` },
    );
    expect(res.status).toBe(200);
    const rows = await sql<{ workspace_id: string; contact_id: string | null }>`
      SELECT workspace_id, contact_id FROM events WHERE name = 'Intruded'`.execute(t.container.db);
    expect(rows.rows).toEqual([{ workspace_id: other.workspaceId, contact_id: null }]);
    expect(await eventsOf({ name: 'Intruded' })).toEqual([]);
    // And an identify there does not pull this workspace's anonymous events over.
    await call(
      'POST',
      '/v1/identify',
      { anonymousId: 'anon-7', traits: { email: 'x@example.com' } },
      { authorization: `Bearer ${otherKey}` },
    );
    const bo = await contactByEmail('bo@example.com');
    expect((await eventsOf({ anonymousId: 'anon-7' })).every((e) => e.contact_id === bo?.id)).toBe(true);
  });
});

describe('idempotency', () => {
  it('stores a retried messageId once, in one request or across requests and months', async () => {
    const body = {
      userId: 'user-100',
      event: 'Order Completed',
      messageId: 'order-1',
      properties: { total: 10 },
    };
    expect((await call('POST', '/v1/track', body)).body).toEqual({ success: true, duplicate: false });
    expect((await call('POST', '/v1/track', body)).body).toEqual({ success: true, duplicate: true });
    // A retry with another timestamp lands in another month's partition: still a duplicate.
    const later = { ...body, timestamp: '2026-01-02T00:00:00Z' };
    expect((await call('POST', '/v1/track', later)).body.duplicate).toBe(true);
    const batch = await call('POST', '/v1/batch', {
      batch: [
        { type: 'track', ...body },
        { type: 'track', userId: 'user-100', event: 'Order Completed', messageId: 'order-2' },
        { type: 'track', userId: 'user-100', event: 'Order Completed', messageId: 'order-2' },
      ],
    });
    expect(batch.body).toEqual({ success: true, accepted: 1, duplicates: 2, rejected: 0, errors: [] });
    expect((await eventsOf({ name: 'Order Completed' })).map((e) => e.message_id).sort()).toEqual([
      'order-1',
      'order-2',
    ]);
  });
});

describe('batch', () => {
  it('stores the good events and reports each bad one by index', async () => {
    const res = await call('POST', '/v1/batch', {
      sentAt: '2026-03-15T12:00:00Z',
      context: { library: { name: 'analytics-node', version: '2.0' } },
      batch: [
        { type: 'track', userId: 'user-100', event: 'Batched', messageId: 'b-0' },
        { type: 'track', userId: 'user-100', messageId: 'b-1' },
        { type: 'group', userId: 'user-100', groupId: 'g' },
        { type: 'identify', userId: 'user-100', traits: { age: 'old' } },
        { type: 'track', event: 'Batched', messageId: 'b-4' },
        { type: 'track', userId: 'user-100', event: 'Batched', timestamp: 'yesterday' },
        'not an object',
        { type: 'track', userId: 'user-100', event: 'segment.entered' },
        { type: 'track', userId: 'user-100', event: 'Batched', properties: { blob: 'x'.repeat(33_000) } },
        { type: 'track', userId: 'user-100', event: 'Batched', surprise: true },
        {
          type: 'page',
          userId: 'user-100',
          name: 'Home',
          messageId: 'b-10',
          context: { page: { path: '/' } },
        },
        { type: 'track', userId: 'user-100', event: 'Batched', properties: { note: 'a\u0000b' } },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected, JSON.stringify(res.body.errors)).toBe(10);
    expect(res.body.success).toBe(false);
    const byIndex = new Map<number, string>(
      res.body.errors.map((e: { index: number; path: string; message: string }) => [
        e.index,
        `${e.path} ${e.message}`,
      ]),
    );
    expect(byIndex.get(1)).toBe('/batch/1/event "event" is required');
    expect(byIndex.get(2)).toContain('/batch/2/type');
    expect(byIndex.get(2)).toContain('group and alias are not supported');
    expect(byIndex.get(3)).toContain('/batch/3/traits/age');
    expect(byIndex.get(4)).toBe('/batch/4/userId give userId or anonymousId (or both)');
    expect(byIndex.get(5)).toContain('/batch/5/timestamp');
    expect(byIndex.get(6)).toBe('/batch/6 an event must be a JSON object');
    expect(byIndex.get(7)).toContain('reserved');
    expect(byIndex.get(8)).toContain('at most 32 KB');
    expect(byIndex.get(9)).toBe('/batch/9/surprise unknown field "surprise"');
    expect(byIndex.get(11)).toBe(
      '/batch/11 the event contains a NUL character (\\u0000), which cannot be stored',
    );
    const page = (await eventsOf({ name: 'Home' }))[0];
    expect(page?.type).toBe('page');
    const stored = await sql<{ context: Record<string, unknown> }>`
      SELECT context FROM events WHERE message_id = 'b-10'`.execute(t.container.db);
    // The batch context is merged under the event's own.
    expect(stored.rows[0]?.context).toEqual({
      library: { name: 'analytics-node', version: '2.0' },
      page: { path: '/' },
    });
  });

  it('answers 400 with the errors when nothing could be stored, and refuses more than 500 events', async () => {
    const res = await call('POST', '/v1/batch', { batch: [{ type: 'track', event: 'x' }] });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { path: '/batch/0/userId', message: 'give userId or anonymousId (or both)', index: 0 },
    ]);
    const big = Array.from({ length: 501 }, (_, i) => ({
      type: 'track',
      userId: 'u',
      event: 'E',
      messageId: `m${i}`,
    }));
    const tooMany = await call('POST', '/v1/batch', { batch: big });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.detail).toContain('500');
    expect(await eventsOf({ userId: 'u' })).toEqual([]);
  });

  it('refuses a body over the batch size limit with 413', async () => {
    const batch = Array.from({ length: 30 }, (_, i) => ({
      type: 'track',
      userId: 'u',
      event: 'E',
      properties: { blob: 'x'.repeat(20_000), i },
    }));
    const res = await call('POST', '/v1/batch', { batch });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('timestamps', () => {
  it('uses timestamp, else originalTimestamp corrected by sentAt, else the arrival time', async () => {
    const now = t.clock.now();
    await call('POST', '/v1/track', {
      userId: 'user-100',
      event: 'Timed',
      messageId: 't1',
      timestamp: '2026-03-01T08:00:00+01:00',
    });
    // The sender's clock is 10 minutes fast: sent "12:10", happened "12:05" by its clock.
    await call('POST', '/v1/track', {
      userId: 'user-100',
      event: 'Timed',
      messageId: 't2',
      originalTimestamp: '2026-03-15T12:05:00Z',
      sentAt: '2026-03-15T12:10:00Z',
    });
    await call('POST', '/v1/track', { userId: 'user-100', event: 'Timed', messageId: 't3' });
    const timed = await eventsOf({ name: 'Timed' });
    expect(timed.map((e) => [e.message_id, e.occurred_at.toISOString()])).toEqual([
      ['t1', '2026-03-01T07:00:00.000Z'],
      ['t2', '2026-03-15T11:55:00.000Z'],
      ['t3', now.toISOString()],
    ]);
  });

  it('refuses times more than a day ahead or older than the retention', async () => {
    const future = await call('POST', '/v1/track', {
      userId: 'u',
      event: 'E',
      timestamp: '2026-03-17T12:00:00Z',
    });
    expect(future.status).toBe(400);
    expect(future.body.errors[0]).toEqual({
      path: '/timestamp',
      message: "2026-03-17T12:00:00.000Z is more than a day in the future; check the sender's clock",
    });
    const old = await call('POST', '/v1/track', {
      userId: 'u',
      event: 'E',
      timestamp: '2025-01-01T00:00:00Z',
    });
    expect(old.status).toBe(400);
    expect(old.body.errors[0].message).toContain('older than the event retention of 400 days');
    const bad = await call('POST', '/v1/track', { userId: 'u', event: 'E', timestamp: '2026-02-30' });
    expect(bad.status).toBe(400);
  });
});

describe('partitions and retention', () => {
  const months = async () =>
    (
      await sql<{ name: string }>`
        SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'events'::regclass ORDER BY 1`.execute(t.container.db)
    ).rows.map((r) => r.name);

  it('creates the partition an event needs, and the next months ahead in maintenance', async () => {
    await call('POST', '/v1/track', { userId: 'u9', event: 'Backfilled', timestamp: '2025-06-10T00:00:00Z' });
    expect(await months()).toContain('events_2025_06');
    const result = await t.container.events.maintain();
    expect(await months()).toEqual(
      expect.arrayContaining(['events_2026_03', 'events_2026_04', 'events_2026_05']),
    );
    expect(result.dropped).toEqual([]);
  });

  it('drops whole months once they are older than the retention, and forgets old message ids', async () => {
    t.clock.set(new Date(Date.parse('2025-06-30T00:00:00Z') + 401 * DAY));
    const result = await t.container.events.maintain();
    expect(result.dropped).toContain('2025-06-01');
    expect(await months()).not.toContain('events_2025_06');
    expect(await eventsOf({ name: 'Backfilled' })).toEqual([]);
    expect(result.forgotten).toBeGreaterThan(0);
    // A forgotten message id is new again.
    const again = await call('POST', '/v1/track', {
      userId: 'user-100',
      event: 'Order Completed',
      messageId: 'order-1',
    });
    expect(again.body.duplicate).toBe(false);
    t.clock.set(new Date('2026-03-15T12:00:00Z'));
  });
});

describe('contact events and erasure', () => {
  it("lists a contact's events newest first, paginated, and deletes them with the contact", async () => {
    const ann = await contactByEmail('ann@example.com');
    const first = await admin('GET', `/v1/contacts/${ann?.id}/events?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    const all: { occurred_at: string }[] = [...first.body.data];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const next = await admin('GET', `/v1/contacts/${ann?.id}/events?limit=2&cursor=${cursor}`);
      all.push(...next.body.data);
      cursor = next.body.next_cursor;
    }
    const times = all.map((e) => e.occurred_at);
    expect(times).toEqual([...times].sort().reverse());
    expect(all.length).toBe((await eventsOf()).filter((e) => e.contact_id === ann?.id).length);

    expect((await admin('DELETE', `/v1/contacts/${ann?.id}`)).status).toBe(204);
    expect((await eventsOf()).filter((e) => e.contact_id === ann?.id)).toEqual([]);
    const gone = await admin('GET', `/v1/contacts/${ann?.id}/events`);
    expect(gone.status).toBe(404);
  });
});

describe('rate limit', () => {
  it('counts ingestion separately from the rest of the API, with its own limit', async () => {
    const limited = await createTestApp({
      HERALD_EVENTS_RATE_LIMIT_PER_MINUTE: '2',
      HERALD_RATE_LIMIT_PER_MINUTE: '100',
    });
    try {
      const key = await limited.createKey(['events:write', 'contacts:read']);
      const headers = { authorization: `Bearer ${key}` };
      const track = () =>
        limited.app.inject({
          method: 'POST',
          url: '/v1/track',
          headers,
          payload: { userId: 'u', event: 'E' },
        });
      expect((await track()).statusCode).toBe(200);
      expect((await track()).statusCode).toBe(200);
      const third = await track();
      expect(third.statusCode).toBe(429);
      expect(third.json().code).toBe('RATE_LIMITED');
      expect((await limited.app.inject({ method: 'GET', url: '/v1/contacts', headers })).statusCode).toBe(
        200,
      );
    } finally {
      await limited.close();
    }
  });
});
