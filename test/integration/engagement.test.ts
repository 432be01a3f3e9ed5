import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreOf } from '../../src/modules/engagement/engagement-score.js';
import { ENGAGEMENT_REFRESH_TASK } from '../../src/modules/engagement/index.js';
import { compileSegment, matchingContactsSql } from '../../src/modules/segments/index.js';
import type { Condition } from '../../src/modules/segments/segment-definition.js';
import {
  insertContacts,
  insertConversion,
  insertHits,
  insertSends,
  insertSentCampaign,
} from '../helpers/engagement-history.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The engagement refresh on a history written set-based: what each contact's
 * engagement becomes (prefetches and bots never count), how it shows on the
 * contact, the segment conditions on it in both SQL shapes, bad input, and
 * that another workspace's data is never used or shown.
 */

let t: TestApp;
let other: { workspaceId: string; adminKey: string };
const NOW = new Date('2026-03-16T12:00:00.000Z'); // a Monday
const DAY = 86_400_000;
const at = (iso: string) => new Date(iso);
const ids: Record<string, string> = {};

type Method = 'GET' | 'POST';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** Ann's human opens (first per email, and one re-open) and click: Tuesdays at 14:xx UTC, hour 38. */
const ANN = {
  opens: [at('2026-02-03T14:10:00Z'), at('2026-03-03T14:20:00Z'), at('2026-03-10T14:40:00Z')],
  reopen: at('2026-03-10T14:50:00Z'),
  click: at('2026-03-10T14:41:00Z'),
};

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(NOW);
  other = await t.createWorkspace('Other');
  const ws = t.workspaceId;
  const db = t.container.db;
  const names = ['ann', 'bob', 'cy', 'dee', 'eve', 'f1', 'f2', 'f3', 'f4', 'f5'];
  const contactIds = await insertContacts(
    db,
    ws,
    names.map((name) => ({ email: `${name}@example.com`, createdAt: new Date(NOW.getTime() - 400 * DAY) })),
  );
  names.forEach((name, i) => {
    ids[name] = contactIds[i] as string;
  });
  const c1 = await insertSentCampaign(db, ws, 'February', at('2026-02-03T14:00:00Z'));
  const c2 = await insertSentCampaign(db, ws, 'March 3', at('2026-03-03T14:00:00Z'));
  const c3 = await insertSentCampaign(db, ws, 'March 10', at('2026-03-10T14:00:00Z'));
  const old = await insertSentCampaign(db, ws, 'December', at('2025-12-05T09:00:00Z'));
  const crowd = ['f1', 'f2', 'f3', 'f4', 'f5'].map((n) => ids[n] as string);
  await insertSends(db, ws, [
    { campaignId: c1, contactId: ids.ann as string, finishedAt: at('2026-02-03T14:00:00Z') },
    { campaignId: c2, contactId: ids.ann as string, finishedAt: at('2026-03-03T14:00:00Z') },
    { campaignId: c3, contactId: ids.ann as string, finishedAt: at('2026-03-10T14:00:00Z') },
    { campaignId: c2, contactId: ids.bob as string, finishedAt: at('2026-03-03T14:00:00Z') },
    { campaignId: c3, contactId: ids.bob as string, finishedAt: at('2026-03-10T14:00:00Z') },
    { campaignId: old, contactId: ids.eve as string, finishedAt: at('2025-12-05T09:00:00Z') },
    ...crowd.flatMap((contactId) => [
      { campaignId: old, contactId, finishedAt: at('2025-12-05T09:00:00Z') },
      { campaignId: c1, contactId, finishedAt: at('2026-02-03T14:00:00Z') },
    ]),
  ]);
  await insertHits(db, ws, [
    ...ANN.opens.map((a, i) => ({
      campaignId: [c1, c2, c3][i] as string,
      contactId: ids.ann as string,
      kind: 'open' as const,
      at: a,
    })),
    { campaignId: c3, contactId: ids.ann as string, kind: 'open', at: ANN.reopen, classification: 'proxy' },
    { campaignId: c3, contactId: ids.ann as string, kind: 'click', at: ANN.click },
    // Machines: an Apple Mail prefetch and a link scanner never count, for Ann or for Bob.
    {
      campaignId: c3,
      contactId: ids.ann as string,
      kind: 'open',
      at: at('2026-03-10T03:00:00Z'),
      classification: 'prefetch',
    },
    {
      campaignId: c3,
      contactId: ids.ann as string,
      kind: 'click',
      at: at('2026-03-11T03:00:00Z'),
      classification: 'scanner',
    },
    ...[c2, c3].flatMap((campaignId) => [
      {
        campaignId,
        contactId: ids.bob as string,
        kind: 'open' as const,
        at: at('2026-03-10T14:01:00Z'),
        classification: 'prefetch' as const,
      },
      {
        campaignId,
        contactId: ids.bob as string,
        kind: 'click' as const,
        at: at('2026-03-10T14:02:00Z'),
        classification: 'bot' as const,
      },
    ]),
    { campaignId: old, contactId: ids.eve as string, kind: 'open', at: new Date(NOW.getTime() - 100 * DAY) },
    // The crowd opens on Fridays at 09:xx UTC (hour 105): the workspace's best hour.
    ...crowd.flatMap((contactId) => [
      { campaignId: old, contactId, kind: 'open' as const, at: at('2026-01-16T09:05:00Z') },
      { campaignId: c1, contactId, kind: 'open' as const, at: at('2026-02-13T09:30:00Z') },
    ]),
  ]);
  await insertConversion(db, ws, ids.dee as string, new Date(NOW.getTime() - 30 * DAY));

  // Another workspace whose people engage on Mondays at 00:xx (hour 0), much more often.
  const [noise] = await insertContacts(db, other.workspaceId, [
    { email: 'noise@example.com', createdAt: new Date(NOW.getTime() - 400 * DAY) },
  ]);
  const noiseCampaign = await insertSentCampaign(db, other.workspaceId, 'Noise', at('2026-03-09T00:00:00Z'));
  await insertHits(
    db,
    other.workspaceId,
    Array.from({ length: 50 }, (_, i) => ({
      campaignId: noiseCampaign,
      contactId: noise as string,
      kind: 'open' as const,
      at: new Date(Date.parse('2026-03-09T00:00:00Z') + i * 60_000),
    })),
  );
});
afterAll(async () => {
  await t?.close();
});

describe('before the first refresh', () => {
  it('shows engagement as null on the contact and in the list, and no models', async () => {
    const one = await call('GET', `/v1/contacts/${ids.ann}`);
    expect(one.status).toBe(200);
    expect(one.body.engagement).toBeNull();
    const page = await call('GET', '/v1/contacts?limit=3');
    expect(page.body.data.map((c: { engagement: unknown }) => c.engagement)).toEqual([null, null, null]);
    const models = await call('GET', '/v1/engagement/models');
    expect(models.status).toBe(200);
    expect(models.body.data).toEqual([
      { kind: 'open', model: null, last_attempt: null },
      { kind: 'click', model: null, last_attempt: null },
    ]);
  });
});

describe('the refresh', () => {
  it('runs as the engagement.refresh job over every workspace, and on demand for one', async () => {
    await t.container.jobs.enqueue(ENGAGEMENT_REFRESH_TASK, {});
    await t.container.runner.drain();
    const count = await sql<{ n: string }>`SELECT count(*) AS n FROM contact_engagement`.execute(
      t.container.db,
    );
    expect(Number(count.rows[0]?.n)).toBe(11);
    const refreshed = await call('POST', '/v1/engagement/refresh');
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({
      contacts: 10,
      open_model_id: null,
      click_model_id: null,
      workspace_best_hour: 105,
    });
  });

  it('scores human engagement with decay, each email once, and ignores prefetches, scanners and bots', async () => {
    const ann = (await call('GET', `/v1/contacts/${ids.ann}`)).body.engagement;
    const expected = scoreOf(
      [
        ...ANN.opens.map((a) => ({ kind: 'open' as const, at: a })),
        { kind: 'click' as const, at: ANN.click },
      ],
      NOW,
    );
    expect(ann.score).toBeCloseTo(expected, 9);
    expect(ann).toMatchObject({
      open_probability: null,
      click_probability: null,
      best_hour: 38,
      best_hour_source: 'contact',
      at_risk: false,
      last_open_at: ANN.reopen.toISOString(),
      last_click_at: ANN.click.toISOString(),
      opens_30d: 2,
      opens_90d: 3,
      clicks_30d: 1,
      clicks_90d: 1,
      received_30d: 2,
      received_90d: 3,
      computed_at: NOW.toISOString(),
    });
    const bob = (await call('GET', `/v1/contacts/${ids.bob}`)).body.engagement;
    expect(bob).toMatchObject({
      score: 0,
      last_open_at: null,
      last_click_at: null,
      opens_90d: 0,
      received_30d: 2,
      received_90d: 2,
      best_hour: 105,
      best_hour_source: 'workspace',
    });
  });

  it('gives contacts without history the workspace’s best hour, never another workspace’s', async () => {
    const cy = (await call('GET', `/v1/contacts/${ids.cy}`)).body.engagement;
    expect(cy).toMatchObject({ score: 0, best_hour: 105, best_hour_source: 'workspace', received_90d: 0 });
    const profile = await t.container.db
      .selectFrom('workspace_engagement')
      .selectAll()
      .where('workspace_id', '=', t.workspaceId)
      .executeTakeFirstOrThrow();
    // Ann's 3 opens, re-open and click at 38; the crowd's 10 at 105 (Friday 09:xx, two Fridays); Eve's one. No hour 0.
    expect(profile.hour_counts).toMatchObject({ '38': 5, '105': 10 });
    expect(profile.hour_counts['0']).toBeUndefined();
  });

  it('counts conversions (5, halved after 30 days) and calls a contact silent for 100 days at risk', async () => {
    const dee = (await call('GET', `/v1/contacts/${ids.dee}`)).body.engagement;
    expect(dee.score).toBeCloseTo(2.5, 9);
    expect(dee.conversions_365d).toBe(1);
    const eve = (await call('GET', `/v1/contacts/${ids.eve}`)).body.engagement;
    expect(eve.at_risk).toBe(true);
    expect(eve.score).toBeCloseTo(0.5 ** (100 / 30), 9);
  });

  it('lists contacts with their engagement', async () => {
    const page = await call('GET', '/v1/contacts?limit=100');
    expect(page.status).toBe(200);
    expect(page.body.data).toHaveLength(10);
    for (const contact of page.body.data) expect(contact.engagement?.computed_at).toBe(NOW.toISOString());
  });

  it("never shows another workspace's engagement, nor refreshes this one for it", async () => {
    const res = await call('GET', `/v1/contacts/${ids.ann}`, undefined, other.adminKey);
    expect(res.status).toBe(404);
    t.clock.advance(60_000);
    const theirs = await call('POST', '/v1/engagement/refresh', undefined, other.adminKey);
    expect(theirs.body).toMatchObject({ contacts: 1, workspace_best_hour: 0 });
    const ann = (await call('GET', `/v1/contacts/${ids.ann}`)).body.engagement;
    expect(ann.computed_at).toBe(NOW.toISOString());
    const list = await call('GET', '/v1/contacts', undefined, other.adminKey);
    expect(JSON.stringify(list.body)).not.toContain(ids.ann);
    t.clock.set(NOW);
  });

  it('answers 404 for an unknown contact', async () => {
    const res = await call('GET', '/v1/contacts/00000000-0000-7000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('CONTACT_NOT_FOUND');
  });
});

describe('the OpenAPI document', () => {
  /** Paths of object properties without a description, below `schema`. */
  function undocumented(schema: Record<string, unknown> | undefined, path: string): string[] {
    if (!schema || typeof schema !== 'object') return [];
    const out: string[] = [];
    for (const [key, value] of Object.entries(
      (schema.properties ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      if (!value.description) out.push(`${path}.${key}`);
      out.push(...undocumented(value, `${path}.${key}`));
    }
    if (schema.items) out.push(...undocumented(schema.items as Record<string, unknown>, `${path}[]`));
    for (const union of ['anyOf', 'oneOf', 'allOf'])
      for (const part of (schema[union] ?? []) as Record<string, unknown>[])
        out.push(...undocumented(part, path));
    return out;
  }

  it('describes every field of the engagement routes and of the contact’s engagement', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const ok = (path: string, method: string) =>
      doc.paths[path][method].responses['200'].content['application/json'].schema;
    expect(JSON.stringify(ok('/v1/engagement/models', 'get'))).toContain('"validation_auc"');
    expect(undocumented(ok('/v1/engagement/models', 'get'), 'models')).toEqual([]);
    expect(undocumented(ok('/v1/engagement/train', 'post'), 'train')).toEqual([]);
    expect(undocumented(ok('/v1/engagement/refresh', 'post'), 'refresh')).toEqual([]);
    const contact = ok('/v1/contacts/{id}', 'get');
    expect(contact.properties.engagement.description).toBeDefined();
    expect(undocumented(contact.properties.engagement, 'contact.engagement')).toEqual([]);
  });
});

describe('segment conditions on engagement', () => {
  async function bothShapes(definition: Condition): Promise<{ set: string[]; probe: string[] }> {
    const compiled = compileSegment(definition, {
      workspaceId: t.workspaceId,
      now: NOW,
      segments: new Map(),
    });
    const set = await matchingContactsSql(compiled, t.workspaceId).execute(t.container.db);
    const probe = await sql<{ id: string }>`SELECT c.id FROM contacts AS c
      WHERE c.workspace_id = ${t.workspaceId} AND ${compiled.probe}`.execute(t.container.db);
    const name = (id: string) => Object.keys(ids).find((k) => ids[k] === id) ?? id;
    return { set: set.rows.map((r) => name(r.id)).sort(), probe: probe.rows.map((r) => name(r.id)).sort() };
  }

  it('select the same contacts in both shapes', async () => {
    const cases: [Condition, string[]][] = [
      [{ score: 'engagement', operator: 'greater_than', value: 1 }, ['ann', 'dee']],
      [{ score: 'engagement', operator: 'between', value: [2, 3] }, ['dee']],
      [{ engagement: 'at_risk' }, ['eve']],
      [{ not: { score: 'open_probability', operator: 'exists' } }, Object.keys(ids).sort()],
      [
        {
          all: [{ score: 'engagement', operator: 'less_than', value: 1 }, { not: { engagement: 'at_risk' } }],
        },
        ['bob', 'cy', 'f1', 'f2', 'f3', 'f4', 'f5'],
      ],
    ];
    for (const [definition, expected] of cases) {
      const result = await bothShapes(definition);
      expect(result.set, JSON.stringify(definition)).toEqual(expected);
      expect(result.probe, JSON.stringify(definition)).toEqual(expected);
    }
  });

  it('work in saved segments through the API', async () => {
    const created = await call('POST', '/v1/segments', {
      name: 'Engaged',
      definition: { score: 'engagement', operator: 'greater_than', value: 1 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const count = await call('GET', `/v1/segments/${created.body.id}/count`);
    expect(count.body.count).toBe(2);
  });

  it('refuse bad conditions with the JSON pointer of each', async () => {
    const res = await call('POST', '/v1/segments', {
      name: 'Bad',
      definition: {
        all: [
          { score: 'open_probability', operator: 'greater_than', value: 1.5 },
          { engagement: 'at_risk', window: { within_last_days: 30 } },
          { score: 'popularity', operator: 'exists' },
          { score: 'engagement', operator: 'equals', value: 3 },
          { score: 'click_probability', operator: 'between', value: [0.5, 0.1] },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SEGMENT_INVALID');
    expect(res.body.errors).toEqual([
      { path: '/definition/all/0/value', message: 'greater_than needs a probability from 0 to 1' },
      { path: '/definition/all/1/window', message: expect.stringContaining('at_risk takes no window') },
      {
        path: '/definition/all/2/score',
        message: expect.stringContaining('"engagement", "open_probability"'),
      },
      {
        path: '/definition/all/3/operator',
        message: expect.stringContaining('unknown operator "equals" for a score'),
      },
      { path: '/definition/all/4/value', message: 'between needs low <= high' },
    ]);
  });
});
