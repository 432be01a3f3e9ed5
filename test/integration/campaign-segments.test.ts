import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Campaigns with segments as audience, through the real sender and a real
 * SMTP server: exactly the matching active contacts receive it, once, with
 * lists and exclusions combined; segments are evaluated when recipients are
 * claimed, not when the campaign starts.
 */

let t: TestApp;
let sink: SmtpSink;
let templateId: string;
const DAY = 86_400_000;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const email = (i: number) => `p-${i}@example.com`;
const ids = new Map<number, string>();

async function orders(i: number, count: number, daysAgo: number) {
  const now = t.clock.now().getTime();
  for (let n = 0; n < count; n++) {
    const at = new Date(now - daysAgo * DAY - n * 60_000);
    await sql`SELECT herald_events_partition(${at.toISOString().slice(0, 10)}::date)`.execute(t.container.db);
    await sql`INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, properties)
      VALUES (${uuidv7()}, ${t.workspaceId}, ${at}, ${at}, 'track', 'Order Completed', ${ids.get(i)}, ${uuidv7()}, '{}')`.execute(
      t.container.db,
    );
  }
}

function listIdOf(raw: Buffer): string | undefined {
  return /\r\nList-ID: ([^\r]*)\r\n/i.exec(raw.toString())?.[1];
}

async function campaign(body: object) {
  const res = await call('POST', '/v1/campaigns', {
    from_email: 'news@shop.example',
    template_id: templateId,
    ...body,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function sendAndCollect(id: string): Promise<string[]> {
  sink.messages.length = 0;
  const started = await call('POST', `/v1/campaigns/${id}/send`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  await t.container.sender.drain();
  const done = await call('GET', `/v1/campaigns/${id}`);
  expect(done.body.status).toBe('sent');
  return sink.messages.map((m) => m.to[0] as string).sort();
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'Hi',
    body: '<p>Hello {{ contact.email }}</p>',
  });
  templateId = template.body.id;
  for (let i = 1; i <= 60; i++) {
    const res = await call('POST', '/v1/contacts', {
      email: email(i),
      attributes: { plan: i % 2 === 0 ? 'pro' : 'free' },
      ...(i % 10 === 7 ? { status: 'unsubscribed' } : {}),
    });
    ids.set(i, res.body.id);
  }
  // Pro contacts 2..40 ordered at least twice in the last 30 days; 42..50 once; 52..60 long ago.
  for (let i = 2; i <= 40; i += 2) await orders(i, 2, 3);
  for (let i = 42; i <= 50; i += 2) await orders(i, 1, 3);
  for (let i = 52; i <= 60; i += 2) await orders(i, 3, 90);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('campaigns with segments', () => {
  it('reach the included lists and the segment, minus excluded lists and segments, each contact once', async () => {
    const buyers = await call('POST', '/v1/segments', {
      name: 'Recent pro buyers',
      definition: {
        all: [
          { attribute: 'plan', operator: 'equals', value: 'pro' },
          {
            event: 'Order Completed',
            count: { operator: 'at_least', value: 2 },
            window: { within_last_days: 30 },
          },
        ],
      },
    });
    const teens = await call('POST', '/v1/segments', {
      name: 'Teens',
      definition: { field: 'email', operator: 'starts_with', value: 'p-1' },
    });
    const list = (await call('POST', '/v1/lists', { name: 'Newsletter', opt_in: 'single' })).body.id;
    const blocked = (await call('POST', '/v1/lists', { name: 'Do not mail', opt_in: 'single' })).body.id;
    // List members 41..45 (overlapping nobody in the segment) and 30..32 (overlapping it).
    await call('POST', `/v1/lists/${list}/members`, { emails: [41, 42, 43, 44, 45, 30, 31, 32].map(email) });
    await call('POST', `/v1/lists/${blocked}/members`, { emails: [email(4), email(43)] });

    const id = await campaign({
      name: 'Buyers',
      lists: [list],
      exclude_lists: [blocked],
      segment_id: buyers.body.id,
      exclude_segment_ids: [teens.body.id],
    });
    const shown = await call('GET', `/v1/campaigns/${id}`);
    expect(shown.body).toMatchObject({ segment_id: buyers.body.id, exclude_segment_ids: [teens.body.id] });

    const expected = new Set<number>();
    for (let i = 2; i <= 40; i += 2) expected.add(i);
    for (const i of [41, 42, 43, 44, 45, 30, 31, 32]) expected.add(i);
    for (const i of [...expected]) {
      const excluded = [4, 43].includes(i) || String(i).startsWith('1') || i % 10 === 7;
      if (excluded) expected.delete(i);
    }
    const audience = await call('GET', `/v1/campaigns/${id}/audience?limit=1000`);
    expect(audience.body.total).toBe(expected.size);
    expect(audience.body.data.map((c: { email: string }) => c.email).sort()).toEqual(
      [...expected].map(email).sort(),
    );

    const received = await sendAndCollect(id);
    expect(received).toEqual([...expected].map(email).sort());
    // With a list in the audience, List-Id names the list.
    const listIds = new Set(sink.messages.map((m) => listIdOf(m.raw)));
    expect([...listIds]).toEqual([`"Newsletter" <${list}.${t.workspaceId}.shop.example>`]);
    const progress = (await call('GET', `/v1/campaigns/${id}`)).body.progress;
    expect(progress).toEqual({ to_send: expected.size, sent: expected.size, failed: 0 });
  });

  it('evaluates the segment when recipients are claimed, not when sending starts', async () => {
    const segment = await call('POST', '/v1/segments', {
      name: 'Ordered this week',
      definition: { event: 'Order Completed', window: { within_last_days: 7 } },
    });
    const id = await campaign({ name: 'Live', segment_id: segment.body.id });
    const started = await call('POST', `/v1/campaigns/${id}/send`);
    const toSend = started.body.progress.to_send;
    expect(toSend).toBe(25); // 2..50 even ordered 3 days ago
    // After the start: 59 orders now (joins), 2 becomes unsubscribed (leaves).
    await orders(59, 1, 0);
    await call('PATCH', `/v1/contacts/${ids.get(2)}`, { status: 'unsubscribed' });
    sink.messages.length = 0;
    await t.container.sender.drain();
    const received = sink.messages.map((m) => m.to[0] as string);
    expect(received).toContain(email(59));
    expect(received).not.toContain(email(2));
    expect(new Set(received).size).toBe(received.length);
    // A segment-only audience is the mailing list List-Id names, so providers can group and unsubscribe it.
    for (const m of sink.messages) {
      expect(listIdOf(m.raw)).toBe(`"Ordered this week" <${segment.body.id}.${t.workspaceId}.shop.example>`);
      expect(m.raw.toString()).toMatch(/\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/);
    }
  });

  it('needs a list or a segment, and refuses unknown or contradictory segments', async () => {
    const none = await campaign({ name: 'Nobody' });
    const notReady = await call('POST', `/v1/campaigns/${none}/send`);
    expect(notReady.status).toBe(409);
    expect(notReady.body.detail).toContain('or a segment (segment_id)');

    const unknown = await call('POST', '/v1/campaigns', { name: 'Ghost', segment_id: uuidv7() });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('SEGMENT_NOT_FOUND');
    expect(unknown.body.errors[0].path).toBe('/segment_id');

    const segment = await call('POST', '/v1/segments', {
      name: 'Everyone',
      definition: { field: 'email', operator: 'contains', value: '@' },
    });
    const both = await call('PATCH', `/v1/campaigns/${none}`, {
      segment_id: segment.body.id,
      exclude_segment_ids: [segment.body.id],
    });
    expect(both.status).toBe(400);
    expect(both.body.errors[0].path).toBe('/exclude_segment_ids');

    // Changing only the exclusions keeps the audience segment, and the other way round.
    await call('PATCH', `/v1/campaigns/${none}`, { segment_id: segment.body.id });
    const teens = (await call('GET', '/v1/segments')).body.data.find(
      (s: { name: string }) => s.name === 'Teens',
    );
    const patched = await call('PATCH', `/v1/campaigns/${none}`, { exclude_segment_ids: [teens.id] });
    expect(patched.body).toMatchObject({ segment_id: segment.body.id, exclude_segment_ids: [teens.id] });

    const inUse = await call('DELETE', `/v1/segments/${segment.body.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.detail).toContain('Nobody');
    const cleared = await call('PATCH', `/v1/campaigns/${none}`, {
      segment_id: null,
      exclude_segment_ids: [],
    });
    expect(cleared.body).toMatchObject({ segment_id: null, exclude_segment_ids: [] });
    expect((await call('DELETE', `/v1/segments/${segment.body.id}`)).status).toBe(204);
  });

  it("refuses another workspace's segment", async () => {
    const other = await t.createWorkspace('Elsewhere');
    const theirs = await t.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: t.auth(other.adminKey),
      payload: { name: 'Theirs', definition: { field: 'email', operator: 'contains', value: '@' } },
    });
    const res = await call('POST', '/v1/campaigns', { name: 'Steal', segment_id: theirs.json().id });
    expect(res.status).toBe(404);
  });
});
