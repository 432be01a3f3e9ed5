/**
 * Frequentist tools for conversion rates (opens, clicks, conversions per recipient):
 * the Wilson score interval, the two-proportion z-test, and multiple-comparison
 * corrections for A/B/n tests that compare several variants against a control.
 */
import { requireCounts, requireLevel } from './checks.js';
import { normalCdf, normalQuantile } from './distributions.js';

export interface Interval {
  lower: number;
  upper: number;
}

/** The two-sided normal critical value for a confidence level: 1.959963984540054 for 0.95. */
function criticalZ(confidence: number): number {
  requireLevel('confidence', confidence);
  return normalQuantile(1 - (1 - confidence) / 2);
}

/**
 * Wilson score interval for a binomial proportion (E. B. Wilson, JASA 22, 1927; method 3
 * of Newcombe, Statistics in Medicine 17:857, 1998): the set of p the score test does not
 * reject. Unlike the Wald interval it stays inside [0, 1] and does not collapse to a point
 * at 0 or n successes, which matters for the small counts early in a test.
 * center = (p̂ + z²/2n) / (1 + z²/n), half width = z / (1 + z²/n) · sqrt(p̂(1-p̂)/n + z²/4n²).
 * With no trials the interval is [0, 1].
 */
export function wilsonInterval(successes: number, trials: number, confidence = 0.95): Interval {
  requireCounts(successes, trials);
  const z = criticalZ(confidence);
  if (trials === 0) return { lower: 0, upper: 1 };
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const denominator = 1 + z2n;
  const center = (p + z2n / 2) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials));
  // At 0 or n successes one bound is exactly 0 or 1; rounding must not push it past.
  return {
    lower: successes === 0 ? 0 : Math.max(0, center - half),
    upper: successes === trials ? 1 : Math.min(1, center + half),
  };
}

export interface TwoProportionTest {
  /** (p2 - p1) / pooled standard error. */
  z: number;
  /** Two-sided p-value from the pooled z statistic. */
  pValue: number;
  /** p2 - p1 (the second arm minus the first). */
  difference: number;
  /** Unpooled Wald confidence interval of p2 - p1, clamped to [-1, 1]. */
  interval: Interval;
}

/**
 * Two-proportion z-test of H0: p1 = p2 against p1 ≠ p2 (the test behind a 2×2 Pearson
 * chi-square without continuity correction: z² = X²). The statistic uses the pooled
 * standard error sqrt(p̂(1-p̂)(1/n1 + 1/n2)), p̂ = (x1+x2)/(n1+n2), because under H0 both
 * arms share one rate; the interval uses the unpooled sqrt(p1(1-p1)/n1 + p2(1-p2)/n2),
 * because away from H0 they do not. Degenerate inputs give "no evidence" instead of NaN:
 * an arm with no trials gives z 0, p-value 1, difference 0 and the interval [-1, 1]; both
 * arms at 0% or both at 100% give z 0 and p-value 1.
 *
 * `continuityCorrection`: Yates' correction, as R's prop.test applies by default: the
 * statistic uses |p2 - p1| - (1/n1 + 1/n2)/2 (never below 0), z² = the corrected X². The
 * uncorrected test declares slightly more than alpha of equal arms significant at the
 * sample sizes of small A/B tests; the corrected one stays below (the interval is unchanged).
 */
export function twoProportionZTest(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  options: { confidence?: number; continuityCorrection?: boolean } = {},
): TwoProportionTest {
  requireCounts(x1, n1, 'first arm');
  requireCounts(x2, n2, 'second arm');
  const zCritical = criticalZ(options.confidence ?? 0.95);
  if (n1 === 0 || n2 === 0) return { z: 0, pValue: 1, difference: 0, interval: { lower: -1, upper: 1 } };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const difference = p2 - p1;
  const pooled = (x1 + x2) / (n1 + n2);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const unpooledSe = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const interval = {
    lower: Math.max(-1, difference - zCritical * unpooledSe),
    upper: Math.min(1, difference + zCritical * unpooledSe),
  };
  if (!(pooledSe > 0)) return { z: 0, pValue: 1, difference, interval };
  const correction = options.continuityCorrection ? (1 / n1 + 1 / n2) / 2 : 0;
  const corrected = Math.max(0, Math.abs(difference) - correction);
  const z = corrected === 0 ? 0 : (Math.sign(difference) * corrected) / pooledSe;
  // 2 Φ(-|z|) keeps the digits of tiny p-values that 2 (1 - Φ(|z|)) would lose.
  return { z, pValue: Math.min(1, 2 * normalCdf(-Math.abs(z))), difference, interval };
}

function requirePValues(pValues: readonly number[]): void {
  for (const [index, p] of pValues.entries()) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`pValues[${index}] must be between 0 and 1, got ${p}`);
  }
}

/**
 * Holm-Bonferroni step-down adjusted p-values (S. Holm, Scand. J. Statistics 6:65, 1979),
 * in the order given: with p(1) <= ... <= p(m) sorted, adj(i) = max over j <= i of
 * min(1, (m - j + 1) p(j)). Rejecting where adj <= α controls the family-wise error rate at
 * α, like Bonferroni, but rejects at least as much. Ties keep their input order, which
 * does not change the values.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  requirePValues(pValues);
  const m = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((a, b) => a.p - b.p || a.index - b.index);
  const adjusted = new Array<number>(m);
  let runningMax = 0;
  for (const [rank, { p, index }] of order.entries()) {
    runningMax = Math.max(runningMax, Math.min(1, (m - rank) * p));
    adjusted[index] = runningMax;
  }
  return adjusted;
}

/** Bonferroni adjusted p-values: min(1, m p), in the order given. */
export function bonferroniAdjust(pValues: readonly number[]): number[] {
  requirePValues(pValues);
  return pValues.map((p) => Math.min(1, pValues.length * p));
}
