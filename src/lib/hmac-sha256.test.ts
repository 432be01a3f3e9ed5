import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacSha256Key } from './hmac-sha256.js';

const reference = (key: Uint8Array, data: Uint8Array) => createHmac('sha256', key).update(data).digest();

describe('hmacSha256Key', () => {
  it('matches node:crypto on the RFC 4231 test case 2', () => {
    const key = Buffer.from('Jefe');
    const digest = hmacSha256Key(key).digest(Buffer.from('what do ya want for nothing?'));
    expect(digest.toString('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('matches node:crypto at every length around the block boundaries', () => {
    const key = Buffer.alloc(32, 7);
    const hmac = hmacSha256Key(key);
    for (let length = 0; length <= 300; length++) {
      const data = Buffer.alloc(length, length & 0xff);
      expect(hmac.digest(data).equals(reference(key, data)), `length ${length}`).toBe(true);
    }
  });

  it('matches node:crypto for random keys and messages, one key reused for many messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 100 }),
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 400 }), { minLength: 1, maxLength: 5 }),
        (key, messages) => {
          const hmac = hmacSha256Key(key);
          for (const data of messages) expect(hmac.digest(data).equals(reference(key, data))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('returns a fresh buffer each time, so a caller keeping a digest is not overwritten by the next one', () => {
    const hmac = hmacSha256Key(Buffer.alloc(32, 1));
    const first = hmac.digest(Buffer.from('one'));
    const copy = Buffer.from(first);
    hmac.digest(Buffer.from('two'));
    expect(first.equals(copy)).toBe(true);
  });
});
