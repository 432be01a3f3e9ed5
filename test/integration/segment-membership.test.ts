import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The membership job: who entered and left each saved segment, found
 * incrementally from touched contacts and by periodic full comparisons,
 * recorded as segment.entered / segment.exited events.
 */

let t: TestApp;
let writeKey: string;
const MINUTE = 60_000;
const DAY = 86_400_000;
const ids: Record<string, string> = {};
let segmentId: string;
let listSegmentId: string;
let listId: string;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function changes() {
  const rows = await sql<{ name: string; email: string; segment: string }>`
    SELECT e.name, c.email, e.properties ->> 'segment_name' AS segment FROM events e JOIN contacts c ON c.id = e.contact_id
    WHERE e.workspace_id = ${t.workspaceId} AND e.source = 'herald'
    ORDER BY e.occurred_at, segment, e.name, c.email`.execute(t.container.db);
  return rows.rows.map(
    (r) => `${r.segment}: ${r.name === 'segment.entered' ? '+' : '-'}${r.email.split('@')[0]}`,
  );
}

const refresh = () => t.container.segmentMembership.refresh();
const later = (ms: number) => t.clock.advance(ms);
const order = (userId: string) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: `Bearer ${writeKey}` },
    payload: { userId, event: 'Order Completed' },
  });

beforeAll(async () => {
  t = await createTestApp({ HERALD_SEGMENT_FULL_REFRESH_MINUTES: '60' });
  t.clock.set(new Date('2026-03-15T12:00:00Z'));
  writeKey = await t.createKey(['events:write']);
  for (const [name, plan] of [
    ['ann', 'pro'],
    ['bo', 'pro'],
    ['cy', 'free'],
  ] as const) {
    const res = await call('POST', '/v1/contacts', {
      email: `${name}@example.com`,
      external_id: name,
      attributes: { plan },
    });
    ids[name] = res.body.id;
  }
  await order('ann');
  const segment = await call('POST', '/v1/segments', {
    name: 'Recent pro buyers',
    definition: {
      all: [
        { attribute: 'plan', operator: 'equals', value: 'pro' },
        { event: 'Order Completed', window: { within_last_days: 7 } },
      ],
    },
  });
  segmentId = segment.body.id;
  listId = (await call('POST', '/v1/lists', { name: 'News', opt_in: 'single' })).body.id;
  listSegmentId = (await call('POST', '/v1/segments', { name: 'News readers', definition: { list: listId } }))
    .body.id;
});
afterAll(async () => {
  await t?.close();
});

describe('segment membership changes', () => {
  it('records the members of a new segment without events', async () => {
    const round = await refresh();
    expect(round).toMatchObject({ segments: 2, full: 2, entered: 0, exited: 0 });
    expect(await changes()).toEqual([]);
    const segment = await call('GET', `/v1/segments/${segmentId}`);
    expect(segment.body.recorded_members).toEqual({ count: 1, checked_at: t.clock.now().toISOString() });
  });

  it('finds contacts touched by new events or changes, without a full comparison', async () => {
    later(MINUTE);
    await order('bo');
    await order('cy');
    await call('PATCH', `/v1/contacts/${ids.ann}`, { attributes: { plan: 'free' } });
    const round = await refresh();
    expect(round).toMatchObject({ full: 0, entered: 1, exited: 1 });
    expect(await changes()).toEqual(['Recent pro buyers: +bo', 'Recent pro buyers: -ann']);
    // Nothing new: nothing recorded.
    later(MINUTE);
    expect(await refresh()).toMatchObject({ entered: 0, exited: 0 });
  });

  it('finds list joins and removals incrementally, through the consent records they write', async () => {
    later(MINUTE);
    await call('POST', `/v1/lists/${listId}/members`, { contact_ids: [ids.bo] });
    expect(await refresh()).toMatchObject({ full: 0, entered: 1, exited: 0 });
    later(MINUTE);
    await call('POST', `/v1/lists/${listId}/members/remove`, { contact_ids: [ids.bo] });
    expect(await refresh()).toMatchObject({ full: 0, entered: 0, exited: 1 });
    expect((await changes()).slice(-2)).toEqual(['News readers: +bo', 'News readers: -bo']);
  });

  it('catches time windows passing in the periodic full comparison', async () => {
    later(8 * DAY);
    // The window has passed, but nobody was touched since... and a full check is due.
    const round = await refresh();
    expect(round.full).toBe(2);
    expect(await changes()).toEqual([
      'Recent pro buyers: +bo',
      'Recent pro buyers: -ann',
      'News readers: +bo',
      'News readers: -bo',
      'Recent pro buyers: -bo',
    ]);
  });

  it('stores the changes as events of the contact, with the segment', async () => {
    const res = await call('GET', `/v1/contacts/${ids.bo}/events`);
    const herald = res.body.data.filter(
      (e: { source: string; properties: { segment_id?: string } }) =>
        e.source === 'herald' && e.properties.segment_id === segmentId,
    );
    expect(herald.map((e: { name: string }) => e.name)).toEqual(['segment.exited', 'segment.entered']);
    expect(herald[0].properties).toEqual({ segment_id: segmentId, segment_name: 'Recent pro buyers' });
    const segment = await call('GET', `/v1/segments/${segmentId}`);
    expect(segment.body.recorded_members.count).toBe(0);
  });

  it('leaves other workspaces alone and survives deleted contacts and segments', async () => {
    const other = await t.createWorkspace('Other');
    const theirs = await call(
      'POST',
      '/v1/segments',
      { name: 'Everyone', definition: { field: 'email', operator: 'contains', value: '@' } },
      other.adminKey,
    );
    await call('POST', '/v1/contacts', { email: 'zed@example.com' }, other.adminKey);
    await call('DELETE', `/v1/contacts/${ids.cy}`);
    await call('DELETE', `/v1/segments/${listSegmentId}`);
    later(MINUTE);
    await refresh();
    const count = await call('GET', `/v1/segments/${theirs.body.id}`, undefined, other.adminKey);
    expect(count.body.recorded_members.count).toBe(1);
    expect((await changes()).some((c) => c.includes('zed'))).toBe(false);
  });

  it('runs as a periodic job offered once per period, however many workers offer it', async () => {
    const before = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM jobs WHERE task = 'segments.refresh'`.execute(t.container.db);
    await t.container.scheduler.tick();
    await t.container.scheduler.tick();
    const after = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM jobs WHERE task = 'segments.refresh'`.execute(t.container.db);
    expect(Number(after.rows[0]?.n) - Number(before.rows[0]?.n)).toBe(1);
    later(MINUTE);
    await t.container.scheduler.tick();
    const third = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM jobs WHERE task = 'segments.refresh'`.execute(t.container.db);
    expect(Number(third.rows[0]?.n) - Number(before.rows[0]?.n)).toBe(2);
  });
});
