import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auc, brierScore, calibrationBins, evaluate, logLoss } from './evaluation.js';

describe('auc', () => {
  it('counts correctly ordered positive-negative pairs, ties as one half', () => {
    // scikit-learn's roc_auc_score documentation example: 3 of 4 pairs ordered -> 0.75.
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    // By hand: positives 0.4 and 0.8, negatives 0.1 and 0.4. Pairs: (0.4, 0.1) = 1,
    // (0.4, 0.4) = 1/2, (0.8, 0.1) = 1, (0.8, 0.4) = 1 -> 3.5 / 4.
    expect(auc([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1])).toBe(0.875);
    // All scores tied: every pair is one half.
    expect(auc([0.3, 0.3, 0.3], [1, 0, 1])).toBe(0.5);
    expect(auc([0.9, 0.1], [0, 1])).toBe(0);
  });

  it('is 0.5 when a class is missing', () => {
    expect(auc([0.2, 0.9], [1, 1])).toBe(0.5);
    expect(auc([], [])).toBe(0.5);
    expect(() => auc([0.1], [0, 1])).toThrow(RangeError);
    expect(() => auc([0.1, 0.2], [0, 2 as 1])).toThrow(/labels\[1\]/);
  });

  it('flipping the labels gives 1 - AUC, and a monotone rescaling changes nothing (property)', () => {
    fc.assert(
      fc.property(
        // Scores on a coarse grid, so ties are common and 3s - 7 stays strictly monotone in floating point.
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 20 }).map((k) => k / 20),
            fc.constantFrom<0 | 1>(0, 1),
          ),
          {
            minLength: 2,
            maxLength: 60,
          },
        ),
        (rows) => {
          const scores = rows.map(([s]) => s);
          const labels = rows.map(([, y]) => y);
          const flipped = labels.map((y) => (1 - y) as 0 | 1);
          if (labels.includes(0) && labels.includes(1)) {
            expect(auc(scores, labels) + auc(scores, flipped)).toBeCloseTo(1, 12);
          }
          expect(
            auc(
              scores.map((s) => 3 * s - 7),
              labels,
            ),
          ).toBeCloseTo(auc(scores, labels), 12);
        },
      ),
    );
  });
});

describe('brierScore and logLoss', () => {
  it('match hand computations', () => {
    // ((0.9-1)² + (0.2-0)² + (0.6-1)² + (0.5-0)²) / 4 = (0.01 + 0.04 + 0.16 + 0.25) / 4 = 0.115.
    expect(brierScore([0.9, 0.2, 0.6, 0.5], [1, 0, 1, 0])).toBeCloseTo(0.115, 15);
    // -(ln 0.9 + ln 0.8 + ln 0.6 + ln 0.5) / 4.
    const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6) + Math.log(0.5)) / 4;
    expect(logLoss([0.9, 0.2, 0.6, 0.5], [1, 0, 1, 0])).toBeCloseTo(expected, 15);
  });

  it('clips a certain wrong prediction to -ln(1e-15) instead of Infinity', () => {
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(1e-15), 10);
    expect(logLoss([1, 0], [1, 0])).toBeCloseTo(0, 12);
    expect(() => brierScore([], [])).toThrow(/at least one/);
    expect(() => logLoss([1.5], [1])).toThrow(/probabilities\[0\]/);
  });
});

describe('calibrationBins', () => {
  it('groups predictions into equal-width bins and omits empty ones', () => {
    const probabilities = [0.05, 0.15, 0.12, 0.95, 1, 0.55];
    const labels: (0 | 1)[] = [0, 0, 1, 1, 1, 0];
    const bins = calibrationBins(probabilities, labels);
    expect(bins).toHaveLength(4);
    expect(bins[0]).toEqual({ lower: 0, upper: 0.1, count: 1, meanPredicted: 0.05, observedRate: 0 });
    expect(bins[1]).toMatchObject({ lower: 0.1, upper: 0.2, count: 2, observedRate: 0.5 });
    expect(bins[1]?.meanPredicted).toBeCloseTo(0.135, 15);
    expect(bins[2]).toEqual({ lower: 0.5, upper: 0.6, count: 1, meanPredicted: 0.55, observedRate: 0 });
    // 1.0 belongs to the last bin, not an eleventh.
    expect(bins[3]).toMatchObject({ lower: 0.9, upper: 1, count: 2, observedRate: 1 });
    expect(bins[3]?.meanPredicted).toBeCloseTo(0.975, 15);
    expect(calibrationBins([0.2, 0.7], [0, 1], 2).map((b) => b.count)).toEqual([1, 1]);
    expect(calibrationBins([], [])).toEqual([]);
  });
});

describe('evaluate', () => {
  it('bundles AUC, Brier score, log loss and ten-bin calibration', () => {
    const probabilities = [0.9, 0.2, 0.6, 0.5];
    const labels: (0 | 1)[] = [1, 0, 1, 0];
    const result = evaluate(probabilities, labels);
    expect(result.auc).toBe(1);
    expect(result.brier).toBeCloseTo(0.115, 15);
    expect(result.logLoss).toBeCloseTo(logLoss(probabilities, labels), 15);
    expect(result.calibration.map((b) => b.lower)).toEqual([0.2, 0.5, 0.6, 0.9]);
  });
});
