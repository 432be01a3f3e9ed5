/**
 * Bayesian comparison of conversion rates with Beta posteriors, and of revenue per
 * recipient with normal approximations: probability to be best, expected loss, and the
 * exact two-arm probability used to check the Monte Carlo estimates.
 */
import { requireBeta, requireCounts, requireLevel } from './checks.js';
import { betaQuantile, logBeta } from './distributions.js';
import type { Interval } from './proportions.js';
import type { Random } from './random.js';

/** A Beta(alpha, beta) distribution over a rate; alpha, beta > 0. */
export interface BetaDistribution {
  alpha: number;
  beta: number;
}

export interface MonteCarloOptions {
  /** The seeded generator the draws come from, so a result can be replayed. */
  random: Random;
  /** Number of joint draws; default 20000 (standard error of a probability <= 0.0036). */
  draws?: number;
}

/**
 * The conjugate posterior of a binomial rate: Beta(alpha + successes, beta + failures).
 * The default prior Beta(1, 1) is uniform on [0, 1].
 */
export function betaPosterior(
  successes: number,
  trials: number,
  prior: BetaDistribution = { alpha: 1, beta: 1 },
): BetaDistribution {
  requireCounts(successes, trials);
  requireBeta('prior', prior);
  return { alpha: prior.alpha + successes, beta: prior.beta + trials - successes };
}

/** Equal-tailed credible interval holding `mass` of a Beta distribution, by `betaQuantile`. */
export function credibleInterval(d: BetaDistribution, mass = 0.95): Interval {
  requireBeta('d', d);
  requireLevel('mass', mass);
  const tail = (1 - mass) / 2;
  return { lower: betaQuantile(tail, d.alpha, d.beta), upper: betaQuantile(1 - tail, d.alpha, d.beta) };
}

/**
 * Exact P(pB > pA) for independent pA ~ a and pB ~ b, by Evan Miller's closed form
 * ("Formulas for Bayesian A/B testing", 2014):
 *   P = Σ_{i=0}^{αB-1} B(αA+i, βA+βB) / ((βB+i) B(1+i, βB) B(αA, βA)),
 * each term in log space (the Beta functions overflow long before the sum matters).
 * The sum needs an integer αB; by symmetry (P(pB > pA) = 1 - P(pA > pB), and
 * 1 - p ~ Beta(β, α)) any integer parameter of either arm will do, and the one with the
 * fewest terms is used: cost O(min(successes, failures) + 1) with a uniform prior.
 * Throws a RangeError when no parameter is an integer (a Jeffreys prior, say): use
 * `probabilityToBeBest` then.
 */
export function probabilityBBeatsA(a: BetaDistribution, b: BetaDistribution): number {
  requireBeta('a', a);
  requireBeta('b', b);
  const flip = (d: BetaDistribution): BetaDistribution => ({ alpha: d.beta, beta: d.alpha });
  // Each option: [terms, evaluate]. P(pB > pA) = P(1-pA > 1-pB).
  const options: [number, () => number][] = [];
  if (Number.isInteger(b.alpha)) options.push([b.alpha, () => secondBeatsFirst(a, b)]);
  if (Number.isInteger(a.beta)) options.push([a.beta, () => secondBeatsFirst(flip(b), flip(a))]);
  if (Number.isInteger(a.alpha)) options.push([a.alpha, () => 1 - secondBeatsFirst(b, a)]);
  if (Number.isInteger(b.beta)) options.push([b.beta, () => 1 - secondBeatsFirst(flip(a), flip(b))]);
  if (options.length === 0) {
    throw new RangeError(
      'probabilityBBeatsA needs an integer alpha or beta in one of the arms (e.g. a uniform prior); use probabilityToBeBest otherwise',
    );
  }
  // Fewest terms first; among equals the direct sums (listed first) avoid the 1 - x cancellation.
  let best = options[0] as [number, () => number];
  for (const option of options) if (option[0] < best[0]) best = option;
  return Math.min(1, Math.max(0, best[1]()));
}

/** P(p2 > p1) by Evan Miller's sum over i < α2 (α2 an integer), as a streaming log-sum-exp. */
function secondBeatsFirst(first: BetaDistribution, second: BetaDistribution): number {
  const { alpha: a1, beta: b1 } = first;
  const { alpha: a2, beta: b2 } = second;
  const constant = -logBeta(a1, b1);
  let max = Number.NEGATIVE_INFINITY;
  let scaled = 0;
  for (let i = 0; i < a2; i++) {
    const logTerm = logBeta(a1 + i, b1 + b2) - Math.log(b2 + i) - logBeta(1 + i, b2) + constant;
    if (logTerm > max) {
      scaled = scaled * Math.exp(max - logTerm) + 1;
      max = logTerm;
    } else {
      scaled += Math.exp(logTerm - max);
    }
  }
  return scaled === 0 ? 0 : Math.exp(max + Math.log(scaled));
}

export interface ArmComparison {
  /** Share of draws in which each arm had the highest rate (sums to 1). */
  probabilityToBeBest: number[];
  /** Mean of (best rate in the draw - this arm's rate): the expected regret of choosing it. */
  expectedLoss: number[];
}

/**
 * Monte Carlo comparison of Beta arms from one set of joint draws: the probability that
 * each arm has the highest rate, and the expected loss E[max_j p_j - p_i] of choosing it
 * (the stopping quantity of Chris Stucchio's "Bayesian A/B testing at VWO", 2015). A draw's
 * tie goes to the lowest index, so the probabilities sum to exactly 1.
 */
export function compareBetaArms(
  arms: readonly BetaDistribution[],
  options: MonteCarloOptions,
): ArmComparison {
  for (const [index, arm] of arms.entries()) requireBeta(`arms[${index}]`, arm);
  return compareByDraws(arms.length, options, (index) => {
    const arm = arms[index] as BetaDistribution;
    return options.random.beta(arm.alpha, arm.beta);
  });
}

/** Monte Carlo probability that each Beta arm has the highest rate (sums to 1); see `compareBetaArms`. */
export function probabilityToBeBest(arms: readonly BetaDistribution[], options: MonteCarloOptions): number[] {
  return compareBetaArms(arms, options).probabilityToBeBest;
}

/** Monte Carlo expected loss E[max_j p_j - p_i] of choosing each Beta arm; see `compareBetaArms`. */
export function expectedLoss(arms: readonly BetaDistribution[], options: MonteCarloOptions): number[] {
  return compareBetaArms(arms, options).expectedLoss;
}

/** An arm's mean (revenue per recipient, say) and the standard error of that mean. */
export interface NormalArm {
  mean: number;
  standardError: number;
}

/**
 * Monte Carlo probability that each arm has the highest true mean, treating each arm's
 * mean as N(mean, standardError²): the large-sample (central limit) posterior under a
 * flat prior, the usual choice for revenue per recipient, whose raw values are far from
 * normal but whose means over thousands of recipients are not. Sums to 1.
 */
export function probabilityToBeBestNormal(arms: readonly NormalArm[], options: MonteCarloOptions): number[] {
  for (const [index, arm] of arms.entries()) {
    if (!(Number.isFinite(arm.mean) && Number.isFinite(arm.standardError) && arm.standardError >= 0)) {
      throw new RangeError(
        `arms[${index}] needs a finite mean and a standardError >= 0, got mean=${arm.mean}, standardError=${arm.standardError}`,
      );
    }
  }
  return compareByDraws(arms.length, options, (index) => {
    const arm = arms[index] as NormalArm;
    return arm.mean + arm.standardError * options.random.normal();
  }).probabilityToBeBest;
}

function compareByDraws(
  count: number,
  options: MonteCarloOptions,
  draw: (index: number) => number,
): ArmComparison {
  const draws = options.draws ?? 20000;
  if (!(Number.isSafeInteger(draws) && draws > 0))
    throw new RangeError(`draws must be a positive integer, got ${draws}`);
  const wins = new Array<number>(count).fill(0);
  const lossSums = new Array<number>(count).fill(0);
  const values = new Array<number>(count).fill(0);
  if (count === 0) return { probabilityToBeBest: [], expectedLoss: [] };
  for (let d = 0; d < draws; d++) {
    let bestIndex = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      const value = draw(i);
      values[i] = value;
      if (value > bestValue) {
        bestValue = value;
        bestIndex = i;
      }
    }
    wins[bestIndex] = (wins[bestIndex] as number) + 1;
    for (let i = 0; i < count; i++)
      lossSums[i] = (lossSums[i] as number) + (bestValue - (values[i] as number));
  }
  return {
    probabilityToBeBest: wins.map((w) => w / draws),
    expectedLoss: lossSums.map((s) => s / draws),
  };
}
