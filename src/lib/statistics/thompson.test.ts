import { describe, expect, it } from 'vitest';
import { betaPosterior, probabilityBBeatsA } from './bayes.js';
import { createRandom, type Random } from './random.js';
import { thompsonChoose } from './thompson.js';

describe('thompsonChoose', () => {
  it('picks each arm with its probability of being best', () => {
    // Thompson sampling chooses arm B exactly as often as P(pB > pA) in expectation.
    const a = betaPosterior(20, 400);
    const b = betaPosterior(26, 400);
    const random = createRandom('thompson');
    const rounds = 20_000;
    let chosenB = 0;
    for (let i = 0; i < rounds; i++) chosenB += thompsonChoose([a, b], random);
    const exact = probabilityBBeatsA(a, b);
    expect(Math.abs(chosenB / rounds - exact)).toBeLessThan(4 * Math.sqrt((exact * (1 - exact)) / rounds));
  });

  it('always picks an overwhelmingly better arm', () => {
    const random = createRandom(5);
    const arms = [betaPosterior(10, 1000), betaPosterior(900, 1000), betaPosterior(11, 1000)];
    for (let i = 0; i < 200; i++) expect(thompsonChoose(arms, random)).toBe(1);
  });

  it('breaks a tie toward the lowest index', () => {
    const constant: Random = {
      ...createRandom(1),
      beta: () => 0.5,
    };
    expect(thompsonChoose([betaPosterior(1, 2), betaPosterior(1, 2), betaPosterior(1, 2)], constant)).toBe(0);
  });

  it('needs at least one valid arm', () => {
    expect(() => thompsonChoose([], createRandom(1))).toThrow(RangeError);
    expect(() => thompsonChoose([{ alpha: 1, beta: Number.NaN }], createRandom(1))).toThrow(/arms\[0\]/);
  });
});
