import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAbScenario } from '../../eval/ab-tests.js';
import { createHarness, type Harness } from '../../eval/simulator/harness.js';
import { createWorld } from '../../eval/simulator/world.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The simulator (eval/) against a real Herald: a synthetic audience with a
 * known truth receives campaigns through the real sender and SMTP, and its
 * opens and clicks (human, Apple prefetch, Gmail proxy, link scanners, bots)
 * go through the real tracking endpoints. `npm run eval` runs the same at
 * scale; here one small run each shows the pieces hold together.
 */

let t: TestApp;
let sink: SmtpSink;
let harness: Harness;
let templateId: string;

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  t.clock.set(new Date('2026-03-02T00:00:00Z'));
  sink = await startSmtpSink();
  harness = createHarness(
    { app: t.app, container: t.container, clock: t.clock, workspaceId: t.workspaceId, adminKey: t.adminKey },
    sink,
    'simulation-test',
  );
  templateId = await harness.setup();
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('the simulator', () => {
  it('is classified by Herald as the truth says: people count, machines do not', async () => {
    const world = createWorld('classification', { contacts: 300, tag: 'cls', scannerShare: 0.1 });
    const listId = await harness.addContacts(world, 'Classification');
    const run = await harness.runCampaign({
      name: 'Plain',
      from_email: 'news@shop.example',
      template_id: templateId,
      lists: [listId],
    });
    await harness.settle();
    expect(run.deliveries).toHaveLength(300);
    expect(run.answered).toBe(run.hits.length);
    const truth = new Map<string, number>();
    for (const hit of run.hits) {
      const key = `${hit.target === 'pixel' ? 'open' : 'click'}:${hit.truth}`;
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    const recorded = await sql<{ kind: string; classification: string; n: string }>`
      SELECT kind, classification, count(*) AS n FROM tracking_hits WHERE campaign_id = ${run.campaignId}
      GROUP BY kind, classification`.execute(t.container.db);
    const herald = new Map(recorded.rows.map((r) => [`${r.kind}:${r.classification}`, Number(r.n)]));
    expect(herald).toEqual(truth);
    expect(truth.get('open:prefetch')).toBeGreaterThan(30);
    expect(truth.get('click:scanner')).toBeGreaterThan(5);

    // The report's human unique opens are the simulated people who opened where a pixel could see it.
    const seen = run.deliveries.filter((d) =>
      d.outcome.hits.some((h) => h.target === 'pixel' && (h.truth === 'human' || h.truth === 'proxy')),
    ).length;
    const report = await harness.api<{ opens: { unique: number; human_unique: number } }>(
      'GET',
      `/v1/campaigns/${run.campaignId}/report`,
    );
    expect(report.opens.human_unique).toBe(seen);
    expect(report.opens.unique).toBeGreaterThan(seen);
  });

  it('lets an A/B test find the variant people truly open more', async () => {
    const world = createWorld('ab', { contacts: 600, tag: 'ab' });
    const listId = await harness.addContacts(world, 'A/B');
    const [result, bayesian] = await runAbScenario(
      {
        app: t.app,
        container: t.container,
        clock: t.clock,
        workspaceId: t.workspaceId,
        adminKey: t.adminKey,
      },
      harness,
      { name: 'strong', audience: world, listId, templateId, effect: 2.5, runs: 1, seed: 'simulation-test' },
    );
    expect(result).toMatchObject({ runs: 1, declared: 1, declaredRight: 1, finalRight: 1, sentPerRun: 600 });
    expect(result?.meanRates[1]).toBeGreaterThan(result?.meanRates[0] as number);
    expect(bayesian).toMatchObject({ method: 'bayesian', declaredRight: 1 });
  });
});
