/**
 * Thompson sampling (W. R. Thompson, Biometrika 25:285, 1933) for bandit splits: each
 * decision draws one rate from every arm's posterior and picks the highest, so an arm is
 * chosen with the probability that it is best, exploring while evidence is thin and
 * exploiting as it accumulates.
 */
import type { BetaDistribution } from './bayes.js';
import { requireBeta } from './checks.js';
import type { Random } from './random.js';

/**
 * Index of the arm whose posterior draw is highest (ties to the lowest index). Draws one
 * Beta variate per arm from `random`, in arm order.
 */
export function thompsonChoose(arms: readonly BetaDistribution[], random: Random): number {
  if (arms.length === 0) throw new RangeError('thompsonChoose needs at least one arm');
  let bestIndex = 0;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (const [index, arm] of arms.entries()) {
    requireBeta(`arms[${index}]`, arm);
    const value = random.beta(arm.alpha, arm.beta);
    if (value > bestValue) {
      bestValue = value;
      bestIndex = index;
    }
  }
  return bestIndex;
}
