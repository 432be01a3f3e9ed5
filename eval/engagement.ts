import { sql } from 'kysely';
import { auc, createRandom, twoProportionZTest } from '../src/lib/statistics/index.js';
import type { CampaignRun, Harness, HeraldUnderTest } from './simulator/harness.js';
import type { WorldContact } from './simulator/world.js';

/**
 * Send-time optimization and engagement prediction on a simulated audience
 * with a known truth. A history of weekly campaigns, each at a random hour,
 * teaches Herald when each contact reads mail and how engaged they are; then
 * one half of the audience gets a campaign at a fixed hour and the other
 * half the same campaign with send-time optimization, and the predicted
 * open probabilities are checked against who really opened.
 */

export interface EngagementEvalResult {
  historyCampaigns: number;
  fixed: { sent: number; humanOpeners: number; rate: number };
  optimized: { sent: number; humanOpeners: number; rate: number };
  lift: number;
  pValue: number;
  /** The open model's own validation on held-out contacts (as stored by Herald). */
  model: { validationAuc: number; baselineAuc: number; validationRows: number } | null;
  /** Out of time: predictions made before the evaluation campaigns against who opened them. */
  forward: { auc: number; recencyAuc: number; contacts: number } | null;
}

const DAY = 24 * 3_600_000;

/** Moves the clock to the next `hour`:00 UTC at least `afterMs` from now. */
function nextHour(herald: HeraldUnderTest, hour: number, afterMs = 0): void {
  const from = herald.clock.now().getTime() + afterMs;
  const at = new Date(from);
  at.setUTCHours(hour, 0, 0, 0);
  while (at.getTime() < from) at.setTime(at.getTime() + DAY);
  herald.clock.set(at);
}

export async function runEngagementEval(
  herald: HeraldUnderTest,
  harness: Harness,
  input: {
    world: readonly WorldContact[];
    templateId: string;
    seed: string;
    historyCampaigns?: number;
    fixedHour?: number;
    onProgress?: (message: string) => void;
  },
): Promise<EngagementEvalResult> {
  const random = createRandom(`${input.seed}:engagement-eval`);
  const history = input.historyCampaigns ?? 8;
  // Two halves drawn at random: one for the fixed-hour campaign, one for send-time optimization.
  const shuffled = random.shuffle([...input.world]);
  const half = Math.floor(shuffled.length / 2);
  const everyone = await harness.addContacts(input.world, 'Everyone', herald.clock.now());
  const fixedList = await harness.addContacts(shuffled.slice(0, half), 'Fixed hour');
  const optimizedList = await harness.addContacts(shuffled.slice(half), 'Send-time optimized');
  const base = { from_email: 'news@shop.example', template_id: input.templateId };

  for (let k = 0; k < history; k++) {
    nextHour(herald, random.int(24), 6 * DAY);
    await harness.runCampaign({ ...base, name: `History ${k + 1}`, lists: [everyone] });
    input.onProgress?.(`history campaign ${k + 1} of ${history}`);
  }
  await harness.settle();
  await harness.api('POST', '/v1/engagement/train');
  await harness.api('POST', '/v1/engagement/refresh');
  const models = await harness.api<{
    data: {
      kind: string;
      model: { validation_auc: number; baseline_auc: number; validation_rows: number } | null;
    }[];
  }>('GET', '/v1/engagement/models');
  const openModel = models.data.find((m) => m.kind === 'open')?.model ?? null;

  // What Herald believes before the evaluation campaigns: predicted open probability and recency.
  const beliefs = await sql<{ contact_id: string; p_open: number | null; last_open_at: Date | null }>`
    SELECT contact_id, p_open, last_open_at FROM contact_engagement
    WHERE workspace_id = ${herald.workspaceId}`.execute(herald.container.db);
  const belief = new Map(beliefs.rows.map((r) => [r.contact_id, r]));

  nextHour(herald, input.fixedHour ?? 9, 6 * DAY);
  const start = herald.clock.now();
  const ids: string[] = [];
  for (const body of [
    { ...base, name: 'Fixed hour', lists: [fixedList] },
    { ...base, name: 'Send-time optimized', lists: [optimizedList], send_time_optimization: true },
  ]) {
    const created = await harness.api<{ id: string }>('POST', '/v1/campaigns', body);
    await harness.api('POST', `/v1/campaigns/${created.id}/send`);
    ids.push(created.id);
  }
  const [fixed, optimized] = (await harness.continueCampaigns(ids)) as [CampaignRun, CampaignRun];
  // Every simulated open falls within a day of its delivery, and deliveries within a day of the start.
  herald.clock.set(new Date(start.getTime() + 3 * DAY));
  await harness.settle();
  const measured = async (campaignId: string) => {
    const report = await harness.api<{ sent: number; opens: { human_unique: number } }>(
      'GET',
      `/v1/campaigns/${campaignId}/report`,
    );
    return {
      sent: report.sent,
      humanOpeners: report.opens.human_unique,
      rate: report.sent > 0 ? report.opens.human_unique / report.sent : 0,
    };
  };
  const fixedResult = await measured(fixed.campaignId);
  const optimizedResult = await measured(optimized.campaignId);
  const test = twoProportionZTest(
    fixedResult.humanOpeners,
    fixedResult.sent,
    optimizedResult.humanOpeners,
    optimizedResult.sent,
  );

  // Out of time: did the contacts Herald rated likelier to open open (visibly, as people) more often?
  const opened = await sql<{ contact_id: string }>`
    SELECT DISTINCT contact_id FROM tracking_hits
    WHERE workspace_id = ${herald.workspaceId} AND kind = 'open' AND classification IN ('human', 'proxy')
      AND campaign_id = ANY(${[fixed.campaignId, optimized.campaignId]}::uuid[])`.execute(
    herald.container.db,
  );
  const openers = new Set(opened.rows.map((r) => r.contact_id));
  const scored = [...fixed.deliveries, ...optimized.deliveries]
    // Apple Mail Privacy Protection hides these contacts' opens: nothing to predict, nothing to check.
    .filter((d) => !d.contact.mpp)
    .map((d) => ({ id: d.contactId, belief: belief.get(d.contactId) }))
    .filter((d) => d.belief?.p_open !== null && d.belief?.p_open !== undefined);
  const labels = scored.map((d) => (openers.has(d.id) ? 1 : 0) as 0 | 1);
  const now = start.getTime();
  const forward =
    scored.length > 0
      ? {
          auc: auc(
            scored.map((d) => d.belief?.p_open as number),
            labels,
          ),
          recencyAuc: auc(
            scored.map((d) =>
              d.belief?.last_open_at ? -(now - d.belief.last_open_at.getTime()) / DAY : -366,
            ),
            labels,
          ),
          contacts: scored.length,
        }
      : null;

  return {
    historyCampaigns: history,
    fixed: fixedResult,
    optimized: optimizedResult,
    lift: fixedResult.rate > 0 ? optimizedResult.rate / fixedResult.rate - 1 : 0,
    pValue: test.pValue,
    model: openModel
      ? {
          validationAuc: openModel.validation_auc,
          baselineAuc: openModel.baseline_auc,
          validationRows: openModel.validation_rows,
        }
      : null,
    forward,
  };
}

export function describeEngagementEval(result: EngagementEvalResult, fixedHour: number): string[] {
  const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
  const lines = [
    `history: ${result.historyCampaigns} weekly campaigns at random hours, every hit through the tracking endpoints`,
    `send-time optimization: human open rate ${pct(result.optimized.rate)} (${result.optimized.humanOpeners} of ${result.optimized.sent}) against ${pct(result.fixed.rate)} (${result.fixed.humanOpeners} of ${result.fixed.sent}) at a fixed ${String(fixedHour).padStart(2, '0')}:00 UTC: ${result.lift >= 0 ? '+' : ''}${(result.lift * 100).toFixed(1)}% (two-proportion z-test p = ${result.pValue.toPrecision(2)})`,
  ];
  if (result.model)
    lines.push(
      `open model, validation on ${result.model.validationRows} held-out contacts: AUC ${result.model.validationAuc.toFixed(3)} against ${result.model.baselineAuc.toFixed(3)} for recency alone`,
    );
  else lines.push('open model: not trained (too little data)');
  if (result.forward)
    lines.push(
      `open model, next campaign (out of time, ${result.forward.contacts} contacts whose opens are visible): AUC ${result.forward.auc.toFixed(3)} against ${result.forward.recencyAuc.toFixed(3)} for recency alone`,
    );
  return lines;
}
