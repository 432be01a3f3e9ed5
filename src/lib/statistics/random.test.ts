import { describe, expect, it } from 'vitest';
import { betaCdf } from './distributions.js';
import { createRandom } from './random.js';

const take = (seed: number | string, count: number) => {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => random.next());
};

describe('createRandom', () => {
  it('replays the same sequence for the same seed, and a number seeds like its decimal string', () => {
    expect(take('campaign-42', 50)).toEqual(take('campaign-42', 50));
    expect(take(42, 50)).toEqual(take('42', 50));
  });

  it("produces the published algorithms' output, so stored seeds replay after any refactoring", () => {
    // Known answers from an independent Python transcription of cyrb128 (bryc) and sfc32
    // (PractRand), 12 outputs discarded, two 32-bit outputs per 53-bit double.
    expect(take(42, 3)).toEqual([0.6115452743355373, 0.6087404677707471, 0.18668818775581808]);
    expect(take('herald', 3)).toEqual([0.4548167874688358, 0.3418112943021113, 0.8460537615190474]);
  });

  it('gives different sequences for different seeds, even adjacent ones', () => {
    const a = take(1, 20);
    const b = take(2, 20);
    const c = take('1 ', 20);
    expect(a.filter((value, i) => value === b[i])).toEqual([]);
    expect(a.filter((value, i) => value === c[i])).toEqual([]);
  });

  it('refuses seeds that are not finite numbers', () => {
    expect(() => createRandom(Number.NaN)).toThrow(RangeError);
    expect(() => createRandom(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('next() is uniform on [0, 1): chi-square over 100 bins stays below the 0.999 quantile', () => {
    // 100 000 draws into 100 equal bins; X² ~ chi-square(99) for a uniform source, and
    // its 0.999 quantile is 148.2 (Abramowitz-Stegun table 26.8 / R qchisq(0.999, 99)).
    const random = createRandom('uniformity');
    const counts = new Array<number>(100).fill(0);
    const draws = 100_000;
    let outside = 0;
    for (let i = 0; i < draws; i++) {
      const u = random.next();
      if (!(u >= 0 && u < 1)) outside++;
      const bin = Math.floor(u * 100);
      counts[bin] = (counts[bin] as number) + 1;
    }
    expect(outside).toBe(0);
    const expected = draws / 100;
    const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(148.2);
    // And not suspiciously perfect (0.001 quantile of chi-square(99) is 61.9).
    expect(chiSquare).toBeGreaterThan(61.9);
  });

  it('int(n) covers 0..n-1 evenly and rejects n that is not a positive integer', () => {
    const random = createRandom(7);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const k = random.int(6);
      counts[k] = (counts[k] as number) + 1;
    }
    // Each count ~ Binomial(60000, 1/6): sd 91, so ±500 is over 5 standard deviations.
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    expect(() => random.int(0)).toThrow(RangeError);
    expect(() => random.int(2.5)).toThrow(RangeError);
  });

  it('normal() has mean 0 and variance 1', () => {
    const random = createRandom('normal');
    const n = 100_000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const z = random.normal();
      sum += z;
      squares += z * z;
    }
    // Standard errors: mean 1/sqrt(n) = 0.0032, variance sqrt(2/n) = 0.0045.
    expect(Math.abs(sum / n)).toBeLessThan(0.015);
    expect(Math.abs(squares / n - 1)).toBeLessThan(0.02);
  });

  it('gamma(shape) has mean and variance equal to shape, for shapes below and above 1', () => {
    const random = createRandom('gamma');
    for (const shape of [0.2, 1, 3.5, 50]) {
      const n = 40_000;
      let sum = 0;
      let squares = 0;
      let negative = 0;
      for (let i = 0; i < n; i++) {
        const g = random.gamma(shape);
        if (g < 0) negative++;
        sum += g;
        squares += g * g;
      }
      const mean = sum / n;
      const variance = squares / n - mean * mean;
      expect(negative).toBe(0);
      // se(mean) = sqrt(shape / n); se(variance) is larger (fourth moment): allow 6 and 10%.
      expect(Math.abs(mean - shape)).toBeLessThan(6 * Math.sqrt(shape / n));
      expect(Math.abs(variance / shape - 1)).toBeLessThan(0.1);
    }
    expect(() => random.gamma(0)).toThrow(RangeError);
  });

  it('beta(a, b) follows the Beta cdf (Kolmogorov-Smirnov), including U-shaped and tiny shapes', () => {
    const random = createRandom('beta');
    for (const [a, b] of [
      [0.3, 0.7],
      [2, 5],
      [200, 800],
    ] as const) {
      const n = 4000;
      const draws = Array.from({ length: n }, () => random.beta(a, b)).sort((x, y) => x - y);
      let d = 0;
      for (const [i, x] of draws.entries()) {
        const f = betaCdf(x, a, b);
        d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
      }
      // Kolmogorov's 0.001 critical value: 1.95 / sqrt(n).
      expect(d).toBeLessThan(1.95 / Math.sqrt(n));
    }
    // Shapes so small that both gamma draws underflow: still a number in [0, 1].
    for (let i = 0; i < 100; i++) {
      const x = random.beta(0.001, 0.001);
      expect(x >= 0 && x <= 1).toBe(true);
    }
  });

  it('shuffle permutes in place, reproducibly, and reaches every order', () => {
    const a = createRandom('shuffle').shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    const b = createRandom('shuffle').shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a).toEqual(b);
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const items = ['x', 'y', 'z'];
    expect(createRandom(3).shuffle(items)).toBe(items);
    const random = createRandom('orders');
    const seen = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const key = random.shuffle([1, 2, 3]).join('');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(seen.size).toBe(6);
    for (const count of seen.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });
});
