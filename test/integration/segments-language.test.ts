import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { compileSegment, matchingContactsSql } from '../../src/modules/segments/segment-compiler.js';
import { type Condition, checkDefinition } from '../../src/modules/segments/segment-definition.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Every condition and operator of the segment language on a small, explicit
 * data set, through POST /v1/segments/evaluate, with the injected clock for
 * time windows: what a user writes and whom it finds.
 */

let t: TestApp;
const NOW = new Date('2026-03-15T12:00:00Z');
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);
const ids: Record<string, string> = {};
let newsletter: string;
let campaignA: string;
let campaignB: string;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** The local parts of the contacts a definition finds, sorted. */
async function who(definition: unknown): Promise<string[]> {
  const res = await call('POST', '/v1/segments/evaluate', { definition, limit: 1000 });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.count).toBe(res.body.data.length);
  return res.body.data.map((c: { email: string }) => c.email.split('@')[0]).sort();
}

async function contact(email: string, body: Record<string, unknown>, createdDaysAgo: number) {
  t.clock.set(ago(createdDaysAgo));
  const res = await call('POST', '/v1/contacts', { email, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  ids[email.split('@')[0] as string] = res.body.id;
}

async function track(
  userId: string,
  event: string,
  daysAgo: number,
  properties: object = {},
  type = 'track',
) {
  return {
    type,
    userId,
    [type === 'track' ? 'event' : 'name']: event,
    properties,
    timestamp: ago(daysAgo).toISOString(),
  };
}

beforeAll(async () => {
  t = await createTestApp();
  await call('POST', '/v1/attributes', { name: 'birthday', type: 'date' });
  await contact(
    'ann@example.com',
    {
      external_id: 'u-ann',
      attributes: {
        plan: 'pro',
        age: 41,
        birthday: '1985-03-16',
        renewal: '2026-03-10T08:30:00.000Z',
        address: { city: 'Berlin', zip: '10115' },
        interests: ['a', 'b'],
        nickname: 'Annie',
      },
      tags: ['vip'],
      timezone: 'Europe/Berlin',
    },
    400,
  );
  await contact(
    'Bo.Lee@Gmail.com',
    {
      attributes: { plan: 'free', age: 17, birthday: '1990-02-28', renewal: '2025-01-01' },
      tags: ['beta'],
      locale: 'en-US',
    },
    10,
  );
  await contact(
    'cy@shop.example',
    { attributes: { plan: 'Pro', age: '41', renewal: 'soon', address: { city: 'Paris' } } },
    2,
  );
  await contact('dee@example.org', { attributes: { interests: [1, 2] } }, 365);
  t.clock.set(NOW);
  await call('PATCH', `/v1/contacts/${ids.cy}`, { status: 'unsubscribed' });

  const list = await call('POST', '/v1/lists', {
    name: 'Newsletter',
    opt_in: 'single',
    visibility: 'public',
  });
  newsletter = list.body.id;
  await call('POST', `/v1/lists/${newsletter}/members`, { contact_ids: [ids.ann] });
  await call('POST', `/v1/lists/${newsletter}/members`, {
    contact_ids: [ids['Bo.Lee']],
    status: 'unconfirmed',
  });
  await call('POST', `/v1/lists/${newsletter}/members`, { contact_ids: [ids.dee] });
  await call('POST', `/v1/lists/${newsletter}/members/unsubscribe`, { contact_ids: [ids.dee] });

  const key = await t.createKey(['events:write']);
  const batch = [
    await track('u-ann', 'Order Completed', 1, {
      total: 120,
      items: [{ sku: 'A1', price: 100 }],
      coupon: 'SPRING',
    }),
    await track('u-ann', 'Order Completed', 5, { total: 80, items: [{ sku: 'B2', price: 80 }] }),
    await track('u-ann', 'Order Completed', 20, { total: 30 }),
    await track('u-ann', 'Order Completed', 40, { total: 20 }),
    await track('Bo.Lee@gmail.com', 'Order Completed', 10, { total: 50, coupon: null }),
    await track('Bo.Lee@gmail.com', 'Viewed Product', 2, { product: { name: 'Lamp', tags: ['home'] } }),
    {
      type: 'page',
      anonymousId: 'x',
      name: 'Pricing',
      properties: {},
      context: { traits: { email: 'dee@example.org' } },
    },
  ];
  const sent = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: `Bearer ${key}` },
    payload: { batch },
  });
  expect(sent.json().accepted).toBe(batch.length);

  // Campaign history, as the sender and the tracking endpoints record it.
  campaignA = uuidv7();
  campaignB = uuidv7();
  for (const [id, name] of [
    [campaignA, 'Spring'],
    [campaignB, 'Winter'],
  ]) {
    await sql`INSERT INTO campaigns (id, workspace_id, name, status, created_at, updated_at)
      VALUES (${id}, ${t.workspaceId}, ${name}, 'sent', ${NOW}, ${NOW})`.execute(t.container.db);
  }
  const send = async (campaign: string, who: string, status: string, error: string | null, daysAgo: number) =>
    sql`INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, error, created_at, finished_at)
      VALUES (${campaign}, ${ids[who]}, ${t.workspaceId}, ${`${uuidv7()}@example.com`}, ${status}, ${error},
              ${ago(daysAgo)}, ${ago(daysAgo)})`.execute(t.container.db);
  await send(campaignA, 'ann', 'sent', null, 3);
  await send(campaignA, 'Bo.Lee', 'sent', null, 3);
  await send(campaignA, 'cy', 'failed', 'permanent transport error (550)', 3);
  await send(campaignA, 'dee', 'sent', null, 3);
  await send(campaignB, 'ann', 'sent', null, 100);
  await send(campaignB, 'dee', 'failed', 'temporary transport error (451)', 100);
  const hit = async (campaign: string, who: string, kind: string, classification: string, daysAgo: number) =>
    sql`INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
      VALUES (${uuidv7()}, ${t.workspaceId}, ${campaign}, ${ids[who]}, ${uuidv7()}, ${kind}, ${ago(daysAgo)},
              ${classification})`.execute(t.container.db);
  await hit(campaignA, 'ann', 'open', 'human', 2);
  await hit(campaignA, 'ann', 'click', 'human', 2);
  await hit(campaignA, 'Bo.Lee', 'open', 'prefetch', 3);
  await hit(campaignB, 'ann', 'open', 'proxy', 99);

  for (const [who, revenue, currency, event, daysAgo] of [
    ['ann@example.com', '49.90', 'EUR', 'purchase', 3],
    ['ann@example.com', '60.10', 'EUR', 'purchase', 50],
    ['bo.lee@gmail.com', '15.00', 'USD', 'purchase', 5],
    ['dee@example.org', null, null, 'signup', 1],
  ] as const) {
    const res = await call('POST', '/v1/conversions', {
      contact: { email: who },
      event,
      ...(revenue ? { revenue, currency } : {}),
      occurred_at: ago(daysAgo).toISOString(),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
});

describe('attributes', () => {
  it('equals, not_equals and in compare JSON values exactly (type and case)', async () => {
    expect(await who({ attribute: 'plan', operator: 'equals', value: 'pro' })).toEqual(['ann']);
    expect(await who({ attribute: 'age', operator: 'equals', value: 41 })).toEqual(['ann']);
    expect(await who({ attribute: 'age', operator: 'equals', value: '41' })).toEqual(['cy']);
    expect(await who({ attribute: 'plan', operator: 'not_equals', value: 'pro' })).toEqual([
      'Bo.Lee',
      'cy',
      'dee',
    ]);
    expect(await who({ attribute: 'plan', operator: 'in', value: ['Pro', 'free'] })).toEqual([
      'Bo.Lee',
      'cy',
    ]);
  });

  it('contains, starts_with and ends_with ignore ASCII case; contains also finds list elements', async () => {
    expect(await who({ attribute: 'plan', operator: 'contains', value: 'R' })).toEqual([
      'Bo.Lee',
      'ann',
      'cy',
    ]);
    expect(await who({ attribute: 'nickname', operator: 'starts_with', value: 'ann' })).toEqual(['ann']);
    expect(await who({ attribute: 'nickname', operator: 'ends_with', value: 'NIE' })).toEqual(['ann']);
    expect(await who({ attribute: 'interests', operator: 'contains', value: 'b' })).toEqual(['ann']);
    expect(await who({ attribute: 'interests', operator: 'contains', value: 2 })).toEqual(['dee']);
  });

  it('exists, and numbers with greater_than, less_than and between (only real numbers count)', async () => {
    expect(await who({ attribute: 'age', operator: 'exists' })).toEqual(['Bo.Lee', 'ann', 'cy']);
    expect(await who({ attribute: 'age', operator: 'greater_than', value: 18 })).toEqual(['ann']);
    expect(await who({ attribute: 'age', operator: 'less_than', value: 18 })).toEqual(['Bo.Lee']);
    expect(await who({ attribute: 'age', operator: 'between', value: [17, 41] })).toEqual(['Bo.Lee', 'ann']);
  });

  it('dates: before, after, between, within the last / more than N days ago, anniversary in N days', async () => {
    expect(await who({ attribute: 'renewal', operator: 'before', value: '2026-01-01' })).toEqual(['Bo.Lee']);
    expect(
      await who({ attribute: 'renewal', operator: 'after', value: '2026-03-01T00:00:00+01:00' }),
    ).toEqual(['ann']);
    expect(
      await who({ attribute: 'renewal', operator: 'between', value: ['2024-12-31', '2026-03-10'] }),
    ).toEqual(['Bo.Lee']);
    expect(await who({ attribute: 'renewal', operator: 'within_last_days', value: 7 })).toEqual(['ann']);
    expect(await who({ attribute: 'renewal', operator: 'more_than_days_ago', value: 30 })).toEqual([
      'Bo.Lee',
    ]);
    expect(await who({ attribute: 'birthday', operator: 'anniversary_in_days', value: 1 })).toEqual(['ann']);
    expect(await who({ attribute: 'birthday', operator: 'anniversary_in_days', value: 0 })).toEqual([]);
    // 2027 is no leap year: Feb 28 birthdays come 350 days from now, together with the Feb 29 ones.
    expect(await who({ attribute: 'birthday', operator: 'anniversary_in_days', value: 350 })).toEqual([
      'Bo.Lee',
    ]);
  });

  it('reads nested values by path, array positions included', async () => {
    expect(await who({ attribute: ['address', 'city'], operator: 'equals', value: 'Berlin' })).toEqual([
      'ann',
    ]);
    expect(await who({ attribute: ['address', 'city'], operator: 'exists' })).toEqual(['ann', 'cy']);
    expect(await who({ attribute: ['interests', '0'], operator: 'equals', value: 1 })).toEqual(['dee']);
    expect(await who({ attribute: ['interests', '-1'], operator: 'equals', value: 'b' })).toEqual(['ann']);
  });

  it('refuses operators that do not fit a defined attribute, with the path', async () => {
    const res = await call('POST', '/v1/segments/evaluate', {
      definition: { all: [{ attribute: 'birthday', operator: 'greater_than', value: 3 }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SEGMENT_INVALID');
    expect(res.body.errors[0].path).toBe('/definition/all/0/operator');
    expect(res.body.errors[0].message).toContain('birthday" is a date');
  });
});

describe('built-in fields', () => {
  it('email and domain compare lower-cased; status, timezone, locale, external_id as stored', async () => {
    expect(await who({ field: 'email', operator: 'equals', value: 'BO.LEE@gmail.com' })).toEqual(['Bo.Lee']);
    expect(await who({ field: 'domain', operator: 'in', value: ['example.com', 'SHOP.example'] })).toEqual([
      'ann',
      'cy',
    ]);
    expect(await who({ field: 'domain', operator: 'ends_with', value: '.org' })).toEqual(['dee']);
    expect(await who({ field: 'email', operator: 'contains', value: 'lee@' })).toEqual(['Bo.Lee']);
    expect(await who({ field: 'status', operator: 'not_equals', value: 'active' })).toEqual(['cy']);
    expect(await who({ field: 'timezone', operator: 'starts_with', value: 'europe/' })).toEqual(['ann']);
    expect(await who({ field: 'locale', operator: 'exists' })).toEqual(['Bo.Lee']);
    expect(await who({ field: 'external_id', operator: 'equals', value: 'u-ann' })).toEqual(['ann']);
  });

  it('created_at with dates and the clock; tags by tag', async () => {
    expect(await who({ field: 'created_at', operator: 'within_last_days', value: 30 })).toEqual([
      'Bo.Lee',
      'cy',
    ]);
    expect(await who({ field: 'created_at', operator: 'more_than_days_ago', value: 364 })).toEqual([
      'ann',
      'dee',
    ]);
    expect(await who({ field: 'created_at', operator: 'anniversary_in_days', value: 0 })).toEqual(['dee']);
    expect(await who({ field: 'created_at', operator: 'anniversary_in_days', value: 330 })).toEqual(['ann']);
    expect(await who({ field: 'created_at', operator: 'before', value: ago(100).toISOString() })).toEqual([
      'ann',
      'dee',
    ]);
    expect(await who({ field: 'tags', operator: 'contains', value: 'vip' })).toEqual(['ann']);
    expect(await who({ field: 'tags', operator: 'in', value: ['beta', 'x'] })).toEqual(['Bo.Lee']);
    expect(await who({ not: { field: 'tags', operator: 'exists' } })).toEqual(['cy', 'dee']);
  });
});

describe('lists', () => {
  it('members by status; subscribed (confirmed or unconfirmed) by default', async () => {
    expect(await who({ list: newsletter })).toEqual(['Bo.Lee', 'ann']);
    expect(await who({ list: newsletter, status: ['unsubscribed'] })).toEqual(['dee']);
    expect(
      await who({ not: { list: newsletter, status: ['confirmed', 'unconfirmed', 'unsubscribed'] } }),
    ).toEqual(['cy']);
  });
});

describe('events', () => {
  it('performed and not performed, counted at least / at most / exactly, in windows', async () => {
    expect(await who({ event: 'Order Completed' })).toEqual(['Bo.Lee', 'ann']);
    expect(await who({ event: 'Order Completed', performed: false })).toEqual(['cy', 'dee']);
    expect(
      await who({
        event: 'Order Completed',
        count: { operator: 'at_least', value: 3 },
        window: { within_last_days: 30 },
      }),
    ).toEqual(['ann']);
    expect(await who({ event: 'Order Completed', count: { operator: 'at_most', value: 1 } })).toEqual([
      'Bo.Lee',
      'cy',
      'dee',
    ]);
    expect(await who({ event: 'Order Completed', count: { operator: 'exactly', value: 4 } })).toEqual([
      'ann',
    ]);
    expect(await who({ event: 'Order Completed', window: { since: ago(7).toISOString() } })).toEqual(['ann']);
    expect(
      await who({
        event: 'Order Completed',
        window: { since: ago(15).toISOString(), until: ago(8).toISOString() },
      }),
    ).toEqual(['Bo.Lee']);
  });

  it('filters on properties by name or nested path, with the same operators', async () => {
    expect(
      await who({
        event: 'Order Completed',
        where: [{ property: 'total', operator: 'greater_than', value: 100 }],
      }),
    ).toEqual(['ann']);
    expect(
      await who({
        event: 'Order Completed',
        where: [{ property: ['items', '0', 'sku'], operator: 'in', value: ['B2', 'C3'] }],
      }),
    ).toEqual(['ann']);
    expect(
      await who({ event: 'Order Completed', where: [{ property: 'coupon', operator: 'exists' }] }),
    ).toEqual(['ann']);
    expect(
      await who({
        event: 'Viewed Product',
        where: [{ property: ['product', 'tags'], operator: 'contains', value: 'home' }],
      }),
    ).toEqual(['Bo.Lee']);
    expect(
      await who({
        event: 'Order Completed',
        count: { operator: 'at_least', value: 2 },
        where: [{ property: 'total', operator: 'between', value: [25, 100] }],
      }),
    ).toEqual(['ann']);
  });

  it('page and screen views by type', async () => {
    expect(await who({ event: 'Pricing', type: 'page' })).toEqual(['dee']);
    expect(await who({ event: 'Pricing' })).toEqual([]);
  });
});

describe('email engagement', () => {
  it('received, opened (human only or not), clicked: a campaign or any, in a window', async () => {
    expect(await who({ engagement: 'received', campaign: campaignA })).toEqual(['Bo.Lee', 'ann', 'dee']);
    expect(await who({ engagement: 'received', window: { within_last_days: 30 } })).toEqual([
      'Bo.Lee',
      'ann',
      'dee',
    ]);
    expect(await who({ engagement: 'received', campaign: campaignB })).toEqual(['ann']);
    expect(await who({ engagement: 'opened', campaign: campaignA })).toEqual(['Bo.Lee', 'ann']);
    expect(await who({ engagement: 'opened', campaign: campaignA, human_only: true })).toEqual(['ann']);
    expect(await who({ engagement: 'opened', window: { within_last_days: 90 } })).toEqual(['Bo.Lee', 'ann']);
    expect(await who({ engagement: 'opened', campaign: campaignB, human_only: true })).toEqual(['ann']);
    expect(await who({ engagement: 'clicked' })).toEqual(['ann']);
  });

  it('never opened (received, no opens), and bounced hard or soft', async () => {
    expect(await who({ engagement: 'never_opened' })).toEqual(['dee']);
    expect(await who({ engagement: 'never_opened', human_only: true })).toEqual(['Bo.Lee', 'dee']);
    expect(await who({ engagement: 'bounced' })).toEqual(['cy', 'dee']);
    expect(await who({ engagement: 'bounced', bounce: 'hard' })).toEqual(['cy']);
    expect(await who({ engagement: 'bounced', bounce: 'soft', window: { within_last_days: 30 } })).toEqual(
      [],
    );
  });

  it('refuses a campaign of another workspace or none', async () => {
    const res = await call('POST', '/v1/segments/evaluate', {
      definition: { engagement: 'opened', campaign: uuidv7() },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('/definition/campaign');
  });
});

describe('conversions and revenue', () => {
  it('counts conversions and totals revenue per currency in a window, exactly', async () => {
    expect(await who({ conversion: {} })).toEqual(['Bo.Lee', 'ann', 'dee']);
    expect(
      await who({ conversion: { event: 'purchase', count: { operator: 'at_least', value: 2 } } }),
    ).toEqual(['ann']);
    expect(
      await who({ conversion: { currency: 'EUR', revenue: { operator: 'equals', value: '110.00' } } }),
    ).toEqual(['ann']);
    expect(
      await who({
        conversion: {
          currency: 'EUR',
          revenue: { operator: 'at_least', value: '49.90' },
          window: { within_last_days: 30 },
        },
      }),
    ).toEqual(['ann']);
    expect(
      await who({
        conversion: {
          currency: 'EUR',
          revenue: { operator: 'greater_than', value: '49.9' },
          window: { within_last_days: 30 },
        },
      }),
    ).toEqual([]);
    // No conversions total 0: they are below 10 too.
    expect(
      await who({ conversion: { currency: 'USD', revenue: { operator: 'less_than', value: 10 } } }),
    ).toEqual(['ann', 'cy', 'dee']);
  });

  it('needs a currency for revenue', async () => {
    const res = await call('POST', '/v1/segments/evaluate', {
      definition: { conversion: { revenue: { operator: 'at_least', value: 1 } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual({
      path: '/definition/conversion/currency',
      message: 'revenue totals are per currency: give currency',
    });
  });
});

describe('nesting, other segments and samples', () => {
  it('and, or, not nest; a saved segment can be named', async () => {
    const pro = await call('POST', '/v1/segments', {
      name: 'Pro',
      definition: { attribute: 'plan', operator: 'in', value: ['pro', 'Pro'] },
    });
    expect(pro.status).toBe(201);
    expect(
      await who({
        any: [
          { all: [{ segment: pro.body.id }, { field: 'status', operator: 'equals', value: 'active' }] },
          { not: { any: [{ event: 'Order Completed' }, { attribute: 'plan', operator: 'exists' }] } },
        ],
      }),
    ).toEqual(['ann', 'dee']);
  });

  it('a sample is a stable share of the contacts, by seed', async () => {
    const all = await who({ sample: { percent: 100 } });
    expect(all).toEqual(['Bo.Lee', 'ann', 'cy', 'dee']);
    const half = await who({ sample: { percent: 50, seed: 'spring' } });
    expect(await who({ sample: { percent: 50, seed: 'spring' } })).toEqual(half);
    const rest = await who({ not: { sample: { percent: 50, seed: 'spring' } } });
    expect([...half, ...rest].sort()).toEqual(all);
  });
});

describe('bad definitions', () => {
  it('say which node failed and how to fix it', async () => {
    const res = await call('POST', '/v1/segments/evaluate', {
      definition: {
        all: [
          { attribute: 'plan', operator: 'equal', value: 'pro' },
          { event: 'Order Completed', count: { operator: 'at_least', value: 'three' } },
          { any: [] },
          { engagement: 'opened', window: { within_last_days: 30, since: '2026-01-01' } },
          { list: 'not-a-uuid' },
          { field: 'created_at', operator: 'contains', value: 'x' },
          { attribute: 'plan', operator: 'equals', value: 'pro', list: newsletter },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SEGMENT_INVALID');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual([
      '/definition/all/0/operator',
      '/definition/all/1/count/value',
      '/definition/all/2/any',
      '/definition/all/3/window',
      '/definition/all/4/list',
      '/definition/all/5/operator',
      '/definition/all/6',
    ]);
    expect(res.body.errors[0].message).toContain('unknown operator "equal"; use one of "equals"');
    expect(res.body.detail).toContain('/definition/all/0/operator');
  });

  it('refuses a list of another workspace, with the path', async () => {
    const other = await t.createWorkspace('Other lists');
    const list = await t.app.inject({
      method: 'POST',
      url: '/v1/lists',
      headers: t.auth(other.adminKey),
      payload: { name: 'Theirs', opt_in: 'single', visibility: 'private' },
    });
    const res = await call('POST', '/v1/segments/evaluate', {
      definition: { not: { list: list.json().id } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual({
      path: '/definition/not/list',
      message: `list ${list.json().id} does not exist in this workspace`,
    });
  });
});

describe('no input reaches SQL as text', () => {
  const nasty = [
    "x' OR '1'='1",
    "'); DROP TABLE contacts; --",
    'q$1q',
    '"; SELECT pg_sleep(10); --',
    '\\',
    '%_',
    '*/ --',
    "E'\\x41'",
  ];

  it('binds every value, name, path and event name as a parameter', async () => {
    for (const bad of nasty) {
      const definition: Condition = {
        any: [
          { attribute: 'plan', operator: 'equals', value: bad },
          { attribute: [bad, bad], operator: 'contains', value: bad },
          { attribute: ['address', bad], operator: 'in', value: [bad, 1] },
          { field: 'email', operator: 'starts_with', value: bad },
          { field: 'domain', operator: 'ends_with', value: bad },
          { field: 'timezone', operator: 'in', value: [bad] },
          { field: 'tags', operator: 'contains', value: bad },
          { event: bad, where: [{ property: [bad], operator: 'equals', value: bad }] },
          {
            event: 'Order Completed',
            type: 'page',
            where: [{ property: bad, operator: 'starts_with', value: bad }],
          },
          { conversion: { event: bad, currency: 'EUR', revenue: { operator: 'at_least', value: '1' } } },
          { all: [{ sample: { percent: 50, seed: bad } }, { attribute: [bad], operator: 'exists' }] },
        ],
      };
      const checked = checkDefinition(definition);
      expect(checked.ok, JSON.stringify(checked)).toBe(true);
      const compiled = compileSegment(definition, {
        workspaceId: t.workspaceId,
        now: NOW,
        segments: new Map(),
      });
      for (const query of [
        matchingContactsSql(compiled, t.workspaceId),
        sql`SELECT 1 FROM contacts c WHERE ${compiled.probe}`,
      ]) {
        const text = query.compile(t.container.db).sql;
        expect(text).not.toContain(bad);
        expect(text).not.toContain('DROP');
      }
      expect(await who(definition)).toEqual([]);
    }
    const count = await sql<{ n: string }>`SELECT count(*) AS n FROM contacts`.execute(t.container.db);
    expect(Number(count.rows[0]?.n)).toBe(4);
  });
});
