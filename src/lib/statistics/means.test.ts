import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { meanInterval, summarize, summarizeValues, welchTTest } from './means.js';

// finnstats, "Unequal Variance t-test in R: Welch's t-Test" (2022): exam scores with prep
// guides A and B; R's t.test(A, B) prints t = 2.1245, df = 21.914, p-value = 0.04515,
// 95 percent confidence interval 0.2046142 17.1287192, means 84.50000 and 75.83333.
const A = [80, 75, 78, 99, 91, 71, 72, 88, 82, 81, 99, 98];
const B = [54, 85, 61, 75, 80, 88, 77, 76, 74, 76, 83, 81];

const sums = (values: number[]) =>
  summarize(
    values.length,
    values.reduce((s, v) => s + v, 0),
    values.reduce((s, v) => s + v * v, 0),
  );

describe('welchTTest', () => {
  it("reproduces R's t.test output", () => {
    // welchTTest(a, b) tests b - a, so R's t.test(A, B) is welchTTest(B, A).
    const test = welchTTest(sums(B), sums(A));
    expect(test.difference).toBeCloseTo(84.5 - 75.83333, 4);
    expect(test.t).toBeCloseTo(2.1245, 4);
    expect(test.df).toBeCloseTo(21.914, 3);
    expect(test.pValue).toBeCloseTo(0.04515, 5);
    expect(test.interval.lower).toBeCloseTo(0.2046142, 6);
    expect(test.interval.upper).toBeCloseTo(17.1287192, 6);
    // The sample variances the example prints: var(A) = 106.0909, var(B) = 93.60606.
    expect(sums(A).variance).toBeCloseTo(106.0909, 4);
    expect(sums(B).variance).toBeCloseTo(93.60606, 5);
  });

  it('reduces to n-1 degrees of freedom when the other arm has no spread', () => {
    const a = { n: 30, mean: 0, variance: 0 };
    const b = { n: 10, mean: 2, variance: 9 };
    expect(welchTTest(a, b).df).toBeCloseTo(9, 12);
  });

  it('gives "no evidence" or an exact answer instead of NaN for degenerate arms', () => {
    const tiny = welchTTest({ n: 1, mean: 5, variance: 0 }, { n: 40, mean: 3, variance: 2 });
    expect(tiny).toMatchObject({ t: 0, df: 0, pValue: 1, difference: -2 });
    expect(tiny.interval.lower).toBe(Number.NEGATIVE_INFINITY);
    expect(welchTTest({ n: 0, mean: 0, variance: 0 }, { n: 0, mean: 0, variance: 0 }).difference).toBe(0);
    const flatEqual = welchTTest({ n: 100, mean: 0, variance: 0 }, { n: 80, mean: 0, variance: 0 });
    expect(flatEqual).toMatchObject({ t: 0, pValue: 1, difference: 0 });
    const flatDifferent = welchTTest({ n: 100, mean: 0, variance: 0 }, { n: 80, mean: 1, variance: 0 });
    expect(flatDifferent).toMatchObject({ t: Number.POSITIVE_INFINITY, pValue: 0, difference: 1 });
    expect(() => welchTTest({ n: 3, mean: 1, variance: -1 }, { n: 3, mean: 1, variance: 1 })).toThrow(
      RangeError,
    );
  });

  it('agrees with the normal z-test for very large arms', () => {
    // Revenue per recipient over 400 000 recipients per arm with variances 19 and 21: the
    // standard error is sqrt(40 / 400 000) = 0.01, so a difference of 0.0196 is t = 1.96,
    // and t with df ≈ 8e5 is normal to ~1e-6: p = 2 (1 - 0.9750021048517795) = 0.0499958.
    const test = welchTTest(
      { n: 400_000, mean: 0.42, variance: 19 },
      { n: 400_000, mean: 0.4396, variance: 21 },
    );
    expect(test.t).toBeCloseTo(1.96, 10);
    expect(test.pValue).toBeCloseTo(0.0499958, 6);
  });
});

describe('meanInterval', () => {
  it('is mean ± t(n-1) s / sqrt(n)', () => {
    // n = 11 gives t(0.975, 10) = 2.228138851986274 (R qt); s² = 4, so the margin is 2.228139 · 2 / sqrt(11).
    const { lower, upper } = meanInterval({ n: 11, mean: 10, variance: 4 });
    expect(upper - 10).toBeCloseTo((2.228138851986274 * 2) / Math.sqrt(11), 12);
    expect(10 - lower).toBeCloseTo((2.228138851986274 * 2) / Math.sqrt(11), 12);
    expect(meanInterval({ n: 1, mean: 3, variance: 0 })).toEqual({
      lower: Number.NEGATIVE_INFINITY,
      upper: Number.POSITIVE_INFINITY,
    });
  });
});

describe('summarize', () => {
  it('never returns a negative variance from rounded sums', () => {
    // 1e6 copies of 0.1: Σx² - (Σx)²/n cancels to rounding noise that can be negative.
    const n = 1_000_000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      sum += 0.1;
      squares += 0.01;
    }
    const summary = summarize(n, sum, squares);
    expect(summary.variance).toBeGreaterThanOrEqual(0);
    expect(summary.variance).toBeLessThan(1e-9);
    expect(summarize(0, 0, 0)).toEqual({ n: 0, mean: 0, variance: 0 });
    expect(summarize(1, 7, 49)).toEqual({ n: 1, mean: 7, variance: 0 });
  });

  it('agrees with the Welford summary of the same values (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), { minLength: 2, maxLength: 200 }),
        (values) => {
          const fromSums = sums(values);
          const fromValues = summarizeValues(values);
          expect(fromSums.mean).toBeCloseTo(fromValues.mean, 8);
          expect(Math.abs(fromSums.variance - fromValues.variance)).toBeLessThan(
            1e-7 * (1 + fromValues.variance),
          );
        },
      ),
    );
  });
});
