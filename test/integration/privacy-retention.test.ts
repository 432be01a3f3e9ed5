import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The retention policy with a manual clock: nothing is deleted by default;
 * with periods set, the job deletes what is older (events, unsubscribed
 * contacts with their data) or clears it (message payloads) and keeps what
 * is younger, and the consent ledger stays unless asked.
 */

let t: TestApp;
let sink: SmtpSink;
const DAY = 86_400_000;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}
async function ok(method: Method, url: string, payload?: object) {
  const res = await call(method, url, payload);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}
async function rows<T = Record<string, unknown>>(text: string): Promise<T[]> {
  return (await t.container.database.pool.query(text, [t.workspaceId])).rows as T[];
}
async function partitionFor(at: Date) {
  await sql`SELECT herald_events_partition(${at.toISOString().slice(0, 10)}::date)`.execute(t.container.db);
}

/** A contact with an event, a consent record (list subscription) and a sent message; optionally unsubscribed. */
async function person(email: string, unsubscribed: boolean) {
  await partitionFor(t.clock.now());
  const id = (await ok('POST', '/v1/contacts', { email })).id as string;
  const list = (await ok('GET', '/v1/lists')).data[0].id as string;
  await ok('POST', `/v1/lists/${list}/members`, { contact_ids: [id] });
  await ok('POST', '/v1/track', { userId: email, event: 'Visited' });
  await t.container.database.pool.query(
    'UPDATE events SET contact_id = $2 WHERE workspace_id = $1 AND user_id = $3',
    [t.workspaceId, id, email],
  );
  await ok('POST', '/v1/messages', {
    to: email,
    from_email: 'shop@shop.example',
    inline: { subject: 'Receipt', text: 'Order {{ data.order }}' },
    data: { order: `order-of-${email}` },
  });
  await t.container.runner.drain();
  if (unsubscribed) await ok('PATCH', `/v1/contacts/${id}`, { status: 'unsubscribed' });
  return id;
}

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(new Date('2026-10-01T12:00:00Z'));
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  await ok('POST', '/v1/lists', { name: 'News', opt_in: 'single' });
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('the retention policy', () => {
  let oldActive: string;
  let oldUnsubscribed: string;
  let newUnsubscribed: string;

  it('keeps everything by default', async () => {
    oldActive = await person('old-active@example.org', false);
    oldUnsubscribed = await person('old-gone@example.org', true);
    t.clock.advance(40 * DAY);
    newUnsubscribed = await person('new-gone@example.org', true);

    expect(await ok('GET', '/v1/privacy/retention')).toEqual({
      events_days: null,
      tracking_hits_days: null,
      send_ledger_days: null,
      message_bodies_days: null,
      bounce_details_days: null,
      consent_records_days: null,
      unsubscribed_contacts_days: null,
      last_run_at: null,
      last_run_deleted: null,
    });
    const before = await databaseSnapshot(t.container.database.pool);
    await t.container.retention.runAll();
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('refuses bad settings and changes nothing', async () => {
    const manager = await t.createKey(['contacts:write']);
    const before = await databaseSnapshot(t.container.database.pool);
    for (const body of [
      { events_days: 0 },
      { events_days: 'thirty' },
      { events_days: 1.5 },
      { forever_days: 3 },
    ]) {
      const res = await call('PUT', '/v1/privacy/retention', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    const forbidden = await call('PUT', '/v1/privacy/retention', { events_days: 30 }, manager);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.detail).toContain('privacy:manage');
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('deletes and clears what is older than each period, keeps the rest and the consent ledger', async () => {
    const set = await ok('PUT', '/v1/privacy/retention', {
      events_days: 30,
      message_bodies_days: 30,
      unsubscribed_contacts_days: 30,
    });
    expect(set).toMatchObject({ events_days: 30, message_bodies_days: 30, consent_records_days: null });
    // Fields left out keep their value.
    expect(await ok('PUT', '/v1/privacy/retention', { tracking_hits_days: 90 })).toMatchObject({
      events_days: 30,
      tracking_hits_days: 90,
    });

    await t.container.retention.runAll();

    const contacts = await rows<{ id: string }>(
      'SELECT id FROM contacts WHERE workspace_id = $1 ORDER BY id',
    );
    expect(contacts.map((c) => c.id)).toEqual([oldActive, newUnsubscribed]);
    const leftovers = await rows(
      `SELECT 1 FROM consent_records WHERE workspace_id = $1 AND contact_id = '${oldUnsubscribed}'
       UNION ALL SELECT 1 FROM list_memberships WHERE workspace_id = $1 AND contact_id = '${oldUnsubscribed}'`,
    );
    expect(leftovers, 'the deleted contact took its data with it').toEqual([]);
    const events = await rows<{ contact_id: string }>(
      'SELECT contact_id FROM events WHERE workspace_id = $1 ORDER BY occurred_at',
    );
    expect(events.map((e) => e.contact_id)).toEqual([newUnsubscribed]);
    const messages = await rows<{ to_email: string; payload: Record<string, unknown> }>(
      'SELECT to_email, payload FROM messages WHERE workspace_id = $1 ORDER BY created_at',
    );
    expect(messages.map((m) => [m.to_email, Object.keys(m.payload).length > 0])).toEqual([
      ['old-active@example.org', false],
      ['new-gone@example.org', true],
    ]);
    // The consent ledger of the remaining contacts stays (no consent period set).
    const consent = await rows<{ contact_id: string }>(
      'SELECT DISTINCT contact_id FROM consent_records WHERE workspace_id = $1 ORDER BY contact_id',
    );
    expect(consent.map((c) => c.contact_id)).toEqual([oldActive, newUnsubscribed]);

    const after = await ok('GET', '/v1/privacy/retention');
    expect(after.last_run_at).toBe(t.clock.now().toISOString());
    // Periods apply in order: both old events and both old payloads went before the old unsubscribed contact.
    expect(after.last_run_deleted).toEqual({
      events: 2,
      tracking_hits: 0,
      message_bodies: 2,
      unsubscribed_contacts: 1,
    });
  });

  it('runs from the job queue as the periodic privacy.retention task', async () => {
    await ok('PUT', '/v1/privacy/retention', { consent_records_days: 10 });
    t.clock.advance(20 * DAY);
    await t.container.jobs.enqueue('privacy.retention', {});
    await t.container.runner.drain();
    expect(await rows('SELECT id FROM consent_records WHERE workspace_id = $1')).toEqual([]);
  });
});
