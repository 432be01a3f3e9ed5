import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  betaCdf,
  betaQuantile,
  logBeta,
  logGamma,
  normalCdf,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
  studentTTail,
} from './distributions.js';

const relativeError = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe('normalCdf', () => {
  it('matches tabulated values, deep into the lower tail', () => {
    // Φ(1.96) from the brief's reference value; Φ(-1), Q(5), Q(10): Abramowitz-Stegun
    // tables 26.1 and 26.2 (to their printed digits), extended to 16 digits with R's pnorm.
    const table: [number, number][] = [
      [1.96, 0.9750021048517795],
      [0, 0.5],
      [-1, 0.15865525393145707],
      [-5, 2.866515718791939e-7],
      [-10, 7.619853024160527e-24],
      [-20, 2.7536241186062337e-89],
    ];
    for (const [z, p] of table) expect(relativeError(normalCdf(z), p)).toBeLessThan(1e-13);
    expect(normalCdf(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(normalCdf(Number.POSITIVE_INFINITY)).toBe(1);
    expect(normalCdf(Number.NaN)).toBeNaN();
  });

  it('is symmetric: Φ(z) + Φ(-z) = 1', () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), (z) => {
        expect(Math.abs(normalCdf(z) + normalCdf(-z) - 1)).toBeLessThan(1e-15);
      }),
    );
  });
});

describe('normalQuantile', () => {
  it('matches tabulated quantiles to ~1e-15', () => {
    // z(0.975) from the brief; z(0.995) and z(1e-10): R qnorm (A-S table 26.5 to its digits).
    expect(relativeError(normalQuantile(0.975), 1.959963984540054)).toBeLessThan(1e-14);
    expect(relativeError(normalQuantile(0.995), 2.5758293035489004)).toBeLessThan(1e-14);
    expect(relativeError(normalQuantile(1e-10), -6.361340902404056)).toBeLessThan(1e-14);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
  });

  it('inverts normalCdf (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1, noNaN: true, maxExcluded: true }), (p) => {
        const z = normalQuantile(p);
        // Compare on the side where the cdf has relative precision.
        const back = z <= 0 ? normalCdf(z) : 1 - normalCdf(-z);
        expect(Math.abs(back - p)).toBeLessThanOrEqual(1e-13 * Math.min(p, 1 - p) + 1e-16);
      }),
    );
  });
});

describe('logGamma and logBeta', () => {
  it('match closed forms', () => {
    // Γ(1/2) = √π; Γ(100) = 99!; Γ(x) = 1/x - γ + O(x) as x -> 0, so log Γ(1e-8) = 18.420680738180209.
    expect(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI))).toBeLessThan(3e-15);
    expect(Math.abs(logGamma(1))).toBeLessThan(3e-15);
    expect(Math.abs(logGamma(2))).toBeLessThan(3e-15);
    expect(relativeError(logGamma(100), 359.1342053695754)).toBeLessThan(1e-15);
    expect(relativeError(logGamma(1e-8), 18.420680738180209)).toBeLessThan(1e-15);
    let factorial = 1;
    for (let n = 1; n <= 20; n++) {
      factorial *= n;
      expect(Math.abs(logGamma(n + 1) - Math.log(factorial))).toBeLessThan(
        1e-14 * Math.max(1, Math.log(factorial)),
      );
    }
  });

  it('logBeta keeps its precision for posteriors of a million trials', () => {
    // B(1, b) = 1/b and B(a, b) = B(a, b+1) (a+b)/b, exact identities at any size.
    expect(relativeError(logBeta(1, 1e6), -Math.log(1e6))).toBeLessThan(1e-15);
    const a = 50_001;
    const b = 950_001;
    expect(Math.abs(logBeta(a, b) - (logBeta(a, b + 1) + Math.log((a + b) / b)))).toBeLessThan(1e-9);
    // B(1/2, 1/2) = π.
    expect(relativeError(logBeta(0.5, 0.5), Math.log(Math.PI))).toBeLessThan(1e-14);
    expect(() => logBeta(0, 1)).toThrow(RangeError);
  });
});

describe('regularizedIncompleteBeta and betaCdf', () => {
  it('match exact and tabulated values', () => {
    // I_0.5(2, 3) = Σ_{j=2..4} C(4,j)/16 = 11/16.
    expect(relativeError(regularizedIncompleteBeta(0.5, 2, 3), 0.6875)).toBeLessThan(1e-14);
    // I_p(a, n-a+1) = P(Binomial(n, p) >= a): n = 7, p = 0.3, a = 3 gives 1 - 0.6471 from the
    // cumulative binomial table (exactly 0.3529305).
    expect(relativeError(betaCdf(0.3, 3, 5), 0.3529305)).toBeLessThan(1e-13);
    // Arcsine law Beta(1/2, 1/2): F(x) = (2/π) asin(√x), so F(1/4) = 1/3.
    expect(relativeError(betaCdf(0.25, 0.5, 0.5), 1 / 3)).toBeLessThan(1e-14);
    // Beta(2, 2): F(x) = 3x² - 2x³, F(0.3) = 0.216.
    expect(relativeError(betaCdf(0.3, 2, 2), 0.216)).toBeLessThan(1e-14);
    // Beta(a, 1): F(x) = x^a; Beta(1, b): F(x) = 1 - (1-x)^b, also for a million trials.
    expect(relativeError(betaCdf(0.9, 7.5, 1), 0.9 ** 7.5)).toBeLessThan(1e-14);
    expect(relativeError(betaCdf(1e-6, 1, 1e6), -Math.expm1(1e6 * Math.log1p(-1e-6)))).toBeLessThan(1e-13);
    expect(betaCdf(-0.1, 2, 3)).toBe(0);
    expect(betaCdf(1.1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.1, 2, 3)).toThrow(RangeError);
  });

  it('satisfies the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        fc.double({ min: 0.05, max: 5000, noNaN: true }),
        fc.double({ min: 0.05, max: 5000, noNaN: true }),
        (x, a, b) => {
          const sum = regularizedIncompleteBeta(x, a, b) + regularizedIncompleteBeta(1 - x, b, a);
          expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
        },
      ),
    );
  });
});

describe('betaQuantile', () => {
  it('inverts the closed forms', () => {
    expect(relativeError(betaQuantile(1 / 3, 0.5, 0.5), 0.25)).toBeLessThan(1e-13);
    expect(relativeError(betaQuantile(0.216, 2, 2), 0.3)).toBeLessThan(1e-13);
    expect(relativeError(betaQuantile(0.2, 7.5, 1), 0.2 ** (1 / 7.5))).toBeLessThan(1e-13);
    expect(betaQuantile(0, 2, 3)).toBe(0);
    expect(betaQuantile(1, 2, 3)).toBe(1);
  });

  it('inverts betaCdf for U-shaped, skewed and large-count shapes (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1 - 1e-6, noNaN: true }),
        fc.oneof(fc.double({ min: 0.05, max: 1, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true })),
        fc.oneof(fc.double({ min: 0.05, max: 1, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true })),
        (p, a, b) => {
          const x = betaQuantile(p, a, b);
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThanOrEqual(1);
          // Where the density is huge (b < 1 near x = 1) neighbouring doubles differ in cdf by
          // more than the tolerance, so p only has to lie between the cdf two ulps either side.
          const tolerance = 1e-9 * Math.max(p, 1e-3);
          const ulp = 2 * Number.EPSILON * Math.max(x, Number.MIN_VALUE);
          expect(betaCdf(x - ulp, a, b)).toBeLessThanOrEqual(p + tolerance);
          expect(betaCdf(x + ulp, a, b)).toBeGreaterThanOrEqual(p - tolerance);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Student t', () => {
  it('matches the t table and the closed forms for 1 and 2 degrees of freedom', () => {
    // Student t table: t(0.975, 10) = 2.228 (R qt: 2.228138851986274).
    expect(Math.abs(studentTCdf(2.228, 10) - 0.975)).toBeLessThan(1e-4);
    expect(relativeError(studentTQuantile(0.975, 10), 2.228138851986274)).toBeLessThan(1e-12);
    // df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π.
    // df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t²)).
    for (const t of [-30, -2.5, -0.3, 0, 0.7, 4]) {
      expect(Math.abs(studentTCdf(t, 1) - (0.5 + Math.atan(t) / Math.PI))).toBeLessThan(1e-15);
      expect(Math.abs(studentTCdf(t, 2) - (0.5 + t / (2 * Math.sqrt(2 + t * t))))).toBeLessThan(1e-15);
    }
    // Tail of the Cauchy far out: atan gives 1/(πt) for large t; computed directly, not as 1 - F.
    expect(relativeError(studentTTail(1e8, 1), 1 / (Math.PI * 1e8))).toBeLessThan(1e-12);
  });

  it('tends to the normal as df grows', () => {
    expect(Math.abs(studentTCdf(-1.96, 1e7) - normalCdf(-1.96))).toBeLessThan(1e-7);
    expect(studentTCdf(-1.96, Number.POSITIVE_INFINITY)).toBe(normalCdf(-1.96));
    // Cornish-Fisher: z + (z³ + z)/4df = 1.959964 + 2.37e-6 at df = 1e6.
    expect(relativeError(studentTQuantile(0.975, 1e6), 1.959966)).toBeLessThan(1e-6);
    // At df = 1e12 the distance to the normal is φ(t)(t³ + t)/4df ≈ 1e-13: the continued
    // fraction alone would be off by 4e-5 here (a = df/2 multiplies its rounding).
    expect(relativeError(studentTCdf(-2, 1e12), normalCdf(-2))).toBeLessThan(1e-11);
    expect(relativeError(studentTQuantile(0.975, 1e12), 1.959963984540054)).toBeLessThan(1e-11);
    // No step where the method changes (df = 3e6).
    for (const t of [0.5, 2, 6]) {
      expect(relativeError(studentTTail(t, 3e6 + 1), studentTTail(t, 3e6))).toBeLessThan(1e-9);
    }
    expect(relativeError(studentTQuantile(0.001, 3e6 + 1), studentTQuantile(0.001, 3e6))).toBeLessThan(1e-9);
  });

  it('quantile inverts the cdf (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-8, max: 1 - 1e-8, noNaN: true }),
        fc.double({ min: 0.5, max: 1e5, noNaN: true }),
        (p, df) => {
          const t = studentTQuantile(p, df);
          expect(Math.abs(studentTCdf(t, df) - p)).toBeLessThan(1e-9 * Math.max(Math.min(p, 1 - p), 1e-3));
        },
      ),
      { numRuns: 200 },
    );
  });
});
