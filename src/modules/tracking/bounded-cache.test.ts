import { describe, expect, it } from 'vitest';
import { createBoundedCache } from './bounded-cache.js';

describe('createBoundedCache', () => {
  it('keeps what is used in each generation and drops what is not, holding at most two generations', () => {
    const cache = createBoundedCache<number, string>(3);
    cache.set(1, 'one');
    cache.set(2, 'two');
    cache.set(3, 'three'); // the first generation is full: it becomes the old one
    cache.set(4, 'four');
    expect(cache.get(1)).toBe('one'); // found in the old generation, moved to the young one
    cache.set(5, 'five'); // full again: 2 and 3, not used since, are dropped
    expect([1, 2, 3, 4, 5].map((key) => cache.get(key))).toEqual([
      'one',
      undefined,
      undefined,
      'four',
      'five',
    ]);
  });

  it('bounds its size however many keys pass through', () => {
    const cache = createBoundedCache<number, number>(100);
    for (let i = 0; i < 100_000; i++) cache.set(i, i);
    const kept = Array.from({ length: 100_000 }, (_, i) => cache.get(i)).filter((v) => v !== undefined);
    expect(kept.length).toBeLessThanOrEqual(200);
    expect(cache.get(99_999)).toBe(99_999);
  });

  it('deletes from either generation', () => {
    const cache = createBoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.delete('a');
    cache.delete('c');
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 2, undefined]);
  });
});
