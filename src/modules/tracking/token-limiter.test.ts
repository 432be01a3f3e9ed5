import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenLimiter } from './token-limiter.js';

const token = () => randomBytes(40).toString('base64url');

describe('createTokenLimiter', () => {
  it('allows max requests per token and kind in a minute, then refuses, and starts again the next minute', () => {
    let now = 1_000_000;
    const limiter = createTokenLimiter(3, () => now);
    const replayed = token();
    expect([1, 2, 3, 4, 5].map(() => limiter.allow('c', replayed))).toEqual([true, true, true, false, false]);
    // The same token as a pixel, and other tokens, have budgets of their own.
    expect(limiter.allow('o', replayed)).toBe(true);
    expect(limiter.allow('c', token())).toBe(true);
    now += 59_999;
    expect(limiter.allow('c', replayed)).toBe(false);
    now += 1;
    expect(limiter.allow('c', replayed)).toBe(true);
  });

  it('counts each of a big campaign’s distinct tokens on its own', () => {
    const limiter = createTokenLimiter(2, () => 0);
    const tokens = Array.from({ length: 200_000 }, token);
    // Every token twice, interleaved: none shares a count with another, so none is refused.
    const refused = [...tokens, ...tokens].filter((t) => !limiter.allow('o', t)).length;
    expect(refused).toBe(0);
    expect(tokens.slice(0, 1000).filter((t) => limiter.allow('o', t))).toEqual([]);
  });

  it('starts afresh once it holds 262,144 tokens, bounding its memory', () => {
    const limiter = createTokenLimiter(1, () => 0);
    const first = token();
    expect(limiter.allow('o', first)).toBe(true);
    expect(limiter.allow('o', first)).toBe(false);
    for (let i = 0; i < 262_143; i++) limiter.allow('o', token());
    // The table is full: the next request clears it, so the replayed token has a budget again.
    expect(limiter.allow('o', first)).toBe(true);
  });
});
