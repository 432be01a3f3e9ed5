import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import {
  EnvelopeError,
  envelopeKeyId,
  isEnvelope,
  openEnvelope,
  sealEnvelope,
  unwrapDataKey,
  wrapDataKey,
} from '../../lib/data-envelope.js';
import { decryptSecret, type SecretKeyring, subKey } from '../../lib/secret-keys.js';
import * as repo from './data-keys.repository.js';

/**
 * Encrypts and decrypts field values with the workspace's data keys. Async
 * because keys load from the database (then stay cached in memory).
 *
 * `purpose` names the field and its row (e.g. `transports:<id>`); it is
 * authenticated together with the workspace, so a value only decrypts where
 * it was written. Values written before data keys existed (the master-key
 * format `v1.`, whose context was the same purpose string) still decrypt;
 * the next write re-encrypts them.
 */
export interface WorkspaceCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
  /** True when the value is encrypted with the workspace's active data key (nothing to re-encrypt). */
  isCurrent(workspaceId: string, value: string): Promise<boolean>;
}

export class DataKeyError extends Error {
  override name = 'DataKeyError';
}

export interface DataKeyServiceDeps {
  db: Db;
  clock: Clock;
  keyring: SecretKeyring;
  /** How many unwrapped keys a process keeps in memory (least recently used go first). */
  cacheSize?: number | undefined;
}

/**
 * How long a process keeps using the active key it looked up. After a
 * rotation, processes switch to the new key within this time; values they
 * write meanwhile with the old key still decrypt (retired keys are kept), and
 * the next rotation run rewrites them.
 */
export const ACTIVE_KEY_TTL_MS = 60_000;

const WRAP_PURPOSE = 'wrap-data-keys';

export interface DataKeyView {
  id: string;
  master_key_id: string;
  state: 'active' | 'retiring' | 'retired';
  created_at: Date;
  retired_at: Date | null;
}

export function createDataKeyService(deps: DataKeyServiceDeps) {
  const { db, clock, keyring } = deps;
  const cacheSize = deps.cacheSize ?? 10_000;
  /** Unwrapped keys by id, in least-recently-used order (a Map keeps insertion order). */
  const unwrapped = new Map<string, { workspaceId: string; key: Buffer }>();
  const active = new Map<string, { keyId: string; loadedAt: number }>();

  function remember(workspaceId: string, id: string, key: Buffer): void {
    unwrapped.delete(id);
    unwrapped.set(id, { workspaceId, key });
    while (unwrapped.size > cacheSize) {
      const oldest = unwrapped.keys().next().value;
      if (oldest === undefined) break;
      unwrapped.delete(oldest);
    }
  }

  function unwrap(row: repo.DataKeyRow): Buffer {
    const master = keyring.find(row.master_key_id);
    if (!master) {
      throw new DataKeyError(
        `data key ${row.id} is wrapped with master key ${row.master_key_id}, which is not in HERALD_SECRET_KEYS; put it back, run \`herald keys rewrap\`, then remove it`,
      );
    }
    try {
      return unwrapDataKey(
        subKey(master, WRAP_PURPOSE),
        { workspaceId: row.workspace_id, dataKeyId: row.id },
        row.wrapped_key,
      );
    } catch (error) {
      throw new DataKeyError((error as Error).message);
    }
  }

  async function keyById(workspaceId: string, id: string): Promise<Buffer | undefined> {
    const cached = unwrapped.get(id);
    if (cached) {
      if (cached.workspaceId !== workspaceId) return undefined;
      remember(workspaceId, id, cached.key);
      return cached.key;
    }
    const row = await repo.findKey(db, workspaceId, id);
    if (!row) return undefined;
    const key = unwrap(row);
    remember(workspaceId, id, key);
    return key;
  }

  function newKeyRow(workspaceId: string) {
    const id = `dk${randomBytes(9).toString('base64url')}`;
    const key = randomBytes(32);
    const row = {
      id,
      workspace_id: workspaceId,
      wrapped_key: wrapDataKey(subKey(keyring.current, WRAP_PURPOSE), { workspaceId, dataKeyId: id }, key),
      master_key_id: keyring.current.id,
      active: true,
      created_at: clock.now(),
    };
    return { row, key };
  }

  async function activeKey(workspaceId: string): Promise<{ id: string; key: Buffer }> {
    const now = clock.now().getTime();
    const known = active.get(workspaceId);
    if (known && now - known.loadedAt < ACTIVE_KEY_TTL_MS) {
      const key = await keyById(workspaceId, known.keyId);
      if (key) return { id: known.keyId, key };
    }
    let row = await repo.findActiveKey(db, workspaceId);
    if (!row) {
      // Created lazily, at a workspace's first encrypted write.
      const fresh = newKeyRow(workspaceId);
      row = (await repo.insertKey(db, fresh.row)) ?? (await repo.findActiveKey(db, workspaceId));
      if (!row) throw new DataKeyError(`workspace ${workspaceId} has no active data key`);
    }
    const key = await keyById(workspaceId, row.id);
    if (!key) throw new DataKeyError(`data key ${row.id} vanished`);
    active.set(workspaceId, { keyId: row.id, loadedAt: now });
    return { id: row.id, key };
  }

  const cipher: WorkspaceCipher = {
    async encrypt(workspaceId, purpose, plaintext) {
      return sealEnvelope(await activeKey(workspaceId), { workspaceId, purpose }, plaintext);
    },

    async decrypt(workspaceId, purpose, value) {
      if (!isEnvelope(value)) {
        // The master-key format written before data keys (same context string).
        return decryptSecret(keyring, value, purpose);
      }
      let keyId: string;
      try {
        keyId = envelopeKeyId(value);
      } catch (error) {
        throw new DataKeyError((error as Error).message);
      }
      const key = await keyById(workspaceId, keyId);
      try {
        return openEnvelope(() => key, { workspaceId, purpose }, value);
      } catch (error) {
        if (error instanceof EnvelopeError) throw new DataKeyError(error.message);
        throw error;
      }
    },

    async isCurrent(workspaceId, value) {
      if (!isEnvelope(value)) return false;
      const { id } = await activeKey(workspaceId);
      return value.startsWith(`hdk1.${id}.`);
    },
  };

  return {
    cipher,

    async list(workspaceId: string): Promise<DataKeyView[]> {
      const rows = await repo.listKeys(db, workspaceId);
      return rows.map((row) => ({
        id: row.id,
        master_key_id: row.master_key_id,
        state: row.active ? 'active' : row.retired_at ? 'retired' : 'retiring',
        created_at: row.created_at,
        retired_at: row.retired_at,
      }));
    },

    /**
     * Starts a rotation: a new active key, the old one kept for decryption
     * until `retire`. When an earlier rotation did not finish (a key still
     * retiring), no new key is made: that rotation resumes.
     */
    async beginRotation(workspaceId: string): Promise<{ keyId: string; resumed: boolean }> {
      const retiring = await repo.findRetiringKeys(db, workspaceId);
      const current = await repo.findActiveKey(db, workspaceId);
      if (retiring.length > 0 && current) {
        active.set(workspaceId, { keyId: current.id, loadedAt: clock.now().getTime() });
        return { keyId: current.id, resumed: true };
      }
      const fresh = newKeyRow(workspaceId);
      const row = await db.transaction().execute(async (trx) => {
        await repo.deactivateKeys(trx, workspaceId);
        return repo.insertKey(trx, fresh.row);
      });
      if (!row) throw new DataKeyError(`another rotation of workspace ${workspaceId} is running`);
      remember(workspaceId, row.id, fresh.key);
      active.set(workspaceId, { keyId: row.id, loadedAt: clock.now().getTime() });
      return { keyId: row.id, resumed: false };
    },

    /** Retires the keys a rotation replaced; call once no value names them. */
    async retireReplaced(workspaceId: string): Promise<string[]> {
      const retiring = await repo.findRetiringKeys(db, workspaceId);
      const ids = retiring.map((row) => row.id);
      await repo.retireKeys(db, workspaceId, ids, clock.now());
      return ids;
    },

    /**
     * Re-wraps every data key not wrapped under the current master key (the
     * first of HERALD_SECRET_KEYS). Values are untouched: their data keys stay
     * the same. Afterwards the older master keys can be removed.
     */
    async rewrap(options: { batchSize?: number } = {}): Promise<{ rewrapped: number }> {
      const batchSize = options.batchSize ?? 500;
      const target = subKey(keyring.current, WRAP_PURPOSE);
      let rewrapped = 0;
      let after: string | null = null;
      for (;;) {
        const rows = await repo.keysNotWrappedBy(db, keyring.current.id, after, batchSize);
        for (const row of rows) {
          const key = unwrap(row);
          const wrapped = wrapDataKey(target, { workspaceId: row.workspace_id, dataKeyId: row.id }, key);
          if (
            await repo.replaceWrapping(db, row, { wrapped_key: wrapped, master_key_id: keyring.current.id })
          ) {
            rewrapped++;
          }
        }
        const last = rows.at(-1);
        if (!last || rows.length < batchSize) break;
        after = last.id;
      }
      return { rewrapped };
    },
  };
}

export type DataKeyService = ReturnType<typeof createDataKeyService>;
