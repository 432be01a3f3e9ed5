import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createDomainKey,
  type DkimAlgorithm,
  dkimDnsRecord,
  dkimPublicKeyValue,
  signMessage,
} from './dkim.js';
import { createDkimSigningPool, SigningUnavailableError } from './dkim-pool.js';

function keyFor(algorithm: DkimAlgorithm, domain: string) {
  const { privateKey } =
    algorithm === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519');
  return createDomainKey({
    domain,
    selector: 'herald',
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
}

function messageFor(domain: string, n: number): Buffer {
  return Buffer.from(
    `From: news@${domain}\r\nTo: r${n}@example.org\r\nSubject: Number ${n}\r\nDate: Mon, 01 Jan 2030 00:00:00 +0000\r\nMessage-ID: <${n}@${domain}>\r\n\r\nBody ${n}\r\n`,
  );
}

const pool = createDkimSigningPool({ threads: 2 });
afterAll(() => pool.close());

describe('DKIM signing pool', () => {
  it('signs on worker threads exactly as inline signing does, many at once, with several keys', async () => {
    const keys = [keyFor('rsa', 'a.example.com'), keyFor('ed25519', 'b.example.com')];
    const signedAt = new Date('2030-01-01T00:00:00Z');
    const jobs = Array.from({ length: 60 }, (_, n) => {
      const key = keys[n % 2] as (typeof keys)[number];
      return { key, raw: messageFor(key.domain, n) };
    });
    const pooled = await Promise.all(jobs.map((j) => pool.sign(j.raw, j.key, { signedAt })));
    // RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic, so each must equal its inline twin.
    pooled.forEach((signed, n) => {
      const job = jobs[n] as (typeof jobs)[number];
      expect(signed.equals(signMessage(job.raw, job.key, { signedAt }))).toBe(true);
    });

    const records = new Map(
      keys.map((k) => {
        const r = dkimDnsRecord('herald', k.domain, k.algorithm, dkimPublicKeyValue(k.privateKey));
        return [r.name, r.value];
      }),
    );
    const resolver = async (name: string, type: string) => {
      const value = records.get(name);
      if (type === 'TXT' && value) return [[value]];
      throw Object.assign(new Error(`no record for ${name}`), { code: 'ENOTFOUND' });
    };
    const verdict = await dkimVerify(pooled[1] as Buffer, { resolver });
    expect(verdict.results[0]?.status.result).toBe('pass');
  });

  it('signs inline when configured with no threads, and after closing', async () => {
    const key = keyFor('rsa', 'c.example.com');
    const inline = createDkimSigningPool({ threads: 0 });
    const raw = messageFor('c.example.com', 1);
    expect((await inline.sign(raw, key)).equals(signMessage(raw, key))).toBe(true);
    const closing = createDkimSigningPool({ threads: 1 });
    await closing.sign(raw, key);
    await closing.close();
    expect((await closing.sign(raw, key)).equals(signMessage(raw, key))).toBe(true);
  });

  it('rejects with a retriable error when a signing thread cannot sign, and keeps signing afterwards', async () => {
    const good = keyFor('rsa', 'd.example.com');
    // An Ed25519 key presented as RSA: the thread's crypto.sign refuses it.
    const broken = { ...keyFor('ed25519', 'e.example.com'), algorithm: 'rsa' as const };
    const failure = await pool.sign(messageFor('e.example.com', 1), broken).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SigningUnavailableError);
    const raw = messageFor('d.example.com', 2);
    expect((await pool.sign(raw, good)).equals(signMessage(raw, good))).toBe(true);

    // Requested in one turn, so they travel to the thread in one batch: only the bad one fails.
    const together = await Promise.allSettled([
      pool.sign(messageFor('d.example.com', 3), good),
      pool.sign(messageFor('e.example.com', 4), broken),
      pool.sign(messageFor('d.example.com', 5), good),
    ]);
    expect(together.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const third = together[2] as PromiseFulfilledResult<Buffer>;
    expect(third.value.equals(signMessage(messageFor('d.example.com', 5), good))).toBe(true);
  });
});
