import { describe, expect, it } from 'vitest';
import {
  decryptSecret,
  encryptSecret,
  generateSecretKey,
  parseSecretKeys,
  sign,
  verifySignature,
} from './secret-keys.js';

describe('secret keys', () => {
  const oldKey = generateSecretKey();
  const newKey = generateSecretKey();

  it('encrypts so that only the same context decrypts, and not in clear text', () => {
    const ring = parseSecretKeys(newKey);
    const stored = encryptSecret(ring, 'smtp-password', 'transports:1');
    expect(stored).not.toContain('smtp-password');
    expect(decryptSecret(ring, stored, 'transports:1')).toBe('smtp-password');
    expect(() => decryptSecret(ring, stored, 'transports:2')).toThrow(/failed authentication/);
    // One bit of the ciphertext flipped (rewriting its last characters could spell the same bytes).
    const parts = stored.split('.');
    const body = Buffer.from(parts[4] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    const tampered = [...parts.slice(0, 4), body.toString('base64url')].join('.');
    expect(() => decryptSecret(ring, tampered, 'transports:1')).toThrow();
  });

  it('rotates: secrets and signatures made with an old key still work after a new key is prepended', () => {
    const before = parseSecretKeys(oldKey);
    const stored = encryptSecret(before, 'dkim-key');
    const signature = sign(before, 'token', 'payload');
    const after = parseSecretKeys(`${newKey},${oldKey}`);
    expect(decryptSecret(after, stored)).toBe('dkim-key');
    expect(verifySignature(after, 'token', 'payload', before.current.id, signature)).toBe(true);
    expect(verifySignature(after, 'token', 'payload!', before.current.id, signature)).toBe(false);
    expect(verifySignature(after, 'other-purpose', 'payload', before.current.id, signature)).toBe(false);
    const dropped = parseSecretKeys(newKey);
    expect(() => decryptSecret(dropped, stored)).toThrow(/not in HERALD_SECRET_KEYS/);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => parseSecretKeys('c2hvcnQ=')).toThrow(/32 random bytes/);
    expect(() => parseSecretKeys(' , ')).toThrow(/no key/);
  });
});
