import { createHash } from 'node:crypto';

/**
 * The hash chain of the audit log, pure (no I/O). An entry's hash is SHA-256
 * over a canonical serialization of every stored field plus the previous
 * entry's hash, so a change to any column of any row, a removed row or an
 * inserted row breaks the chain at a row `verifyChain` names.
 */

/** prev_hash of a workspace's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Bumped if the serialization ever changes; part of what is hashed. */
const SERIALIZATION_VERSION = 'herald-audit-v1';

export interface ChainEntry {
  id: string;
  workspace_id: string;
  seq: number;
  occurred_at: Date;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  /** As stored: hashed whatever its shape, so a tampered non-object is caught too. */
  details: unknown;
  prev_hash: string;
}

export interface StoredChainEntry extends ChainEntry {
  hash: string;
  /**
   * occurred_at in microseconds since the epoch, as the database holds it: a
   * JavaScript Date keeps milliseconds only, so a change below a millisecond
   * would otherwise go unseen. Herald writes whole milliseconds.
   */
  occurred_us?: string;
}

/**
 * JSON with object keys sorted at every depth, so the same value always
 * serializes to the same bytes (PostgreSQL's jsonb does not keep key order).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
}

/** The entry's hash: a fixed-order array of its fields, canonical JSON, SHA-256, hex. */
export function hashEntry(entry: ChainEntry): string {
  const fields = [
    SERIALIZATION_VERSION,
    entry.id,
    entry.workspace_id,
    entry.seq,
    entry.occurred_at.toISOString(),
    entry.actor_type,
    entry.actor_id,
    entry.action,
    entry.target_type,
    entry.target_id,
    entry.ip,
    entry.request_id,
    entry.details,
    entry.prev_hash,
  ];
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

export interface ChainHead {
  seq: number;
  entry_id: string | null;
  hash: string;
}

export type BreakReason =
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'seq_gap'
  | 'head_mismatch'
  | 'anchor_mismatch';

/**
 * A hash recorded outside the database by an earlier verification (its `entries`
 * and `head_hash`): the entry at `seq` must still carry `hash`. Someone who can
 * write the database can recompute a whole chain, but not the copy kept elsewhere.
 */
export interface ChainAnchor {
  seq: number;
  hash: string;
}

export interface ChainBreak {
  workspace_id: string;
  /** The entry where the chain breaks (for a missing entry: the seq it should have had). */
  seq: number;
  /** The stored entry at that place; null when the entry is missing altogether. */
  id: string | null;
  reason: BreakReason;
  message: string;
}

/**
 * Checks one workspace's entries, fed in seq order (in pages, so a long log
 * never sits in memory), against its chain head read in the same snapshot.
 */
export function createChainVerifier(
  workspaceId: string,
  head: ChainHead | undefined,
  anchor?: ChainAnchor | undefined,
) {
  const headSeq = head?.seq ?? 0;
  let expectedSeq = 1;
  let previousHash = GENESIS_HASH;
  let lastId: string | null = null;
  let broken: ChainBreak | undefined;
  let checked = 0;

  const fail = (seq: number, id: string | null, reason: BreakReason, message: string) => {
    broken = { workspace_id: workspaceId, seq, id, reason, message };
  };

  return {
    /** Feeds the next entry; returns false once the chain is broken (later entries tell nothing more). */
    push(entry: StoredChainEntry): boolean {
      if (broken) return false;
      if (entry.seq !== expectedSeq) {
        fail(
          entry.seq,
          entry.id,
          'seq_gap',
          entry.seq > expectedSeq
            ? `seq gap: entry seq ${expectedSeq} is missing (the next stored entry is seq ${entry.seq})`
            : `seq gap: expected seq ${expectedSeq}, found seq ${entry.seq}`,
        );
        return false;
      }
      if (entry.seq > headSeq) {
        fail(
          entry.seq,
          entry.id,
          'head_mismatch',
          `head mismatch: the entry comes after the chain head (seq ${headSeq}): it was not appended by Herald`,
        );
        return false;
      }
      if (entry.prev_hash !== previousHash) {
        fail(
          entry.seq,
          entry.id,
          'prev_hash_mismatch',
          `prev_hash mismatch: the entry names ${entry.prev_hash.slice(0, 16)}… as previous hash, ` +
            `the previous entry's hash is ${previousHash.slice(0, 16)}…`,
        );
        return false;
      }
      if (
        entry.occurred_us !== undefined &&
        entry.occurred_us !== String(BigInt(entry.occurred_at.getTime()) * BigInt(1000))
      ) {
        fail(
          entry.seq,
          entry.id,
          'hash_mismatch',
          'hash mismatch: occurred_at has sub-millisecond digits Herald never writes: the time was changed',
        );
        return false;
      }
      const computed = hashEntry(entry);
      if (computed !== entry.hash) {
        fail(
          entry.seq,
          entry.id,
          'hash_mismatch',
          `hash mismatch: the stored hash ${entry.hash.slice(0, 16)}… is not the hash of the entry's ` +
            `contents (${computed.slice(0, 16)}…): a column was changed`,
        );
        return false;
      }
      if (anchor && entry.seq === anchor.seq && entry.hash !== anchor.hash) {
        fail(
          entry.seq,
          entry.id,
          'anchor_mismatch',
          `anchor mismatch: the entry's hash is ${entry.hash.slice(0, 16)}…, the recorded anchor says ` +
            `${anchor.hash.slice(0, 16)}…: the chain was rewritten up to here`,
        );
        return false;
      }
      previousHash = entry.hash;
      lastId = entry.id;
      expectedSeq++;
      checked++;
      return true;
    },

    /** The result once every entry was pushed. */
    finish(): { entries: number; headHash: string; broken?: ChainBreak } {
      const lastSeq = expectedSeq - 1;
      if (!broken && headSeq > lastSeq) {
        fail(
          lastSeq + 1,
          headSeq === lastSeq + 1 ? (head?.entry_id ?? null) : null,
          'seq_gap',
          `seq gap: the chain head is at seq ${headSeq} but the log ends at seq ${lastSeq}: ` +
            (headSeq === lastSeq + 1
              ? `entry ${headSeq} is missing`
              : `entries ${lastSeq + 1}..${headSeq} are missing`),
        );
      } else if (!broken && head && lastSeq > 0 && (head.hash !== previousHash || head.entry_id !== lastId)) {
        fail(
          lastSeq,
          lastId,
          'head_mismatch',
          'head mismatch: the last entry is not the one the chain head recorded',
        );
      } else if (!broken && anchor && anchor.seq > lastSeq) {
        fail(
          anchor.seq,
          null,
          'anchor_mismatch',
          `anchor mismatch: the log ends at seq ${lastSeq}, before the recorded anchor at seq ${anchor.seq}: ` +
            'entries were removed',
        );
      } else if (!broken && anchor && anchor.seq === 0 && anchor.hash !== GENESIS_HASH) {
        fail(0, null, 'anchor_mismatch', 'anchor mismatch: an anchor at seq 0 must carry the genesis hash');
      }
      return { entries: checked, headHash: previousHash, ...(broken ? { broken } : {}) };
    },
  };
}
