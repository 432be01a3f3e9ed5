import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRandom } from '../../src/lib/statistics/index.js';
import { ENGAGEMENT_TRAIN_TASK } from '../../src/modules/engagement/index.js';
import { compileSegment, matchingContactsSql } from '../../src/modules/segments/index.js';
import type { Condition } from '../../src/modules/segments/segment-definition.js';
import {
  type HitRow,
  insertContacts,
  insertHits,
  insertSends,
  insertSentCampaign,
  type SendRow,
  stableId,
} from '../helpers/engagement-history.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Training on a synthetic workspace with a known truth: each contact has a
 * latent open propensity that drives both its past and its future opens
 * (weekly campaigns over 16 weeks, written set-based), some mailboxes
 * prefetch every email (machine opens that must not count). The model must
 * rank held-out contacts better than the recency-only baseline; too little
 * data is refused and the previous model stays.
 */

let t: TestApp;
const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const CONTACTS = 800;
/** Contact id -> latent probability to open any one email. */
const propensity = new Map<string, number>();

async function call(method: 'GET' | 'POST', url: string, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(NOW);
  const db = t.container.db;
  const ws = t.workspaceId;
  const random = createRandom('engagement-training');
  const ids = await insertContacts(
    db,
    ws,
    Array.from({ length: CONTACTS }, (_, i) => ({
      // Stable ids: the validation fifth is drawn from the contact id, so every run splits alike.
      id: stableId(`engagement-training:${i}`),
      email: `c${i}@example.com`,
      createdAt: new Date(NOW.getTime() - (200 + random.int(200)) * DAY),
    })),
  );
  const prefetching = new Set<string>();
  for (const id of ids) {
    propensity.set(id, random.beta(0.7, 1.3));
    if (random.next() < 0.3) prefetching.add(id);
  }
  const sends: SendRow[] = [];
  const hits: HitRow[] = [];
  for (let week = 15; week >= 0; week--) {
    const sentAt = new Date(NOW.getTime() - (3 + 7 * week) * DAY);
    const campaignId = await insertSentCampaign(db, ws, `Week ${week}`, sentAt);
    for (const contactId of ids) {
      if (random.next() < 0.15) continue;
      sends.push({ campaignId, contactId, finishedAt: sentAt });
      if (prefetching.has(contactId))
        hits.push({
          campaignId,
          contactId,
          kind: 'open',
          at: new Date(sentAt.getTime() + 60_000),
          classification: 'prefetch',
        });
      if (random.next() >= (propensity.get(contactId) as number)) continue;
      const openedAt = new Date(sentAt.getTime() + random.int(48) * HOUR + 60_000);
      hits.push({ campaignId, contactId, kind: 'open', at: openedAt });
      if (random.next() < 0.3)
        hits.push({ campaignId, contactId, kind: 'click', at: new Date(openedAt.getTime() + 30_000) });
    }
  }
  await insertSends(db, ws, sends);
  await insertHits(db, ws, hits);
});
afterAll(async () => {
  await t?.close();
});

let openModelId: string;

describe('training on the workspace’s own history', () => {
  it('stores both models with their figures, and the periodic job applies them at once', async () => {
    await t.container.jobs.enqueue(ENGAGEMENT_TRAIN_TASK, {});
    await t.container.runner.drain();
    const res = await call('GET', '/v1/engagement/models');
    expect(res.status).toBe(200);
    const [open, click] = res.body.data;
    for (const entry of [open, click]) {
      expect(entry.last_attempt).toMatchObject({ status: 'trained', reason: null, model_id: entry.model.id });
      const m = entry.model;
      expect(m.cutoff).toBe(new Date(NOW.getTime() - 14 * DAY).toISOString());
      expect(m.horizon_days).toBe(14);
      expect(m.features).toHaveLength(m.weights.length);
      expect(m.training_rows + m.validation_rows).toBeGreaterThan(CONTACTS * 0.9);
      expect(m.validation_rows / (m.training_rows + m.validation_rows)).toBeGreaterThan(0.14);
      expect(m.validation_rows / (m.training_rows + m.validation_rows)).toBeLessThan(0.26);
      expect(m.calibration.reduce((n: number, bin: { count: number }) => n + bin.count, 0)).toBe(
        m.validation_rows,
      );
      expect(m.brier).toBeGreaterThan(0);
      expect(m.brier).toBeLessThan(0.25);
      expect(m.log_loss).toBeGreaterThan(0);
      expect(m.trained_at).toBe(NOW.toISOString());
    }
    // The latent propensity drives past and future: the model ranks held-out contacts better than recency alone.
    if (process.env.HERALD_ENGAGEMENT_DEBUG)
      console.log({
        open: [open.model.validation_auc, open.model.baseline_auc],
        click: [click.model.validation_auc, click.model.baseline_auc],
      });
    expect(open.model.validation_auc).toBeGreaterThan(0.75);
    expect(open.model.validation_auc).toBeGreaterThan(open.model.baseline_auc + 0.02);
    expect(click.model.validation_auc).toBeGreaterThan(click.model.baseline_auc);
    openModelId = open.model.id;

    const rows = await t.container.db
      .selectFrom('contact_engagement')
      .select(['contact_id', 'p_open', 'p_click', 'open_model_id'])
      .where('workspace_id', '=', t.workspaceId)
      .execute();
    expect(rows).toHaveLength(CONTACTS);
    expect(new Set(rows.map((r) => r.open_model_id))).toEqual(new Set([openModelId]));
    // Predictions follow the truth: the most inclined quarter is predicted far likelier to open than the least.
    const sorted = rows.sort(
      (a, b) => (propensity.get(a.contact_id) as number) - (propensity.get(b.contact_id) as number),
    );
    const mean = (part: typeof rows) => part.reduce((s, r) => s + (r.p_open as number), 0) / part.length;
    expect(mean(sorted.slice(-200))).toBeGreaterThan(mean(sorted.slice(0, 200)) + 0.3);
  });

  it('selects likely openers in segments, in both SQL shapes', async () => {
    const definition: Condition = { score: 'open_probability', operator: 'greater_than', value: 0.3 };
    const compiled = compileSegment(definition, {
      workspaceId: t.workspaceId,
      now: NOW,
      segments: new Map(),
    });
    const set = await matchingContactsSql(compiled, t.workspaceId).execute(t.container.db);
    const probe = await sql<{ id: string }>`SELECT c.id FROM contacts AS c
      WHERE c.workspace_id = ${t.workspaceId} AND ${compiled.probe}`.execute(t.container.db);
    const expected = await sql<{ id: string }>`SELECT contact_id AS id FROM contact_engagement
      WHERE workspace_id = ${t.workspaceId} AND p_open > 0.3`.execute(t.container.db);
    const sortedIds = (rows: { id: string }[]) => rows.map((r) => r.id).sort();
    expect(expected.rows.length).toBeGreaterThan(50);
    expect(expected.rows.length).toBeLessThan(CONTACTS - 50);
    expect(sortedIds(set.rows)).toEqual(sortedIds(expected.rows));
    expect(sortedIds(probe.rows)).toEqual(sortedIds(expected.rows));
  });

  it('refuses too little data with the reason and keeps the previous model', async () => {
    t.clock.set(new Date(NOW.getTime() + 60 * DAY)); // no email in the last 14 days
    const res = await call('POST', '/v1/engagement/train');
    expect(res.status).toBe(200);
    expect(res.body.rows).toBe(0);
    for (const result of res.body.results) {
      expect(result.status).toBe('refused');
      expect(result.model).toBeNull();
      expect(result.reason).toMatch(
        /^needs 200 contacts with a marketing email sent in the 14 days after the cutoff and 20 of each outcome; has 0 contacts/,
      );
    }
    const models = await call('GET', '/v1/engagement/models');
    const [open] = models.body.data;
    expect(open.model.id).toBe(openModelId);
    expect(open.last_attempt).toMatchObject({ status: 'refused', model_id: null });
    expect(open.last_attempt.reason).toContain('needs 200 contacts');
    const refreshed = await call('POST', '/v1/engagement/refresh');
    expect(refreshed.body.open_model_id).toBe(openModelId);
  });

  it("never trains on or shows another workspace's data", async () => {
    const other = await t.createWorkspace('Other');
    const res = await call('POST', '/v1/engagement/train', other.adminKey);
    expect(res.body.rows).toBe(0);
    const theirs = await call('GET', '/v1/engagement/models', other.adminKey);
    expect(theirs.body.data.map((d: { model: unknown }) => d.model)).toEqual([null, null]);
    expect(JSON.stringify(theirs.body)).not.toContain(openModelId);
  });
});
