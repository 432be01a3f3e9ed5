import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EnvelopeError,
  envelopeKeyId,
  isEnvelope,
  openEnvelope,
  sealEnvelope,
  unwrapDataKey,
  wrapDataKey,
} from './data-envelope.js';

const key = { id: 'dk_one', key: randomBytes(32) };
const other = { id: 'dk_two', key: randomBytes(32) };
const lookup = (id: string) => (id === key.id ? key.key : id === other.id ? other.key : undefined);
const context = { workspaceId: 'ws-1', purpose: 'attribute:vip_note' };

function reasonOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return (error as EnvelopeError).reason;
  }
  throw new Error('expected an EnvelopeError');
}

/** Flips one character of a base64url part (keeping it valid base64url). */
function flip(part: string, at = 0): string {
  const c = part[at] === 'A' ? 'B' : 'A';
  return part.slice(0, at) + c + part.slice(at + 1);
}

describe('data envelopes', () => {
  it('round-trips text, including empty and non-ASCII text, and names its key', () => {
    for (const text of ['', 'hello', 'Zoë 🎉 ✓', 'x'.repeat(10_000)]) {
      const sealed = sealEnvelope(key, context, text);
      expect(sealed.startsWith('hdk1.dk_one.')).toBe(true);
      expect(isEnvelope(sealed)).toBe(true);
      expect(envelopeKeyId(sealed)).toBe('dk_one');
      expect(openEnvelope(lookup, context, sealed)).toBe(text);
    }
  });

  it('never produces the same value twice for the same plaintext (random iv)', () => {
    expect(sealEnvelope(key, context, 'same')).not.toBe(sealEnvelope(key, context, 'same'));
  });

  it('does not contain the plaintext', () => {
    const sealed = sealEnvelope(key, context, 'secret-diagnosis');
    expect(sealed).not.toContain('secret-diagnosis');
    expect(Buffer.from(sealed.split('.')[3] as string, 'base64url').toString('latin1')).not.toContain(
      'secret-diagnosis',
    );
  });

  it('fails authentication when the iv, the ciphertext or the tag is altered', () => {
    const sealed = sealEnvelope(key, context, 'payload text');
    const [prefix, id, iv, body] = sealed.split('.') as [string, string, string, string];
    expect(reasonOf(() => openEnvelope(lookup, context, [prefix, id, flip(iv), body].join('.')))).toBe(
      'authentication',
    );
    expect(reasonOf(() => openEnvelope(lookup, context, [prefix, id, iv, flip(body)].join('.')))).toBe(
      'authentication',
    );
    // The tag is the last 16 bytes of the body.
    const bytes = Buffer.from(body, 'base64url');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    expect(
      reasonOf(() => openEnvelope(lookup, context, [prefix, id, iv, bytes.toString('base64url')].join('.'))),
    ).toBe('authentication');
  });

  it('fails when the key id is changed to another existing key', () => {
    const sealed = sealEnvelope(key, context, 'payload');
    expect(reasonOf(() => openEnvelope(lookup, context, sealed.replace('dk_one', 'dk_two')))).toBe(
      'authentication',
    );
  });

  it('fails with another workspace or another purpose as AAD', () => {
    const sealed = sealEnvelope(key, context, 'payload');
    expect(reasonOf(() => openEnvelope(lookup, { ...context, workspaceId: 'ws-2' }, sealed))).toBe(
      'authentication',
    );
    expect(reasonOf(() => openEnvelope(lookup, { ...context, purpose: 'attribute:other' }, sealed))).toBe(
      'authentication',
    );
  });

  it('keeps workspace and purpose apart in the AAD (no ambiguity from concatenation)', () => {
    const sealed = sealEnvelope(key, { workspaceId: 'a:b', purpose: 'c' }, 'payload');
    expect(reasonOf(() => openEnvelope(lookup, { workspaceId: 'a', purpose: 'b:c' }, sealed))).toBe(
      'authentication',
    );
  });

  it('names an unknown key id clearly', () => {
    const sealed = sealEnvelope({ id: 'dk_gone', key: randomBytes(32) }, context, 'payload');
    expect(reasonOf(() => openEnvelope(lookup, context, sealed))).toBe('unknown_key');
    expect(() => openEnvelope(lookup, context, sealed)).toThrow(/data key dk_gone/);
  });

  it('refuses values that are not envelopes or are malformed', () => {
    const sealed = sealEnvelope(key, context, 'payload');
    const [, , iv, body] = sealed.split('.') as [string, string, string, string];
    for (const bad of [
      'plain text',
      'v1.abc.def.ghi.jkl',
      'hdk1.',
      'hdk1.dk_one',
      `hdk1.dk_one.${iv}`,
      `hdk1.dk_one.${iv}.${body}.extra`,
      `hdk1..${iv}.${body}`,
      `hdk1.dk one.${iv}.${body}`,
      `hdk1.dk_one.${iv}.${body}=`,
      `hdk1.dk_one.AAAA.${body}`,
      `hdk1.dk_one.${iv}.AAAA`,
    ]) {
      expect(
        reasonOf(() => openEnvelope(lookup, context, bad)),
        bad,
      ).toBe('format');
    }
  });

  it('refuses to seal with a malformed key', () => {
    expect(reasonOf(() => sealEnvelope({ id: 'has.dot', key: key.key }, context, 'x'))).toBe('format');
    expect(reasonOf(() => sealEnvelope({ id: 'ok', key: randomBytes(16) }, context, 'x'))).toBe('format');
  });
});

describe('wrapped data keys', () => {
  const master = randomBytes(32);
  const ids = { workspaceId: 'ws-1', dataKeyId: 'dk_one' };

  it('round-trips a data key under a master key', () => {
    const dataKey = randomBytes(32);
    const wrapped = wrapDataKey(master, ids, dataKey);
    expect(unwrapDataKey(master, ids, wrapped).equals(dataKey)).toBe(true);
  });

  it('fails under another master key, for another row, or when altered', () => {
    const wrapped = wrapDataKey(master, ids, randomBytes(32));
    expect(reasonOf(() => unwrapDataKey(randomBytes(32), ids, wrapped))).toBe('authentication');
    expect(reasonOf(() => unwrapDataKey(master, { ...ids, workspaceId: 'ws-2' }, wrapped))).toBe(
      'authentication',
    );
    expect(reasonOf(() => unwrapDataKey(master, { ...ids, dataKeyId: 'dk_two' }, wrapped))).toBe(
      'authentication',
    );
    const [iv, body] = wrapped.split('.') as [string, string];
    expect(reasonOf(() => unwrapDataKey(master, ids, `${iv}.${flip(body, 3)}`))).toBe('authentication');
    expect(reasonOf(() => unwrapDataKey(master, ids, `${iv}`))).toBe('format');
    expect(reasonOf(() => unwrapDataKey(master, ids, `${iv}.${body}.x`))).toBe('format');
  });
});
