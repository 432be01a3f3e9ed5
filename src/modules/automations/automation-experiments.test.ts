import { describe, expect, it } from 'vitest';
import {
  chooseBanditPath,
  inHoldout,
  summarizeBandit,
  unitDraw,
  usesPrior,
} from './automation-experiments.js';

const seeds = (n: number) =>
  Array.from({ length: n }, (_, i) => `0190a000-0000-7000-8000-${String(i).padStart(12, '0')}:split`);

describe('bandit choice', () => {
  it('takes an arm with 90/100 against 10/100 in nearly all of many seeded draws', () => {
    const arms = [
      { trials: 100, successes: 10 },
      { trials: 100, successes: 90 },
    ];
    const picks = seeds(2000).map((seed) => chooseBanditPath([50, 50], arms, seed));
    expect(picks.every((p) => p.chosen_by === 'thompson')).toBe(true);
    // P(Beta(11, 91) > Beta(91, 11)) is far below 1e-9: every draw picks the better arm.
    expect(picks.filter((p) => p.path === 1)).toHaveLength(2000);
  });

  it('follows the prior allocation (the percents) while some path has no outcome', () => {
    const counts = [0, 0, 0];
    for (const seed of seeds(4000)) {
      const choice = chooseBanditPath([20, 30, 50], [{ trials: 40, successes: 30 }, undefined], seed);
      expect(choice.chosen_by).toBe('prior');
      counts[choice.path] = (counts[choice.path] ?? 0) + 1;
    }
    // Binomial standard errors at n = 4,000 are at most 32; 4 of them.
    expect(Math.abs((counts[0] ?? 0) - 800)).toBeLessThan(130);
    expect(Math.abs((counts[1] ?? 0) - 1200)).toBeLessThan(130);
    expect(Math.abs((counts[2] ?? 0) - 2000)).toBeLessThan(130);
    expect(
      usesPrior(2, [
        { trials: 1, successes: 0 },
        { trials: 0, successes: 0 },
      ]),
    ).toBe(true);
    expect(
      usesPrior(2, [
        { trials: 1, successes: 0 },
        { trials: 3, successes: 3 },
      ]),
    ).toBe(false);
  });

  it('gives the same path for the same seed and counts, and spreads close arms', () => {
    const arms = [
      { trials: 50, successes: 20 },
      { trials: 50, successes: 22 },
    ];
    for (const seed of seeds(50))
      expect(chooseBanditPath([50, 50], arms, seed)).toEqual(chooseBanditPath([50, 50], arms, seed));
    const second = seeds(1000).filter((seed) => chooseBanditPath([50, 50], arms, seed).path === 1).length;
    expect(second).toBeGreaterThan(450);
    expect(second).toBeLessThan(850);
  });
});

describe('bandit summary', () => {
  it('gives posterior means, credible intervals, probability to be best and shares', () => {
    const summary = summarizeBandit(
      [50, 50],
      [
        { trials: 10, successes: 0 },
        { trials: 10, successes: 10 },
      ],
      'seed',
    );
    expect(summary.chosen_by).toBe('thompson');
    const [a, b] = summary.arms;
    expect(a?.posterior_mean).toBeCloseTo(1 / 12, 12);
    expect(b?.posterior_mean).toBeCloseTo(11 / 12, 12);
    // Beta(1, 11): the 2.5% quantile is 1 - 0.975^(1/11).
    expect(a?.credible_interval.lower).toBeCloseTo(1 - 0.975 ** (1 / 11), 9);
    expect(b?.probability_to_be_best).toBe(1);
    expect(b?.share_of_new_runs).toBe(1);
    expect(summarizeBandit([50, 50], [], 'seed')).toEqual(summarizeBandit([50, 50], [], 'seed'));
    const prior = summarizeBandit([30, 70], [{ trials: 5, successes: 5 }], 'seed');
    expect(prior.chosen_by).toBe('prior');
    expect(prior.arms.map((arm) => arm.share_of_new_runs)).toEqual([0.3, 0.7]);
  });
});

describe('holdout draw', () => {
  it('matches herald_unit_draw and keeps a contact in one group', () => {
    // SELECT herald_unit_draw('a', 'b', '0190a000-0000-7000-8000-000000000001') on PostgreSQL.
    expect(unitDraw('a', 'b', '0190a000-0000-7000-8000-000000000001')).toBe(0.3602049954699189);
    const automation = '0190a000-0000-7000-8000-0000000000aa';
    const contacts = seeds(4000).map((s) => s.slice(0, 36));
    const held = contacts.filter((c) => inHoldout(automation, c, 0.2));
    expect(Math.abs(held.length - 800)).toBeLessThan(4 * Math.sqrt(4000 * 0.2 * 0.8));
    expect(contacts.filter((c) => inHoldout(automation, c, 0.2))).toEqual(held);
    // A larger share keeps everyone already held out.
    const more = contacts.filter((c) => inHoldout(automation, c, 0.3));
    expect(held.every((c) => more.includes(c))).toBe(true);
    expect(contacts.some((c) => inHoldout(automation, c, 0))).toBe(false);
    expect(contacts.some((c) => inHoldout(automation, c, undefined))).toBe(false);
  });
});
