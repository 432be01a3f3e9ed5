/**
 * A seeded pseudo-random generator, so every simulation, Monte Carlo estimate and
 * bandit decision can be replayed from its seed (Math.random cannot be seeded).
 */

/** A seeded source of random numbers. Not cryptographically secure. */
export interface Random {
  /** Uniform on [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform integer in 0 .. n-1; n must be a positive safe integer. */
  int(n: number): number;
  /** Standard normal N(0, 1) (Marsaglia polar method). */
  normal(): number;
  /** Gamma(shape, scale 1) (Marsaglia-Tsang 2000, with the U^(1/shape) boost for shape < 1). */
  gamma(shape: number): number;
  /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
}

/**
 * A generator seeded by a number or a string: the seed's text is hashed with cyrb128
 * (bryc, public domain) into the 128-bit state of sfc32 (Chris Doty-Humphrey's Small
 * Fast Counter, PractRand-tested). A number seeds exactly like its decimal string, so
 * `createRandom(42)` and `createRandom('42')` give the same sequence.
 */
export function createRandom(seed: number | string): Random {
  if (typeof seed === 'number' && !Number.isFinite(seed)) {
    throw new RangeError(`seed must be a finite number or a string, got ${seed}`);
  }
  const next32 = sfc32(cyrb128(String(seed)));
  // The first outputs of sfc32 still correlate with the hash words; 12 rounds mix them.
  for (let i = 0; i < 12; i++) next32();

  const next = (): number => {
    // 27 + 26 bits: doubles on a 2^-53 grid, so the normal tails are not cut at 2^-32.
    const high = next32() >>> 5;
    const low = next32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };

  let spareNormal: number | undefined;
  const normal = (): number => {
    if (spareNormal !== undefined) {
      const value = spareNormal;
      spareNormal = undefined;
      return value;
    }
    for (;;) {
      const u = 2 * next() - 1;
      const v = 2 * next() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const factor = Math.sqrt((-2 * Math.log(s)) / s);
        spareNormal = v * factor;
        return u * factor;
      }
    }
  };

  // Marsaglia & Tsang, "A simple method for generating gamma variables", ACM TOMS 26(3), 2000.
  const gammaAtLeastOne = (shape: number): number => {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - next(); // (0, 1]: its log is finite
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  };

  // log of a Gamma(shape) draw. For shape < 1 the draw is Gamma(shape + 1) * U^(1/shape),
  // which underflows to 0 for small shapes; its log does not.
  const logGammaDraw = (shape: number): number => {
    if (shape >= 1) return Math.log(gammaAtLeastOne(shape));
    return Math.log(gammaAtLeastOne(shape + 1)) + Math.log(1 - next()) / shape;
  };

  const gamma = (shape: number): number => {
    requireShape('shape', shape);
    return shape >= 1 ? gammaAtLeastOne(shape) : Math.exp(logGammaDraw(shape));
  };

  const beta = (a: number, b: number): number => {
    requireShape('a', a);
    requireShape('b', b);
    if (a >= 1 && b >= 1) {
      const x = gammaAtLeastOne(a);
      return x / (x + gammaAtLeastOne(b));
    }
    // X / (X + Y) = 1 / (1 + exp(log Y - log X)) stays finite when both draws underflow.
    return 1 / (1 + Math.exp(logGammaDraw(b) - logGammaDraw(a)));
  };

  const int = (n: number): number => {
    if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`n must be a positive integer, got ${n}`);
    // floor(next() * n) is biased by at most n / 2^53: negligible for any array length.
    return Math.floor(next() * n);
  };

  const shuffle = <T>(items: T[]): T[] => {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  };

  return { next, int, normal, gamma, beta, shuffle };
}

function requireShape(name: string, shape: number): void {
  if (!(shape > 0 && Number.isFinite(shape))) {
    throw new RangeError(`${name} must be a finite number greater than 0, got ${shape}`);
  }
}

/** sfc32: 32-bit Small Fast Counter generator; the counter `d` guarantees a period >= 2^32. */
function sfc32([seedA, seedB, seedC, seedD]: [number, number, number, number]): () => number {
  let a = seedA;
  let b = seedB;
  let c = seedC;
  let d = seedD;
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
}

/** cyrb128: a 128-bit non-cryptographic string hash (four multiply-xor lanes). */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
