import { describe, expect, it } from 'vitest';
import { createRandom } from '../../lib/statistics/index.js';
import { type DecisionInput, decide, type VariantFigures } from './experiment-decision.js';
import { checkAbTest } from './experiment-settings.js';

function variants(...counts: [number, number][]): VariantFigures[] {
  return counts.map(([successes, trials], position) => ({
    position,
    name: String.fromCharCode(65 + position),
    trials,
    successes,
  }));
}

const base: Omit<DecisionInput, 'variants'> = {
  metric: 'human_unique_opens',
  method: 'frequentist',
  confidence: 0.95,
  whenInconclusive: 'send_leader',
  seed: 'test',
};

describe('choosing an A/B winner', () => {
  it('declares the leader when it beats the other significantly', () => {
    // 20.0% against 26.0% of 1,000 each, with Yates' correction (R: prop.test(c(200, 260),
    // c(1000, 1000)) gives X-squared = 9.83): z = (0.06 - 0.001) / 0.01882 = 3.135, p = 0.0017.
    const decision = decide({ ...base, variants: variants([200, 1000], [260, 1000]) });
    expect(decision).toMatchObject({ outcome: 'winner', winner: 1, chosen_by: 'test', leader: 1 });
    expect(decision.variants[0]?.p_value).toBeCloseTo(0.0017, 4);
    expect(decision.variants[0]?.adjusted_p_value).toBeCloseTo(0.0017, 4);
    expect(decision.variants[1]?.p_value).toBeNull();
    expect(decision.variants[1]?.value).toBeCloseTo(0.26, 10);
    expect(decision.variants[1]?.interval.lower).toBeLessThan(0.26);
    expect(decision.variants[1]?.probability_to_be_best).toBeGreaterThan(0.99);
    expect(decision.reason).toMatch(/^B wins on human open rate \(A 20\.0%, B 26\.0%\)/);
  });

  it('declares the control when the challenger is significantly worse', () => {
    const decision = decide({ ...base, variants: variants([300, 1000], [200, 1000]) });
    expect(decision).toMatchObject({ outcome: 'winner', winner: 0, chosen_by: 'test' });
  });

  it('applies the policy when nothing is significant', () => {
    const figures = variants([200, 1000], [210, 1000]);
    expect(decide({ ...base, variants: figures })).toMatchObject({
      outcome: 'inconclusive',
      winner: 1,
      chosen_by: 'policy',
      leader: 1,
    });
    expect(decide({ ...base, whenInconclusive: 'send_control', variants: figures })).toMatchObject({
      outcome: 'inconclusive',
      winner: 0,
      chosen_by: 'policy',
    });
    const waiting = decide({ ...base, whenInconclusive: 'wait', variants: figures });
    expect(waiting).toMatchObject({ outcome: 'inconclusive', winner: null, chosen_by: null });
    expect(waiting.reason).toContain('waits for a person');
  });

  it('requires the leader to beat every other variant, corrected for the comparisons', () => {
    // B beats A clearly but not C: no winner.
    const close = decide({ ...base, variants: variants([200, 1000], [260, 1000], [255, 1000]) });
    expect(close.outcome).toBe('inconclusive');
    expect(close.leader).toBe(1);
    // Holm compares the smallest p at alpha/2 and the largest at alpha: both comparisons pass here...
    const apart = decide({ ...base, variants: variants([200, 1000], [260, 1000], [220, 1000]) });
    expect(apart.outcome).toBe('winner');
    expect(apart.variants[0]?.adjusted_p_value).toBeCloseTo(2 * (apart.variants[0]?.p_value as number), 10);
    // ...and a p-value between alpha/2 and alpha passes when it is the largest (Bonferroni would refuse it).
    const marginal = decide({ ...base, variants: variants([200, 1000], [240, 1000], [100, 1000]) });
    expect(marginal.variants[0]?.p_value).toBeLessThan(0.05);
    expect(marginal.variants[0]?.p_value).toBeGreaterThan(0.025);
    expect(marginal.outcome).toBe('winner');
  });

  it('decides by probability to beat all in the Bayesian method', () => {
    const clear = decide({
      ...base,
      method: 'bayesian',
      confidence: 0.975,
      variants: variants([200, 1000], [260, 1000]),
    });
    expect(clear).toMatchObject({ outcome: 'winner', winner: 1, method: 'bayesian' });
    expect(clear.reason).toContain('probability to beat all others');
    const unclear = decide({
      ...base,
      method: 'bayesian',
      confidence: 0.975,
      variants: variants([200, 1000], [215, 1000]),
    });
    // P(B > A) with Beta(216, 786) against Beta(201, 801) is about 0.80.
    expect(unclear.variants[1]?.probability_to_be_best).toBeGreaterThan(0.75);
    expect(unclear.variants[1]?.probability_to_be_best).toBeLessThan(0.85);
    expect(unclear.outcome).toBe('inconclusive');
  });

  it('judges click-to-open among openers and revenue per recipient by its mean', () => {
    const cto = decide({ ...base, metric: 'click_to_open', variants: variants([50, 100], [20, 100]) });
    expect(cto).toMatchObject({ outcome: 'winner', winner: 0 });
    expect(cto.reason).toContain('click-to-open rate');

    // 1,000 recipients each; 50 buyers of 40.00 in A, 80 buyers of 40.00 in B.
    const revenue = (buyers: number) => ({ sum: buyers * 40, sumOfSquares: buyers * 1600 });
    const money = decide({
      ...base,
      metric: 'revenue_per_recipient',
      variants: [
        { position: 0, name: 'A', trials: 1000, successes: 50, revenue: revenue(50) },
        { position: 1, name: 'B', trials: 1000, successes: 80, revenue: revenue(80) },
      ],
    });
    expect(money).toMatchObject({ outcome: 'winner', winner: 1 });
    expect(money.variants[1]?.value).toBeCloseTo(3.2, 10);
    expect(money.reason).toContain('B 3.20');
  });

  it('has nothing to decide without recipients, and answers the same twice', () => {
    const empty = decide({ ...base, variants: variants([0, 0], [0, 0]) });
    expect(empty).toMatchObject({ outcome: 'inconclusive', leader: 0, winner: 0 });
    const input = {
      ...base,
      method: 'bayesian' as const,
      variants: variants([30, 100], [36, 100], [33, 100]),
    };
    expect(decide(input)).toEqual(decide(input));
  });

  it('declares a false winner in at most about 5% of tests when all variants are equal', () => {
    const random = createRandom('a/a');
    const binomial = (n: number, p: number) => {
      let x = 0;
      for (let i = 0; i < n; i++) if (random.next() < p) x++;
      return x;
    };
    for (const method of ['frequentist', 'bayesian'] as const) {
      for (const k of [2, 4]) {
        let winners = 0;
        const runs = 400;
        for (let run = 0; run < runs; run++) {
          const figures = variants(
            ...Array.from({ length: k }, (): [number, number] => [binomial(500, 0.2), 500]),
          );
          const decision = decide({
            ...base,
            method,
            confidence: method === 'bayesian' ? 0.975 : 0.95,
            seed: `run-${run}`,
            draws: 2000,
            variants: figures,
          });
          if (decision.outcome === 'winner') winners++;
        }
        // 5% of 400 is 20; three standard errors above it is about 33.
        expect(winners, `${method}, ${k} variants`).toBeLessThanOrEqual(33);
      }
    }
  });
});

describe('A/B settings', () => {
  it('fills defaults and names variants A, B, C', () => {
    const checked = checkAbTest({ variants: [{}, { subject: 'Two' }, { from_name: 'Three' }] });
    expect(checked).toEqual({
      settings: {
        test_share: 0.2,
        metric: 'human_unique_opens',
        method: 'frequentist',
        confidence: 0.95,
        window_minutes: 240,
        when_inconclusive: 'send_leader',
        revenue_currency: null,
        variants: [
          expect.objectContaining({ position: 0, name: 'A', subject: null }),
          expect.objectContaining({ position: 1, name: 'B', subject: 'Two' }),
          expect.objectContaining({ position: 2, name: 'C', from_name: 'Three' }),
        ],
      },
    });
    const bayes = checkAbTest({ variants: [{}, { subject: 'x' }], method: 'bayesian' });
    expect('settings' in bayes && bayes.settings.confidence).toBe(0.975);
  });

  it('reports every problem with its path', () => {
    const checked = checkAbTest(
      {
        variants: [{ name: 'Same' }, { name: 'same', subject: 'x' }, { subject: 'y', send_delay_minutes: 5 }],
        metric: 'revenue_per_recipient',
      },
      { sendTimeOptimization: true },
    );
    expect('errors' in checked && checked.errors.map((e) => e.path)).toEqual([
      '/ab_test/variants/1/name',
      '/ab_test/variants/2/send_delay_minutes',
      '/ab_test/revenue_currency',
    ]);
    const nine = checkAbTest({ variants: Array.from({ length: 9 }, (_, i) => ({ subject: `s${i}` })) });
    expect('errors' in nine && nine.errors[0]?.message).toContain('2 to 8 variants (got 9)');
  });
});
