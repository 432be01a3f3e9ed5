import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, otpauthUri, totpCode, totpStep, verifyTotp } from './totp.js';

// RFC 6238 appendix B: seeds are the ASCII digits 1234567890 repeated to the hash's key length.
const SEED_SHA1 = Buffer.from('12345678901234567890');
const SEED_SHA256 = Buffer.from('12345678901234567890123456789012');
const SEED_SHA512 = Buffer.from('1234567890123456789012345678901234567890123456789012345678901234');

const VECTORS: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

describe('TOTP (RFC 6238)', () => {
  it.each(VECTORS)('matches the RFC test vectors at T=%i', (seconds, sha1, sha256, sha512) => {
    const step = totpStep(new Date(seconds * 1000));
    expect(totpCode(SEED_SHA1, step, { digits: 8 })).toBe(sha1);
    expect(totpCode(SEED_SHA256, step, { digits: 8, algorithm: 'sha256' })).toBe(sha256);
    expect(totpCode(SEED_SHA512, step, { digits: 8, algorithm: 'sha512' })).toBe(sha512);
  });

  it('gives 6-digit codes by default (the last six digits of the 8-digit vector)', () => {
    expect(totpCode(SEED_SHA1, totpStep(new Date(59_000)))).toBe('287082');
  });

  it('round-trips base32 (RFC 4648 test vectors)', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI======').toString()).toBe('foobar');
    expect(base32Decode(base32Encode(SEED_SHA1)).equals(SEED_SHA1)).toBe(true);
  });

  it('accepts the step before and after now, and nothing further', () => {
    const secret = base32Encode(SEED_SHA1);
    const at = new Date(1111111111 * 1000);
    const now = totpStep(at);
    for (const delta of [-1, 0, 1])
      expect(verifyTotp(secret, totpCode(SEED_SHA1, now + delta), at)).toBe(now + delta);
    for (const delta of [-2, 2])
      expect(verifyTotp(secret, totpCode(SEED_SHA1, now + delta), at)).toBe(undefined);
  });

  it('refuses a code of a step already used, and malformed codes', () => {
    const secret = base32Encode(SEED_SHA1);
    const at = new Date(1234567890 * 1000);
    const now = totpStep(at);
    const code = totpCode(SEED_SHA1, now);
    expect(verifyTotp(secret, code, at, now)).toBe(undefined);
    expect(verifyTotp(secret, totpCode(SEED_SHA1, now - 1), at, now - 1)).toBe(undefined);
    expect(verifyTotp(secret, code, at, now - 1)).toBe(now);
    expect(verifyTotp(secret, '12345', at)).toBe(undefined);
    expect(verifyTotp(secret, 'abcdef', at)).toBe(undefined);
  });

  it('builds an otpauth URI with issuer and account', () => {
    const uri = otpauthUri('JBSWY3DPEHPK3PXP', 'ada@example.com', 'Herald');
    expect(uri).toBe(
      'otpauth://totp/Herald:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Herald&algorithm=SHA1&digits=6&period=30',
    );
  });
});
