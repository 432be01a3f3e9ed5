import { wilsonInterval } from '../src/lib/statistics/index.js';
import { decide } from '../src/modules/campaigns/experiment-decision.js';
import type { Harness, HeraldUnderTest } from './simulator/harness.js';
import type { WorldContact } from './simulator/world.js';

/**
 * A/B winner selection on a simulated audience with a known truth. Each run
 * is a real campaign with two variants and its own random split; the
 * simulated people open variant B `effect` times as often as A (1: no
 * difference). After the test window Herald's periodic decision picks the
 * winner (frequentist method) from what its tracking endpoints recorded. The
 * Bayesian verdict on the same recorded figures comes from the same
 * `decide()` the decision job calls, so one set of campaigns judges both methods.
 */

export interface AbRunResult {
  /** The stored decision (frequentist). */
  winner: string | null;
  decidedBy: string | null;
  /** The Bayesian method on the same figures: the winner if it declared one. */
  bayesianWinner: string | null;
  bayesianLeader: string;
  rates: number[];
  sent: number;
}

export interface AbScenarioResult {
  name: string;
  method: 'frequentist' | 'bayesian';
  effect: number;
  runs: number;
  /** Runs whose test declared the truly better variant (or, with no difference, any variant). */
  declared: number;
  declaredRight: number;
  declaredWrong: number;
  /** Runs whose final choice (the test's, or the policy's leader) is the truly better variant. */
  finalRight: number;
  meanRates: number[];
  sentPerRun: number;
}

export async function runAbScenario(
  herald: HeraldUnderTest,
  harness: Harness,
  input: {
    name: string;
    audience: readonly WorldContact[];
    listId: string;
    templateId: string;
    effect: number;
    runs: number;
    seed: string;
    onRun?: (index: number, result: AbRunResult) => void;
  },
): Promise<AbScenarioResult[]> {
  const results: AbRunResult[] = [];
  for (let run = 0; run < input.runs; run++) {
    const played = await harness.runCampaign(
      {
        name: `${input.name} ${run}`,
        from_email: 'news@shop.example',
        template_id: input.templateId,
        lists: [input.listId],
        random_seed: `${input.seed}:${input.name}:${run}`,
        track_clicks: true,
        ab_test: {
          variants: [{ name: 'A' }, { name: 'B', subject: 'A better subject' }],
          test_share: 1,
          method: 'frequentist',
          window_minutes: 24 * 60,
          when_inconclusive: 'send_leader',
        },
      },
      [{ openMultiplier: 1 }, { openMultiplier: input.effect }],
    );
    // The window runs from the last test send; every simulated open falls within a day of its delivery.
    herald.clock.advance(24 * 3_600_000 + 60_000);
    await harness.settle();
    await herald.container.experiments.decideDue();
    const report = await harness.api<{
      winner: string | null;
      decided_by: string | null;
      evaluation: {
        variants: { name: string; position: number; trials: number; successes: number; value: number }[];
      };
    }>('GET', `/v1/campaigns/${played.campaignId}/ab-test`);
    // Nothing is left to send (the whole audience was in the test): let the campaign finish.
    await herald.container.sender.drain();
    const bayesian = decide({
      metric: 'human_unique_opens',
      method: 'bayesian',
      confidence: 0.975,
      whenInconclusive: 'send_leader',
      seed: `${input.seed}:${input.name}:${run}`,
      variants: report.evaluation.variants,
    });
    const nameOf = (position: number | null) =>
      report.evaluation.variants.find((v) => v.position === position)?.name ?? null;
    const result = {
      winner: report.winner,
      decidedBy: report.decided_by,
      bayesianWinner: bayesian.outcome === 'winner' ? nameOf(bayesian.winner) : null,
      bayesianLeader: nameOf(bayesian.leader) ?? 'A',
      rates: report.evaluation.variants.map((v) => v.value),
      sent: played.deliveries.length,
    };
    results.push(result);
    input.onRun?.(run, result);
  }
  const better = input.effect > 1 ? 'B' : input.effect < 1 ? 'A' : null;
  const summary = (
    method: 'frequentist' | 'bayesian',
    verdicts: { declared: string | null; final: string }[],
  ): AbScenarioResult => {
    const declared = verdicts.filter((v) => v.declared !== null);
    return {
      name: input.name,
      method,
      effect: input.effect,
      runs: verdicts.length,
      declared: declared.length,
      declaredRight: better ? declared.filter((v) => v.declared === better).length : 0,
      declaredWrong: better ? declared.filter((v) => v.declared !== better).length : declared.length,
      finalRight: better ? verdicts.filter((v) => v.final === better).length : 0,
      meanRates: [0, 1].map((i) => results.reduce((sum, r) => sum + (r.rates[i] ?? 0), 0) / results.length),
      sentPerRun: Math.round(results.reduce((sum, r) => sum + r.sent, 0) / Math.max(1, results.length)),
    };
  };
  return [
    summary(
      'frequentist',
      results.map((r) => ({ declared: r.decidedBy === 'test' ? r.winner : null, final: r.winner ?? 'A' })),
    ),
    summary(
      'bayesian',
      results.map((r) => ({ declared: r.bayesianWinner, final: r.bayesianWinner ?? r.bayesianLeader })),
    ),
  ];
}

function percent(count: number, total: number): string {
  if (total === 0) return '-';
  const ci = wilsonInterval(count, total);
  return `${count} of ${total} = ${((count / total) * 100).toFixed(1)}% (95% CI ${(ci.lower * 100).toFixed(1)}-${(ci.upper * 100).toFixed(1)}%)`;
}

export function describeAbScenario(result: AbScenarioResult): string[] {
  const rates = result.meanRates.map((r, i) => `${i === 0 ? 'A' : 'B'} ${(r * 100).toFixed(1)}%`).join(', ');
  const head = `${result.name} (${result.method}, B opens x${result.effect}, ${result.sentPerRun} recipients per run; mean human open rate ${rates})`;
  if (result.effect === 1)
    return [head, `  false winners declared: ${percent(result.declared, result.runs)} (goal <= 5%)`];
  return [
    head,
    `  right winner declared by the test: ${percent(result.declaredRight, result.runs)} (goal >= 95%)`,
    `  wrong winner declared: ${percent(result.declaredWrong, result.runs)}`,
    `  right variant sent to the remainder (test or leader policy): ${percent(result.finalRight, result.runs)}`,
  ];
}
