import { randomInt } from 'node:crypto';

/** Slots of the table; it is cleared once half of them hold a token. */
const SLOTS = 1 << 19;
const MAX_TOKENS = SLOTS / 2;
/** Characters of the token that are hashed: its last ones, the signature's random bits. */
const HASHED_CHARACTERS = 16;

export interface TokenLimiter {
  /** Counts a request for the token; false once it is over `max` in this minute. */
  allow(kind: 'o' | 'c', token: string): boolean;
}

/**
 * At most `max` requests per token and minute, in this process, counted in
 * a fixed-size hash table of typed arrays rather than a Map of tokens: a big
 * campaign's opens are mostly distinct tokens, and a Map entry per token
 * left a key string and an entry per request for the garbage collector to
 * follow, about a tenth of what a pixel request costs. Here a request
 * allocates nothing and the table holds 5 MB whatever the traffic.
 *
 * A token is known by two 32-bit hashes of its last characters (its
 * signature), seeded at random in each process, so two tokens share a count
 * only if both hashes agree (about one chance in 10^9 within a minute of
 * 250,000 tokens) and no one can pick tokens that do. The table is cleared
 * each minute, or sooner once it holds 262,144 tokens, which bounds memory
 * at the cost of a fresh budget for a replayed token under very heavy
 * traffic.
 */
export function createTokenLimiter(max: number, now: () => number = Date.now): TokenLimiter {
  const first = new Uint32Array(SLOTS);
  const second = new Uint32Array(SLOTS);
  // 0: an empty slot. Counts stop at the first one over the limit.
  const counts = new Uint16Array(SLOTS);
  const ceiling = Math.min(max + 1, 0xffff);
  const seeds = [randomInt(2 ** 31), randomInt(2 ** 31)] as const;
  let tokens = 0;
  let windowStart = now();

  /** FNV-1a over the token's last characters, from a seed that also carries the kind. */
  const hash = (seed: number, token: string) => {
    let h = seed;
    for (let i = Math.max(0, token.length - HASHED_CHARACTERS); i < token.length; i++)
      h = Math.imul(h ^ token.charCodeAt(i), 16777619);
    return h >>> 0;
  };

  return {
    allow(kind, token) {
      const at = now();
      if (at - windowStart >= 60_000 || tokens >= MAX_TOKENS) {
        windowStart = at;
        counts.fill(0);
        tokens = 0;
      }
      const code = kind === 'o' ? 0x6f : 0x63;
      const a = hash(seeds[0] ^ code, token);
      const b = hash(seeds[1] ^ code, token);
      // Open addressing with linear probing; at most half full, so a probe ends within a few slots.
      for (let slot = a & (SLOTS - 1); ; slot = (slot + 1) & (SLOTS - 1)) {
        const count = counts[slot] as number;
        if (count === 0) {
          first[slot] = a;
          second[slot] = b;
          counts[slot] = 1;
          tokens++;
          return 1 <= max;
        }
        if (first[slot] === a && second[slot] === b) {
          if (count < ceiling) counts[slot] = count + 1;
          return count + 1 <= max;
        }
      }
    },
  };
}
