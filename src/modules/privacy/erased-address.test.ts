import { describe, expect, it } from 'vitest';
import { generateSecretKey, parseSecretKeys } from '../../lib/secret-keys.js';
import { currentErasedKey, erasedKeysFor } from './erased-address.js';

const WS = '0190a000-0000-7000-8000-000000000001';
const OTHER_WS = '0190a000-0000-7000-8000-000000000002';

describe('erased address keys', () => {
  const oldKey = generateSecretKey();
  const keyring = parseSecretKeys(oldKey);

  it('is an HMAC that does not contain or reveal the address, stable per workspace and address', () => {
    const key = currentErasedKey(keyring, WS, 'ann@example.com');
    expect(key).toMatch(/^erased:[0-9a-f]{64}$/);
    expect(key).not.toContain('ann');
    expect(currentErasedKey(keyring, WS, 'ann@example.com')).toBe(key);
    expect(currentErasedKey(keyring, WS, 'bob@example.com')).not.toBe(key);
    expect(currentErasedKey(keyring, OTHER_WS, 'ann@example.com')).not.toBe(key);
    expect(currentErasedKey(parseSecretKeys(generateSecretKey()), WS, 'ann@example.com')).not.toBe(key);
  });

  it('still matches an entry written before a key rotation while the old key stays in the keyring', () => {
    const before = currentErasedKey(keyring, WS, 'ann@example.com');
    const rotated = parseSecretKeys(`${generateSecretKey()},${oldKey}`);
    const keys = erasedKeysFor(rotated, WS, 'ann@example.com');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(currentErasedKey(rotated, WS, 'ann@example.com'));
    expect(keys[0]).not.toBe(before);
    expect(keys).toContain(before);
  });
});
