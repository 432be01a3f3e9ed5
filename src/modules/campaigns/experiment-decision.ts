import type { AbTestMethod, AbTestMetric, AbTestPolicy } from '../../db/index.js';
import {
  betaPosterior,
  createRandom,
  credibleInterval,
  holmAdjust,
  meanInterval,
  probabilityToBeBest,
  probabilityToBeBestNormal,
  type SampleSummary,
  summarize,
  twoProportionZTest,
  welchTTest,
  wilsonInterval,
} from '../../lib/statistics/index.js';

/**
 * Choosing an A/B test's winner. Pure: the figures come in, the decision and
 * the evaluation behind it go out (stored with the test and shown by its report).
 *
 * Frequentist: the leader (best observed rate) wins when it beats every
 * other variant, each by a two-sided two-proportion z-test with Yates'
 * continuity correction (Welch's t-test for revenue per recipient) and all
 * k-1 p-values Holm-adjusted below
 * alpha = 1 - confidence. Requiring the leader to beat all others, with the
 * correction, keeps the chance of declaring a winner when all variants are
 * equal at or below alpha for any number of variants (`npm run eval` checks
 * it). Yates' correction because without it the z-test declares slightly
 * more than alpha of equal variants winners at small tests' sample sizes
 * (5.2% at alpha 0.05 with 400 recipients per variant, simulated).
 *
 * Bayesian: each variant's rate gets a Beta(1 + successes, 1 + failures)
 * posterior (a normal approximation of the mean for revenue); the variant
 * most likely to be best wins when that probability reaches `confidence`.
 * Probabilities come from a Monte Carlo seeded by the test, so a report
 * computed twice says the same.
 *
 * The test is read once, when its window ends (a fixed-horizon test): looking
 * repeatedly and stopping at the first significant result would inflate false
 * winners well past alpha.
 */

export interface VariantFigures {
  position: number;
  name: string;
  /** Recipients judged (for click_to_open: human openers). */
  trials: number;
  /** Recipients who did it (for revenue: converters, shown only). */
  successes: number;
  /** revenue_per_recipient: revenue summed per recipient, and the sum of their squares. */
  revenue?: { sum: number; sumOfSquares: number } | undefined;
}

export interface DecisionInput {
  metric: AbTestMetric;
  method: AbTestMethod;
  confidence: number;
  whenInconclusive: AbTestPolicy;
  /** Seeds the Monte Carlo estimates. */
  seed: string;
  /** Monte Carlo draws for the probabilities to be best (default 20,000: within about 0.005). */
  draws?: number | undefined;
  variants: VariantFigures[];
}

export interface VariantEvaluation {
  name: string;
  position: number;
  trials: number;
  successes: number;
  /** The metric's value: a rate, or mean revenue per recipient. */
  value: number;
  /** 95% (frequentist: the test's confidence) interval of the value. */
  interval: { lower: number; upper: number };
  probability_to_be_best: number;
  /** Against the leader (null for the leader itself). */
  p_value: number | null;
  /** Holm-adjusted over the comparisons with the leader. */
  adjusted_p_value: number | null;
}

export interface Decision {
  /** winner: the test chose; inconclusive: nothing was significant (the policy may still choose). */
  outcome: 'winner' | 'inconclusive';
  /** The variant the remainder gets; null while waiting for a person. */
  winner: number | null;
  chosen_by: 'test' | 'policy' | null;
  leader: number;
  metric: AbTestMetric;
  method: AbTestMethod;
  confidence: number;
  reason: string;
  variants: VariantEvaluation[];
}

const METRIC_WORDS: Record<AbTestMetric, string> = {
  human_unique_opens: 'human open rate',
  human_unique_clicks: 'human click rate',
  click_to_open: 'click-to-open rate',
  conversions: 'conversion rate',
  revenue_per_recipient: 'revenue per recipient',
};

function revenueSummary(v: VariantFigures): SampleSummary {
  return summarize(v.trials, v.revenue?.sum ?? 0, v.revenue?.sumOfSquares ?? 0);
}

function format(metric: AbTestMetric, value: number): string {
  if (metric === 'revenue_per_recipient') return value.toFixed(2);
  return `${(value * 100).toFixed(1)}%`;
}

function formatP(p: number): string {
  return p < 0.0001 ? '< 0.0001' : `= ${p.toPrecision(2)}`;
}

/** Evaluates the variants and decides. */
export function decide(input: DecisionInput): Decision {
  const { metric, confidence } = input;
  const revenue = metric === 'revenue_per_recipient';
  const random = createRandom(`${input.seed}:decision`);
  const draws = input.draws ?? 20_000;
  const values = input.variants.map((v) =>
    revenue ? revenueSummary(v).mean : v.trials > 0 ? v.successes / v.trials : 0,
  );
  const probabilities = revenue
    ? probabilityToBeBestNormal(
        input.variants.map((v) => {
          const s = revenueSummary(v);
          return { mean: s.mean, standardError: s.n > 0 ? Math.sqrt(s.variance / s.n) : 0 };
        }),
        { random, draws },
      )
    : probabilityToBeBest(
        input.variants.map((v) => betaPosterior(v.successes, v.trials)),
        { random, draws },
      );

  // The leader: best observed value (frequentist), most probably best (bayesian); ties to the first.
  const score = input.method === 'bayesian' ? probabilities : values;
  let leader = 0;
  for (let i = 1; i < score.length; i++) if ((score[i] as number) > (score[leader] as number)) leader = i;
  const lead = input.variants[leader] as VariantFigures;

  const pValues = input.variants.map((v, i) => {
    if (i === leader) return null;
    if (revenue) return welchTTest(revenueSummary(v), revenueSummary(lead)).pValue;
    return twoProportionZTest(v.successes, v.trials, lead.successes, lead.trials, {
      continuityCorrection: true,
    }).pValue;
  });
  const others = pValues.filter((p): p is number => p !== null);
  const adjusted = holmAdjust(others);
  let next = 0;
  const adjustedByVariant = pValues.map((p) => (p === null ? null : (adjusted[next++] as number)));

  const variants: VariantEvaluation[] = input.variants.map((v, i) => {
    const interval = revenue
      ? meanInterval(revenueSummary(v), input.method === 'frequentist' ? confidence : 0.95)
      : input.method === 'bayesian'
        ? credibleInterval(betaPosterior(v.successes, v.trials), 0.95)
        : wilsonInterval(v.successes, v.trials, confidence);
    return {
      name: v.name,
      position: v.position,
      trials: v.trials,
      successes: v.successes,
      value: values[i] as number,
      interval,
      probability_to_be_best: probabilities[i] as number,
      p_value: pValues[i] ?? null,
      adjusted_p_value: adjustedByVariant[i] ?? null,
    };
  });

  const alpha = 1 - confidence;
  const leaderValue = values[leader] as number;
  const beatsAll =
    input.method === 'bayesian'
      ? (probabilities[leader] as number) >= confidence
      : others.length > 0 &&
        adjusted.every((p) => p < alpha) &&
        values.every((value, i) => i === leader || value < leaderValue);

  const words = METRIC_WORDS[metric];
  const figures = variants.map((v) => `${v.name} ${format(metric, v.value)}`).join(', ');
  const base = { leader: lead.position, metric, method: input.method, confidence, variants };
  if (beatsAll) {
    const why =
      input.method === 'bayesian'
        ? `its probability to beat all others is ${((probabilities[leader] as number) * 100).toFixed(1)}%, at least the ${(confidence * 100).toFixed(1)}% required`
        : `it beat every other variant at alpha ${alpha.toPrecision(2)} (Holm-adjusted p ${formatP(Math.max(...adjusted))} at most)`;
    return {
      ...base,
      outcome: 'winner',
      winner: lead.position,
      chosen_by: 'test',
      reason: `${lead.name} wins on ${words} (${figures}): ${why}.`,
    };
  }
  const shortfall =
    input.method === 'bayesian'
      ? `the leader ${lead.name} is best with probability ${((probabilities[leader] as number) * 100).toFixed(1)}%, below the ${(confidence * 100).toFixed(1)}% required`
      : others.length === 0
        ? 'there is nothing to compare'
        : `the leader ${lead.name} did not beat every other variant at alpha ${alpha.toPrecision(2)} (largest Holm-adjusted p ${formatP(Math.max(...adjusted))})`;
  const inconclusive = `No variant won on ${words} (${figures}): ${shortfall}.`;
  const control = input.variants[0] as VariantFigures;
  switch (input.whenInconclusive) {
    case 'send_control':
      return {
        ...base,
        outcome: 'inconclusive',
        winner: control.position,
        chosen_by: 'policy',
        reason: `${inconclusive} As the test asks, the control ${control.name} goes to the remainder.`,
      };
    case 'send_leader':
      return {
        ...base,
        outcome: 'inconclusive',
        winner: lead.position,
        chosen_by: 'policy',
        reason: `${inconclusive} As the test asks, the leader ${lead.name} goes to the remainder.`,
      };
    case 'wait':
      return {
        ...base,
        outcome: 'inconclusive',
        winner: null,
        chosen_by: null,
        reason: `${inconclusive} The test waits for a person to choose the winner (POST /v1/campaigns/{id}/ab-test/winner).`,
      };
  }
}
