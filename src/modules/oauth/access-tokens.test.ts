import { describe, expect, it } from 'vitest';
import { generateSecretKey, parseSecretKeys } from '../../lib/secret-keys.js';
import { type AccessTokenClaims, looksLikeJwt, signAccessToken, verifyAccessToken } from './access-tokens.js';

const keyring = parseSecretKeys(generateSecretKey());
const at = new Date('2026-12-07T10:00:00Z');
const iat = at.getTime() / 1000;
const claims: AccessTokenClaims = {
  iss: 'https://herald.example',
  aud: 'herald-api',
  sub: 'hc_client',
  client: '0193e2a4-0000-7000-8000-000000000001',
  workspace: '0193e2a4-0000-7000-8000-000000000002',
  scope: 'contacts:read',
  jti: 'j1',
  iat,
  exp: iat + 900,
};

describe('access tokens', () => {
  it('verifies what it signed until it expires', () => {
    const token = signAccessToken(keyring, claims);
    expect(looksLikeJwt(token)).toBe(true);
    expect(verifyAccessToken(keyring, token, at, claims.iss)).toEqual(claims);
    expect(verifyAccessToken(keyring, token, new Date(at.getTime() + 899_000), claims.iss)).toEqual(claims);
    expect(verifyAccessToken(keyring, token, new Date(at.getTime() + 900_000), claims.iss)).toBeUndefined();
  });

  it('refuses another issuer, another keyring, and a rotated-out key, but keeps older keys of the ring', () => {
    const token = signAccessToken(keyring, claims);
    expect(verifyAccessToken(keyring, token, at, 'https://other.example')).toBeUndefined();
    const other = parseSecretKeys(generateSecretKey());
    expect(verifyAccessToken(other, token, at, claims.iss)).toBeUndefined();
    const rotated = parseSecretKeys(`${generateSecretKey()},${keyring.current.key.toString('base64')}`);
    expect(verifyAccessToken(rotated, token, at, claims.iss)).toEqual(claims);
  });

  it('never throws on hostile input', () => {
    for (const junk of [
      '',
      'a.b.c',
      'hk_abc',
      '...',
      `${'a'.repeat(5000)}.b.c`,
      'e30.e30.',
      'bnVsbA.bnVsbA.AAAA',
    ]) {
      expect(verifyAccessToken(keyring, junk, at, claims.iss)).toBeUndefined();
    }
  });
});
