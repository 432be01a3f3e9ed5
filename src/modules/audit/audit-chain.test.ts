import { describe, expect, it } from 'vitest';
import {
  type ChainAnchor,
  type ChainEntry,
  canonicalJson,
  createChainVerifier,
  GENESIS_HASH,
  hashEntry,
  type StoredChainEntry,
} from './audit-chain.js';

const WORKSPACE = '01900000-0000-7000-8000-000000000001';

function chain(
  length: number,
  change: (seq: number) => Partial<ChainEntry> = () => ({}),
): StoredChainEntry[] {
  const entries: StoredChainEntry[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq++) {
    const entry: ChainEntry = {
      id: `01900000-0000-7000-8000-${String(seq).padStart(12, '0')}`,
      workspace_id: WORKSPACE,
      seq,
      occurred_at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)),
      actor_type: 'api_key',
      actor_id: 'key-1',
      action: 'template.update',
      target_type: 'template',
      target_id: `t-${seq}`,
      ip: '127.0.0.1',
      request_id: `r-${seq}`,
      details: { fields: ['name'] },
      prev_hash: prev,
      ...change(seq),
    };
    const hash = hashEntry(entry);
    entries.push({ ...entry, hash });
    prev = hash;
  }
  return entries;
}

function verify(
  entries: StoredChainEntry[],
  head = {
    seq: entries.length,
    entry_id: entries.at(-1)?.id ?? null,
    hash: entries.at(-1)?.hash ?? GENESIS_HASH,
  },
  anchor?: ChainAnchor,
) {
  const verifier = createChainVerifier(WORKSPACE, head, anchor);
  for (const entry of entries) if (!verifier.push(entry)) break;
  return verifier.finish();
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[2,{"y":null,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });
});

describe('hashEntry', () => {
  it('changes with every field', () => {
    const [entry] = chain(1);
    if (!entry) throw new Error('no entry');
    const base = hashEntry(entry);
    const variants: Partial<ChainEntry>[] = [
      { id: '01900000-0000-7000-8000-999999999999' },
      { workspace_id: '01900000-0000-7000-8000-000000000002' },
      { seq: 2 },
      { occurred_at: new Date(entry.occurred_at.getTime() + 1) },
      { actor_type: 'cli' },
      { actor_id: null },
      { action: 'template.create' },
      { target_type: null },
      { target_id: 't-2' },
      { ip: null },
      { request_id: 'r-2' },
      { details: { fields: ['subject'] } },
      { details: {} },
      { prev_hash: 'f'.repeat(64) },
    ];
    for (const change of variants)
      expect(hashEntry({ ...entry, ...change }), JSON.stringify(change)).not.toBe(base);
    // null and the string "null" are different values.
    expect(hashEntry({ ...entry, actor_id: 'null' })).not.toBe(hashEntry({ ...entry, actor_id: null }));
  });
});

describe('createChainVerifier', () => {
  it('accepts an intact chain and an empty log', () => {
    const entries = chain(4);
    expect(verify(entries)).toEqual({ entries: 4, headHash: entries[3]?.hash });
    expect(verify([], { seq: 0, entry_id: null, hash: GENESIS_HASH })).toEqual({
      entries: 0,
      headHash: GENESIS_HASH,
    });
    expect(createChainVerifier(WORKSPACE, undefined).finish()).toEqual({
      entries: 0,
      headHash: GENESIS_HASH,
    });
  });

  it('names the entry with a changed field, prev_hash, a gap, a missing tail and an entry past the head', () => {
    const entries = chain(4);
    const changed = entries.map((e) => (e.seq === 2 ? { ...e, action: 'campaign.send' } : e));
    expect(verify(changed).broken).toMatchObject({ seq: 2, id: entries[1]?.id, reason: 'hash_mismatch' });

    const relinked = entries.map((e) => (e.seq === 3 ? { ...e, prev_hash: GENESIS_HASH } : e));
    expect(verify(relinked).broken).toMatchObject({ seq: 3, reason: 'prev_hash_mismatch' });

    const head = { seq: 4, entry_id: entries[3]?.id ?? null, hash: entries[3]?.hash ?? '' };
    expect(
      verify(
        entries.filter((e) => e.seq !== 2),
        head,
      ).broken,
    ).toMatchObject({
      seq: 3,
      id: entries[2]?.id,
      reason: 'seq_gap',
    });
    expect(verify(entries.slice(0, 3), head).broken).toMatchObject({
      seq: 4,
      id: entries[3]?.id,
      reason: 'seq_gap',
    });

    const short = { seq: 3, entry_id: entries[2]?.id ?? null, hash: entries[2]?.hash ?? '' };
    expect(verify(entries, short).broken).toMatchObject({
      seq: 4,
      id: entries[3]?.id,
      reason: 'head_mismatch',
    });

    const otherHead = { ...head, hash: 'e'.repeat(64) };
    expect(verify(entries, otherHead).broken).toMatchObject({ seq: 4, reason: 'head_mismatch' });
  });

  it('catches a time changed below a millisecond', () => {
    const entries = chain(2).map((e) => ({
      ...e,
      occurred_us: String(
        BigInt(e.occurred_at.getTime()) * BigInt(1000) + (e.seq === 2 ? BigInt(1) : BigInt(0)),
      ),
    }));
    expect(verify(entries).broken).toMatchObject({ seq: 2, reason: 'hash_mismatch' });
  });

  it('refuses a whole chain rewritten with consistent hashes when an anchor recorded earlier disagrees', () => {
    const original = chain(4);
    const rewritten = chain(5, (seq) => (seq === 2 ? { action: 'campaign.send' } : {}));
    // On its own the rewritten chain is consistent: only the anchor can tell.
    expect(verify(rewritten).broken).toBeUndefined();
    const anchor = { seq: 3, hash: original[2]?.hash ?? '' };
    expect(verify(original, undefined, anchor).broken).toBeUndefined();
    expect(verify(rewritten, undefined, anchor).broken).toMatchObject({
      seq: 3,
      id: rewritten[2]?.id,
      reason: 'anchor_mismatch',
    });
    // A log cut back to before the anchor (head and all) is caught too.
    expect(verify(original.slice(0, 2), undefined, anchor).broken).toMatchObject({
      seq: 3,
      id: null,
      reason: 'anchor_mismatch',
    });
    expect(verify([], { seq: 0, entry_id: null, hash: GENESIS_HASH }, anchor).broken).toMatchObject({
      reason: 'anchor_mismatch',
    });
    // An empty log recorded as such stays fine; a bogus anchor at seq 0 does not.
    expect(verify([], undefined, { seq: 0, hash: GENESIS_HASH }).broken).toBeUndefined();
    expect(verify([], undefined, { seq: 0, hash: 'a'.repeat(64) }).broken).toMatchObject({
      reason: 'anchor_mismatch',
    });
  });
});
