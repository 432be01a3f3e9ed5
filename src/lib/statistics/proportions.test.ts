import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bonferroniAdjust, holmAdjust, twoProportionZTest, wilsonInterval } from './proportions.js';

describe('wilsonInterval', () => {
  it("matches Newcombe's published score intervals", () => {
    // R. G. Newcombe, "Two-sided confidence intervals for the single proportion: comparison
    // of seven methods", Statistics in Medicine 17:857-872 (1998), Table II, method 3
    // (score interval without continuity correction), 95%.
    const published: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [successes, trials, lower, upper] of published) {
      const interval = wilsonInterval(successes, trials);
      expect(interval.lower).toBeCloseTo(lower, 4);
      expect(interval.upper).toBeCloseTo(upper, 4);
    }
  });

  it('is [0, 1] without trials, touches 0 and 1 exactly at the extremes, and narrows with confidence', () => {
    expect(wilsonInterval(0, 0)).toEqual({ lower: 0, upper: 1 });
    expect(wilsonInterval(0, 50).lower).toBe(0);
    expect(wilsonInterval(50, 50).upper).toBe(1);
    const wide = wilsonInterval(30, 100, 0.99);
    const narrow = wilsonInterval(30, 100, 0.8);
    expect(wide.lower).toBeLessThan(narrow.lower);
    expect(wide.upper).toBeGreaterThan(narrow.upper);
    expect(() => wilsonInterval(5, 4)).toThrow(RangeError);
    expect(() => wilsonInterval(1, 4, 1)).toThrow(RangeError);
  });

  it('contains the observed rate and stays inside [0, 1] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, share) => {
          const successes = Math.round(share * n);
          const { lower, upper } = wilsonInterval(successes, n);
          expect(lower).toBeGreaterThanOrEqual(0);
          expect(upper).toBeLessThanOrEqual(1);
          expect(lower).toBeLessThanOrEqual(successes / n);
          expect(upper).toBeGreaterThanOrEqual(successes / n);
        },
      ),
    );
  });
});

describe('twoProportionZTest', () => {
  it('reproduces the Physicians’ Health Study example', () => {
    // A. Agresti, An Introduction to Categorical Data Analysis, 2nd ed. (2007), 2.2.3:
    // myocardial infarction in 104 of 11 037 on aspirin and 189 of 11 034 on placebo;
    // difference 0.0171 - 0.0094 = 0.0077, SE 0.0015, 95% CI (0.005, 0.011).
    // Pooled by hand: p = 293/22071 = 0.013275, SE0 = sqrt(p(1-p)(1/11037 + 1/11034))
    // = 0.0015407, z = 0.0077060 / 0.0015407 = 5.0014, two-sided p = 2 Φ(-5.0014) = 5.69e-7.
    const test = twoProportionZTest(104, 11037, 189, 11034);
    expect(test.difference).toBeCloseTo(0.0077, 4);
    expect(test.interval.lower).toBeCloseTo(0.005, 3);
    expect(test.interval.upper).toBeCloseTo(0.011, 3);
    expect((test.interval.upper - test.interval.lower) / (2 * 1.959963984540054)).toBeCloseTo(0.0015, 4);
    expect(test.z).toBeCloseTo(5.0014, 3);
    expect(test.pValue).toBeCloseTo(5.69e-7, 8);
  });

  it("reproduces R's prop.test with Yates' continuity correction on the same study", () => {
    // R: prop.test(c(104, 189), c(11037, 11034)) -> X-squared = 24.429, p-value = 7.71e-07.
    // By hand: (0.0077060 - (1/11037 + 1/11034)/2) / 0.0015407 = 4.9428, z² = 24.43.
    const test = twoProportionZTest(104, 11037, 189, 11034, { continuityCorrection: true });
    expect(test.z * test.z).toBeCloseTo(24.429, 1);
    expect(test.pValue).toBeCloseTo(7.71e-7, 8);
    expect(test.difference).toBeCloseTo(0.0077, 4);
    // Arms closer than the correction are no evidence at all, in either direction.
    expect(twoProportionZTest(10, 100, 10, 101, { continuityCorrection: true })).toMatchObject({
      z: 0,
      pValue: 1,
    });
    const backward = twoProportionZTest(189, 11034, 104, 11037, { continuityCorrection: true });
    expect(backward.z).toBeCloseTo(-test.z, 12);
  });

  it("reproduces Newcombe's Wald interval for 56/70 vs 48/80", () => {
    // R. G. Newcombe, "Interval estimation for the difference between independent
    // proportions: comparison of eleven methods", Statistics in Medicine 17:873-890 (1998),
    // example (a), method 1 (asymptotic, no continuity correction): 0.0575 to 0.3425.
    const test = twoProportionZTest(48, 80, 56, 70);
    expect(test.difference).toBeCloseTo(0.2, 12);
    expect(test.interval.lower).toBeCloseTo(0.0575, 4);
    expect(test.interval.upper).toBeCloseTo(0.3425, 4);
  });

  it('swapping the arms flips the sign of z and the difference but not the p-value', () => {
    const forward = twoProportionZTest(120, 1000, 150, 1000);
    const backward = twoProportionZTest(150, 1000, 120, 1000);
    expect(backward.z).toBeCloseTo(-forward.z, 12);
    expect(backward.difference).toBeCloseTo(-forward.difference, 12);
    expect(backward.pValue).toBeCloseTo(forward.pValue, 14);
  });

  it('gives "no evidence" instead of NaN for empty arms and zero variance', () => {
    expect(twoProportionZTest(0, 0, 5, 10)).toEqual({
      z: 0,
      pValue: 1,
      difference: 0,
      interval: { lower: -1, upper: 1 },
    });
    const bothZero = twoProportionZTest(0, 500, 0, 800);
    expect(bothZero).toMatchObject({ z: 0, pValue: 1, difference: 0 });
    const bothAll = twoProportionZTest(500, 500, 800, 800);
    expect(bothAll).toMatchObject({ z: 0, pValue: 1, difference: 0 });
    for (const value of [bothZero.interval.lower, bothZero.interval.upper, bothAll.interval.lower]) {
      expect(Number.isFinite(value)).toBe(true);
    }
    expect(() => twoProportionZTest(11, 10, 1, 10)).toThrow(/first arm/);
  });

  it('uses the requested confidence for the interval only', () => {
    const at95 = twoProportionZTest(100, 1000, 130, 1000);
    const at99 = twoProportionZTest(100, 1000, 130, 1000, { confidence: 0.99 });
    expect(at99.pValue).toBe(at95.pValue);
    const halfWidth = (t: typeof at95) => (t.interval.upper - t.interval.lower) / 2;
    // The ratio of the critical values z(0.995) / z(0.975) = 2.5758293 / 1.9599640.
    expect(halfWidth(at99) / halfWidth(at95)).toBeCloseTo(2.5758293035489004 / 1.959963984540054, 12);
  });
});

describe('holmAdjust and bonferroniAdjust', () => {
  it('adjusts a worked example in the original order', () => {
    // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04·1, 0.06) = 0.06.
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    const expected = [0.03, 0.06, 0.06, 0.02];
    for (const [i, value] of adjusted.entries()) expect(value).toBeCloseTo(expected[i] as number, 15);
    expect(bonferroniAdjust([0.01, 0.04, 0.03, 0.005])).toEqual([0.04, 0.16, 0.12, 0.02]);
    expect(holmAdjust([0.6, 0.9])).toEqual([1, 1]);
    expect(holmAdjust([])).toEqual([]);
    expect(() => holmAdjust([0.5, Number.NaN])).toThrow(/pValues\[1\]/);
  });

  it('is at least the raw p-value, at most Bonferroni and 1, and keeps the order of the raw values (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }),
        (raw) => {
          const holm = holmAdjust(raw);
          const bonferroni = bonferroniAdjust(raw);
          for (const [i, p] of raw.entries()) {
            expect(holm[i]).toBeGreaterThanOrEqual(p);
            expect(holm[i]).toBeLessThanOrEqual(bonferroni[i] as number);
            expect(holm[i]).toBeLessThanOrEqual(1);
            for (const [j, q] of raw.entries())
              if (p <= q) expect(holm[i]).toBeLessThanOrEqual(holm[j] as number);
          }
        },
      ),
    );
  });
});
