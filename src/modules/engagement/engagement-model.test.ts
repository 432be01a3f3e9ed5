import { describe, expect, it } from 'vitest';
import { createRandom } from '../../lib/statistics/index.js';
import { FEATURES } from './engagement-features.js';
import { MINIMUM_TRAINING_DATA, predict, type TrainingRow, trainModel } from './engagement-model.js';

/**
 * Rows with a known truth: each contact has a latent propensity that drives
 * both its past (opens in 90 days, recency) and its label; the recency
 * baseline sees only part of it.
 */
function syntheticRows(n: number, seed: number): TrainingRow[] {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => {
    const propensity = random.next();
    const received = 2 + random.int(8);
    let opens = 0;
    for (let i = 0; i < received; i++) if (random.next() < propensity) opens++;
    const days = opens > 0 ? 1 + random.int(60) : 365;
    const features = new Array<number>(FEATURES.length).fill(0);
    features[0] = Math.log1p(days);
    features[3] = Math.log1p(opens);
    features[7] = Math.log1p(received);
    features[8] = opens / received;
    return {
      features,
      baseline: -days,
      validation: random.next() < 0.2,
      opened: random.next() < propensity,
      clicked: random.next() < propensity / 4,
    };
  });
}

describe('training an engagement model', () => {
  it('refuses too little data and says what is missing', () => {
    const outcome = trainModel(syntheticRows(150, 1), 'open', 14);
    expect(outcome.trained).toBe(false);
    if (outcome.trained) return;
    expect(outcome.reason).toMatch(
      new RegExp(
        `needs ${MINIMUM_TRAINING_DATA.contacts} contacts .* 14 days .* has 150 contacts, \\d+ who opened and \\d+ who did not open`,
      ),
    );
  });

  it('refuses when one outcome is too rare', () => {
    const rows = syntheticRows(400, 2).map((row, i) => ({ ...row, clicked: i < 10 }));
    const outcome = trainModel(rows, 'click', 14);
    expect(outcome.trained).toBe(false);
    if (!outcome.trained) expect(outcome.reason).toContain('10 who clicked');
  });

  it('beats the recency-only baseline on held-out rows when there is signal beyond recency', () => {
    const rows = syntheticRows(3000, 3);
    const outcome = trainModel(rows, 'open', 14);
    expect(outcome.trained).toBe(true);
    if (!outcome.trained) return;
    const m = outcome.model;
    expect(m.features).toEqual([...FEATURES]);
    expect(m.trainingRows + m.validationRows).toBe(3000);
    expect(m.validationRows).toBe(rows.filter((r) => r.validation).length);
    expect(m.validationAuc).toBeGreaterThan(m.baselineAuc);
    expect(m.validationAuc).toBeGreaterThan(0.7);
    expect(m.brier).toBeLessThan(0.25);
    expect(m.calibration.reduce((n, bin) => n + bin.count, 0)).toBe(m.validationRows);
    // Stored coefficients predict what the fit predicted.
    const p = predict(m, rows[0]?.features as number[]);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
  });
});
