import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { describe, expect, it } from 'vitest';
import {
  createDomainKey,
  type DkimAlgorithm,
  dkimDnsRecord,
  dkimPublicKeyValue,
  relaxedBody,
  relaxedBodyHash,
  signMessage,
} from './dkim.js';

function keyFor(algorithm: DkimAlgorithm, domain = 'news.example.com') {
  const { privateKey } =
    algorithm === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519');
  const key = createDomainKey({
    domain,
    selector: 'herald',
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  const record = dkimDnsRecord('herald', domain, algorithm, dkimPublicKeyValue(key.privateKey));
  // Answers only the selector's TXT query, so nothing reaches the network.
  const resolver = async (name: string, type: string) => {
    if (type === 'TXT' && name === record.name) return [[record.value]];
    throw Object.assign(new Error(`no record for ${name}`), { code: 'ENOTFOUND' });
  };
  return { key, resolver };
}

const message = Buffer.from(
  [
    'From: "News" <news@news.example.com>',
    'To: reader@example.org',
    'Subject: A   subject with\t whitespace',
    ' folded onto two lines',
    'Date: Mon, 01 Jan 2030 00:00:00 +0000',
    'Message-ID: <0190-1@news.example.com>',
    'List-Unsubscribe: <https://h.example.com/u/abc>, <mailto:u-x@news.example.com>',
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello   there  ',
    '',
    'Trailing lines follow',
    '',
    '',
    '',
  ].join('\r\n'),
);

describe('signMessage', () => {
  for (const algorithm of ['rsa', 'ed25519'] as const) {
    it(`signs with ${algorithm} so that mailauth verifies it, covering the listed headers`, async () => {
      const { key, resolver } = keyFor(algorithm);
      const signed = signMessage(message, key, { signedAt: new Date('2030-01-01T00:00:00Z') });
      const result = await dkimVerify(signed, { resolver, curTime: new Date('2030-01-01T00:01:00Z') });
      const first = result.results[0];
      expect(first?.status.result, first?.info).toBe('pass');
      expect(first?.info).toContain(algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256');
      const h = /\bh=([^;]+)/.exec(signed.toString())?.[1]?.replace(/\s+/g, '').split(':');
      for (const name of [
        'from',
        'to',
        'subject',
        'date',
        'message-id',
        'list-unsubscribe',
        'list-unsubscribe-post',
      ]) {
        expect(h).toContain(name);
      }
    });
  }

  it('fails verification when the body, a signed header or an added List-Unsubscribe changes it', async () => {
    const { key, resolver } = keyFor('rsa');
    const signed = signMessage(message, key).toString();
    const tampered = [
      signed.replace('Hello', 'Jello'),
      signed.replace('A   subject', 'B   subject'),
      signed.replace(
        'List-Unsubscribe-Post',
        'List-Unsubscribe: <https://evil.example/>\r\nList-Unsubscribe-Post',
      ),
    ];
    for (const text of tampered) {
      const result = await dkimVerify(Buffer.from(text), { resolver });
      expect(result.results[0]?.status.result).not.toBe('pass');
    }
  });

  it('tolerates what relaxed canonicalization allows: refolded headers, trailing whitespace', async () => {
    const { key, resolver } = keyFor('ed25519');
    const signed = signMessage(message, key).toString();
    const refolded = signed
      .replace('with\t whitespace\r\n folded', 'with whitespace folded')
      .replace('Trailing lines follow', 'Trailing lines follow   ');
    const result = await dkimVerify(Buffer.from(refolded), { resolver });
    expect(result.results[0]?.status.result).toBe('pass');
  });

  it('publishes the Ed25519 key as 32 raw bytes and the RSA key as SPKI', () => {
    expect(Buffer.from(dkimPublicKeyValue(keyFor('ed25519').key.privateKey), 'base64')).toHaveLength(32);
    expect(dkimPublicKeyValue(keyFor('rsa').key.privateKey)).toMatch(/^MIIBIjAN/);
  });
});

describe('relaxed body hash', () => {
  it('equals the hash of the canonical body built by the rules, for any body', () => {
    const piece = fc.constantFrom('a', ' ', '\t', '\r\n', '\r', '\n', '  ', ' \r\n', '=', 'é');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const body = Buffer.from(pieces.join(''), 'latin1');
        expect(relaxedBodyHash(body)).toBe(createHash('sha256').update(relaxedBody(body)).digest('base64'));
      }),
      { numRuns: 3000 },
    );
  });
});
