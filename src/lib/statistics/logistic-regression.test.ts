import { describe, expect, it } from 'vitest';
import { evaluateModel, fitLogisticRegression, predictProbability } from './logistic-regression.js';
import { createRandom } from './random.js';

// Launch temperature (°F) and O-ring damage on the 23 shuttle flights before Challenger
// (Dalal, Fowlkes & Hoadley, JASA 84:945, 1989, table 1; the `Challeng` data of R's alr4).
// R's glm(Fail > 0 ~ Temp, family = binomial) prints intercept 15.0429 (SE 7.3786) and
// slope -0.2322 (SE 0.1082) (BYU-Idaho Statistics Notebook, "Challenger logistic regression").
const temperatures = [
  53, 57, 58, 63, 66, 67, 67, 67, 68, 69, 70, 70, 70, 70, 72, 73, 75, 75, 76, 76, 78, 79, 81,
];
const damagedRings = [5, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
const damaged = damagedRings.map((count) => (count > 0 ? 1 : 0) as 0 | 1);

describe('fitLogisticRegression', () => {
  it('reproduces the published maximum-likelihood fit of the Challenger O-ring data', () => {
    const model = fitLogisticRegression(
      temperatures.map((t) => [t]),
      damaged,
      { l2: 0 },
    );
    expect(model.converged).toBe(true);
    expect(model.intercept).toBeCloseTo(15.0429, 4);
    expect(model.weights[0]).toBeCloseTo(-0.2322, 4);
    // At the launch temperature of 31 °F the fitted risk is essentially certain.
    expect(predictProbability(model, [31])).toBeGreaterThan(0.99);
    expect(model.means[0]).toBeCloseTo(69.565217, 5);
  });

  it('recovers known coefficients from a large seeded synthetic sample', () => {
    // log-odds = -1 + 0.8 x1 - 0.3 x2 + 1.2 x3 with x1 ~ N(0,1), x2 ~ N(5, 2²), x3 ~ Bernoulli(0.3).
    const random = createRandom('logistic-synthetic');
    const truth = { intercept: -1, weights: [0.8, -0.3, 1.2] };
    const features: number[][] = [];
    const labels: (0 | 1)[] = [];
    for (let i = 0; i < 20_000; i++) {
      const row = [random.normal(), 5 + 2 * random.normal(), random.next() < 0.3 ? 1 : 0];
      const eta = truth.intercept + row.reduce((sum, x, j) => sum + x * (truth.weights[j] as number), 0);
      features.push(row);
      labels.push(random.next() < 1 / (1 + Math.exp(-eta)) ? 1 : 0);
    }
    const model = fitLogisticRegression(features, labels, { l2: 0 });
    expect(model.converged).toBe(true);
    // Standard errors at n = 20 000 are about 0.02-0.06; allow about four of them.
    expect(Math.abs(model.intercept - truth.intercept)).toBeLessThan(0.2);
    for (const [j, w] of model.weights.entries())
      expect(Math.abs(w - (truth.weights[j] as number))).toBeLessThan(0.08);
    const evaluation = evaluateModel(model, features, labels);
    expect(evaluation.auc).toBeGreaterThan(0.7);
    // Calibrated in-sample: every well-filled bin's observed rate is near its mean prediction.
    for (const bin of evaluation.calibration) {
      if (bin.count >= 500) expect(Math.abs(bin.observedRate - bin.meanPredicted)).toBeLessThan(0.05);
    }
  });

  it('gives a constant column weight 0 and scale 1 instead of failing', () => {
    const features = temperatures.map((t) => [t, 1, 0.1]);
    const model = fitLogisticRegression(features, damaged, { l2: 0 });
    expect(model.weights[1]).toBe(0);
    expect(model.weights[2]).toBe(0);
    expect(model.scales.slice(1)).toEqual([1, 1]);
    expect(model.weights[0]).toBeCloseTo(-0.2322, 4);
  });

  it('survives collinear columns without l2', () => {
    // Temperature in °F and in °C carry the same information; the fitted risk must not change.
    const features = temperatures.map((t) => [t, ((t - 32) * 5) / 9]);
    const model = fitLogisticRegression(features, damaged, { l2: 0 });
    const single = fitLogisticRegression(
      temperatures.map((t) => [t]),
      damaged,
      { l2: 0 },
    );
    for (const t of [40, 60, 80]) {
      expect(predictProbability(model, [t, ((t - 32) * 5) / 9])).toBeCloseTo(
        predictProbability(single, [t]),
        4,
      );
    }
  });

  it('shrinks standardized weights toward 0 as l2 grows, without touching the intercept term', () => {
    const rows = temperatures.map((t) => [t]);
    const slopes = [0, 0.01, 0.1, 1].map((l2) =>
      Math.abs(fitLogisticRegression(rows, damaged, { l2 }).weights[0] as number),
    );
    for (let i = 1; i < slopes.length; i++) expect(slopes[i]).toBeLessThan(slopes[i - 1] as number);
    // A huge penalty leaves only the intercept: the fitted rate is the base rate 7/23.
    const flat = fitLogisticRegression(rows, damaged, { l2: 1e6 });
    expect(predictProbability(flat, [60])).toBeCloseTo(7 / 23, 3);
  });

  it('reports non-convergence on perfectly separated or one-class data without l2, and converges with it', () => {
    const rows = [[1], [2], [3], [4], [5], [6]];
    const labels: (0 | 1)[] = [0, 0, 0, 1, 1, 1];
    const unpenalized = fitLogisticRegression(rows, labels, { l2: 0, maxIterations: 30 });
    expect(unpenalized.converged).toBe(false);
    expect(unpenalized.iterations).toBe(30);
    expect(Number.isFinite(unpenalized.weights[0])).toBe(true);
    for (const oneClass of [[0, 0, 0, 0, 0, 0] as const, [1, 1, 1, 1, 1, 1] as const]) {
      const fit = fitLogisticRegression(rows, [...oneClass]);
      expect(fit.converged).toBe(false);
      expect(Math.abs(predictProbability(fit, [3]) - oneClass[0])).toBeLessThan(1e-6);
    }
    const penalized = fitLogisticRegression(rows, labels, { l2: 0.01 });
    expect(penalized.converged).toBe(true);
    expect(predictProbability(penalized, [6])).toBeGreaterThan(0.9);
  });

  it('refuses inconsistent input with a message naming it', () => {
    expect(() => fitLogisticRegression([], [])).toThrow(/at least one row/);
    expect(() => fitLogisticRegression([[1], [2, 3]], [0, 1])).toThrow(/features\[1\]/);
    expect(() => fitLogisticRegression([[1], [Number.NaN]], [0, 1])).toThrow(/features\[1\]\[0\]/);
    expect(() => fitLogisticRegression([[1], [2]], [0])).toThrow(/labels/);
    expect(() => fitLogisticRegression([[1]], [1], { l2: -1 })).toThrow(/l2/);
    const model = fitLogisticRegression([[1], [2]], [0, 1]);
    expect(() => predictProbability(model, [1, 2])).toThrow(/1 weights/);
  });
});
