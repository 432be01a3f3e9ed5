/**
 * Tools for continuous per-recipient metrics such as revenue per recipient: summaries
 * from running sums, Welch's t-test and t-based confidence intervals for a mean.
 */
import { requireLevel } from './checks.js';
import { studentTQuantile, studentTTail } from './distributions.js';
import type { Interval } from './proportions.js';

/** A sample reduced to its size, mean and sample variance (denominator n - 1). */
export interface SampleSummary {
  n: number;
  mean: number;
  variance: number;
}

/**
 * A summary from the running totals a database can keep per arm: count, Σx and Σx².
 * variance = (Σx² - Σx · mean) / (n - 1). This one-pass formula cancels when the mean is
 * large against the spread (so prefer `summarizeValues` when the values are at hand); the
 * result is clamped at 0 so rounding never yields a negative variance. n = 0 gives mean 0;
 * n < 2 gives variance 0.
 */
export function summarize(n: number, sum: number, sumOfSquares: number): SampleSummary {
  if (!(Number.isFinite(n) && n >= 0)) throw new RangeError(`n must be a finite number >= 0, got ${n}`);
  if (!Number.isFinite(sum)) throw new RangeError(`sum must be a finite number, got ${sum}`);
  if (!(Number.isFinite(sumOfSquares) && sumOfSquares >= 0)) {
    throw new RangeError(`sumOfSquares must be a finite number >= 0, got ${sumOfSquares}`);
  }
  if (n === 0) return { n, mean: 0, variance: 0 };
  const mean = sum / n;
  const variance = n < 2 ? 0 : Math.max(0, (sumOfSquares - sum * mean) / (n - 1));
  return { n, mean, variance };
}

/** A summary of raw values by Welford's one-pass update (Knuth TAOCP vol. 2, 4.2.2), without the cancellation of Σx². */
export function summarizeValues(values: Iterable<number>): SampleSummary {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`values must be finite numbers, got ${value}`);
    n += 1;
    const delta = value - mean;
    mean += delta / n;
    m2 += delta * (value - mean);
  }
  return { n, mean, variance: n < 2 ? 0 : m2 / (n - 1) };
}

export interface WelchTest {
  /** (b.mean - a.mean) / sqrt(a.variance/a.n + b.variance/b.n). */
  t: number;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value from Student's t with df degrees of freedom. */
  pValue: number;
  /** b.mean - a.mean. */
  difference: number;
  /** Confidence interval of the difference: difference ± t(df) · standard error. */
  interval: Interval;
}

/**
 * Welch's unequal-variances t-test (B. L. Welch, Biometrika 34:28, 1947) of equal means,
 * two-sided, with the Welch-Satterthwaite df = (va/na + vb/nb)² / ((va/na)²/(na-1) +
 * (vb/nb)²/(nb-1)); as R's t.test(b, a). Degenerate inputs give "no evidence" rather
 * than NaN: with fewer than 2 observations in an arm the variance is unknown, so t 0,
 * df 0, p-value 1 and an unbounded interval (-Infinity, Infinity); with both variances 0
 * the test is exact: p-value 1 for equal means, 0 (t ±Infinity) for different ones.
 */
export function welchTTest(a: SampleSummary, b: SampleSummary, confidence = 0.95): WelchTest {
  requireSummary('a', a);
  requireSummary('b', b);
  requireLevel('confidence', confidence);
  if (a.n < 2 || b.n < 2) {
    const difference = a.n > 0 && b.n > 0 ? b.mean - a.mean : 0;
    return {
      t: 0,
      df: 0,
      pValue: 1,
      difference,
      interval: { lower: Number.NEGATIVE_INFINITY, upper: Number.POSITIVE_INFINITY },
    };
  }
  const difference = b.mean - a.mean;
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se2 = va + vb;
  if (!(se2 > 0)) {
    const t = difference === 0 ? 0 : difference > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    return {
      t,
      df: a.n + b.n - 2,
      pValue: difference === 0 ? 1 : 0,
      difference,
      interval: { lower: difference, upper: difference },
    };
  }
  const se = Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1));
  const t = difference / se;
  const margin = studentTQuantile(1 - (1 - confidence) / 2, df) * se;
  return {
    t,
    df,
    pValue: Math.min(1, 2 * studentTTail(t, df)),
    difference,
    interval: { lower: difference - margin, upper: difference + margin },
  };
}

/**
 * Student-t confidence interval of a mean: mean ± t(n-1) · sqrt(variance / n). With fewer
 * than 2 observations the spread is unknown and the interval is (-Infinity, Infinity).
 */
export function meanInterval(s: SampleSummary, confidence = 0.95): Interval {
  requireSummary('s', s);
  requireLevel('confidence', confidence);
  if (s.n < 2) return { lower: Number.NEGATIVE_INFINITY, upper: Number.POSITIVE_INFINITY };
  const margin = studentTQuantile(1 - (1 - confidence) / 2, s.n - 1) * Math.sqrt(s.variance / s.n);
  return { lower: s.mean - margin, upper: s.mean + margin };
}

function requireSummary(name: string, s: SampleSummary): void {
  if (
    !(
      Number.isFinite(s.n) &&
      s.n >= 0 &&
      Number.isFinite(s.mean) &&
      Number.isFinite(s.variance) &&
      s.variance >= 0
    )
  ) {
    throw new RangeError(
      `${name} must have n >= 0, a finite mean and a variance >= 0, got n=${s.n}, mean=${s.mean}, variance=${s.variance}`,
    );
  }
}
