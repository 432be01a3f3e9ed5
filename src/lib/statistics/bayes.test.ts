import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  betaPosterior,
  compareBetaArms,
  credibleInterval,
  expectedLoss,
  probabilityBBeatsA,
  probabilityToBeBest,
  probabilityToBeBestNormal,
} from './bayes.js';
import { normalCdf } from './distributions.js';
import { createRandom } from './random.js';

describe('betaPosterior and credibleInterval', () => {
  it("reproduce Gelman et al.'s placenta previa example", () => {
    // Gelman, Carlin, Stern, Dunson, Vehtari & Rubin, Bayesian Data Analysis, 3rd ed.
    // (2013), 2.4: 437 girls in 980 births, uniform prior -> Beta(438, 544); posterior mean
    // 0.446, sd 0.016, central 95% interval [0.415, 0.477].
    const posterior = betaPosterior(437, 980);
    expect(posterior).toEqual({ alpha: 438, beta: 544 });
    const { alpha, beta } = posterior;
    expect(alpha / (alpha + beta)).toBeCloseTo(0.446, 3);
    expect(Math.sqrt((alpha * beta) / ((alpha + beta) ** 2 * (alpha + beta + 1)))).toBeCloseTo(0.016, 3);
    const interval = credibleInterval(posterior);
    expect(interval.lower).toBeCloseTo(0.415, 3);
    expect(interval.upper).toBeCloseTo(0.477, 3);
  });

  it('adds successes to alpha and failures to beta of any prior', () => {
    expect(betaPosterior(0, 10, { alpha: 0.5, beta: 0.5 })).toEqual({ alpha: 0.5, beta: 10.5 });
    expect(betaPosterior(0, 0)).toEqual({ alpha: 1, beta: 1 });
    expect(() => betaPosterior(3, 2)).toThrow(RangeError);
    expect(() => betaPosterior(1, 2, { alpha: 0, beta: 1 })).toThrow(/prior/);
  });

  it('an equal-tailed interval of Beta(1, 1) is [tail, 1 - tail]', () => {
    const { lower, upper } = credibleInterval({ alpha: 1, beta: 1 }, 0.9);
    expect(lower).toBeCloseTo(0.05, 14);
    expect(upper).toBeCloseTo(0.95, 14);
  });
});

describe('probabilityBBeatsA', () => {
  it('matches integrals done by hand', () => {
    // A ~ U(0,1), B ~ Beta(2,1) (density 2x): P(B > A) = ∫ 2x · x dx = 2/3.
    expect(probabilityBBeatsA({ alpha: 1, beta: 1 }, { alpha: 2, beta: 1 })).toBeCloseTo(2 / 3, 14);
    // A ~ Beta(1,2) (cdf 1 - (1-x)²), B ~ Beta(2,1): ∫ 2x (1 - (1-x)²) dx = 5/6.
    expect(probabilityBBeatsA({ alpha: 1, beta: 2 }, { alpha: 2, beta: 1 })).toBeCloseTo(5 / 6, 14);
    expect(probabilityBBeatsA({ alpha: 7, beta: 93 }, { alpha: 7, beta: 93 })).toBeCloseTo(0.5, 14);
  });

  it('gives the same answer through each integer parameter it can sum over', () => {
    // Only betas are integers here, so the sum runs over a flipped arm; flipping both arms
    // (p -> 1 - p) must give the complement through the alpha sums.
    const a = { alpha: 2.5, beta: 3 };
    const b = { alpha: 1.5, beta: 4 };
    const flipped = probabilityBBeatsA({ alpha: 3, beta: 2.5 }, { alpha: 4, beta: 1.5 });
    expect(probabilityBBeatsA(a, b) + flipped).toBeCloseTo(1, 13);
    expect(probabilityBBeatsA(a, b) + probabilityBBeatsA(b, a)).toBeCloseTo(1, 13);
    expect(() => probabilityBBeatsA({ alpha: 0.5, beta: 0.5 }, { alpha: 1.5, beta: 2.5 })).toThrow(/integer/);
  });

  it('agrees with a Monte Carlo estimate, for campaign-sized arms too', () => {
    for (const [a, b] of [
      [betaPosterior(200, 10_000), betaPosterior(240, 10_000)],
      [betaPosterior(50_000, 1_000_000), betaPosterior(50_300, 1_000_000)],
      [
        { alpha: 3, beta: 2.5 },
        { alpha: 4, beta: 1.5 },
      ],
    ] as const) {
      const draws = 100_000;
      const [, monteCarlo] = probabilityToBeBest([a, b], { random: createRandom('bbeatsa'), draws });
      const exact = probabilityBBeatsA(a, b);
      const standardError = Math.sqrt((exact * (1 - exact)) / draws);
      expect(Math.abs((monteCarlo as number) - exact)).toBeLessThan(4 * standardError + 1e-9);
    }
  });
});

describe('probabilityToBeBest and expectedLoss', () => {
  it('are reproducible from the seed', () => {
    const arms = [betaPosterior(30, 1000), betaPosterior(36, 1000), betaPosterior(33, 1000)];
    const once = compareBetaArms(arms, { random: createRandom(9), draws: 2000 });
    const again = compareBetaArms(arms, { random: createRandom(9), draws: 2000 });
    expect(again).toEqual(once);
    expect(probabilityToBeBest(arms, { random: createRandom(9), draws: 2000 })).toEqual(
      once.probabilityToBeBest,
    );
    expect(expectedLoss(arms, { random: createRandom(9), draws: 2000 })).toEqual(once.expectedLoss);
  });

  it('split evenly between identical arms', () => {
    const arm = betaPosterior(50, 1000);
    const probabilities = probabilityToBeBest([arm, arm, arm, arm], { random: createRandom('even') });
    for (const p of probabilities)
      expect(Math.abs(p - 0.25)).toBeLessThan(4 * Math.sqrt((0.25 * 0.75) / 20_000));
  });

  it('expected losses differ by the difference of the posterior means', () => {
    // E[max - pA] - E[max - pB] = E[pB] - E[pA] exactly; the estimate is within Monte Carlo error.
    const a = betaPosterior(120, 4000);
    const b = betaPosterior(150, 4000);
    const [lossA, lossB] = expectedLoss([a, b], { random: createRandom('loss'), draws: 50_000 });
    const meanDifference = b.alpha / (b.alpha + b.beta) - a.alpha / (a.alpha + a.beta);
    // sd of pB - pA is about 0.004; its mean over 50 000 draws has sd 2e-5.
    expect(Math.abs((lossA as number) - (lossB as number) - meanDifference)).toBeLessThan(1e-4);
    expect(lossB).toBeLessThan(lossA as number);
    expect(lossB).toBeGreaterThanOrEqual(0);
  });

  it('expected loss is exact on cases with closed forms', () => {
    // Three uniform arms: E[max of 3 uniforms] = 3/4, so each arm's expected loss is 3/4 - 1/2 = 1/4.
    const uniform = { alpha: 1, beta: 1 };
    const draws = 100_000;
    const losses = expectedLoss([uniform, uniform, uniform], { random: createRandom('uniform-loss'), draws });
    // sd of (max - U) is about 0.3, so the standard error is 0.001.
    for (const loss of losses) expect(Math.abs(loss - 0.25)).toBeLessThan(0.004);
    // Far-apart arms: the loss difference is E[pB] - E[pA] = 0.9 - 0.1 draw by draw in expectation;
    // sd of pB - pA is 0.128, so the standard error over 50 000 draws is 0.0006.
    const [lossA, lossB] = expectedLoss(
      [
        { alpha: 1, beta: 9 },
        { alpha: 9, beta: 1 },
      ],
      { random: createRandom('far-loss'), draws: 50_000 },
    );
    expect(Math.abs((lossA as number) - (lossB as number) - 0.8)).toBeLessThan(0.0025);
  });

  it('sum to 1 and lie in [0, 1] (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            alpha: fc.double({ min: 0.01, max: 1e5, noNaN: true }),
            beta: fc.double({ min: 0.01, max: 1e5, noNaN: true }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer(),
        (arms, seed) => {
          const probabilities = probabilityToBeBest(arms, { random: createRandom(seed), draws: 200 });
          expect(probabilities).toHaveLength(arms.length);
          for (const p of probabilities) expect(p >= 0 && p <= 1).toBe(true);
          expect(probabilities.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('handle no arms, and refuse a bad draw count', () => {
    expect(probabilityToBeBest([], { random: createRandom(1) })).toEqual([]);
    expect(() => probabilityToBeBest([{ alpha: 1, beta: 1 }], { random: createRandom(1), draws: 0 })).toThrow(
      RangeError,
    );
  });
});

describe('probabilityToBeBestNormal', () => {
  it('matches the closed form for two arms', () => {
    // P(B > A) for independent normal means = Φ((μB - μA) / sqrt(seA² + seB²)).
    const a = { mean: 0.5, standardError: 0.03 };
    const b = { mean: 0.56, standardError: 0.04 };
    const exact = normalCdf(0.06 / 0.05);
    const [, estimate] = probabilityToBeBestNormal([a, b], {
      random: createRandom('normal'),
      draws: 100_000,
    });
    expect(Math.abs((estimate as number) - exact)).toBeLessThan(
      4 * Math.sqrt((exact * (1 - exact)) / 100_000),
    );
  });

  it('treats a zero standard error as a known mean and refuses a negative one', () => {
    const probabilities = probabilityToBeBestNormal(
      [
        { mean: 1, standardError: 0 },
        { mean: 2, standardError: 0 },
      ],
      { random: createRandom(1), draws: 100 },
    );
    expect(probabilities).toEqual([0, 1]);
    expect(() =>
      probabilityToBeBestNormal([{ mean: 1, standardError: -1 }], { random: createRandom(1), draws: 10 }),
    ).toThrow(/arms\[0\]/);
  });
});
