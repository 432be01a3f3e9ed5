import { isEnvelope } from '../../lib/data-envelope.js';
import type { DataKeyService } from './data-keys.service.js';

/**
 * A kind of encrypted value some module stores (DKIM private keys, transport
 * credentials, ...). The owning module implements it with its own SQL; the
 * rotation only pages through it and asks for replacements.
 */
export interface EncryptedValueSource {
  /** Shown in the rotation's report, e.g. `sending_domains.private_key`. */
  name: string;
  /** A page of the workspace's encrypted values after `afterId` (null: from the start), in id order. */
  page(
    workspaceId: string,
    afterId: string | null,
    limit: number,
  ): Promise<{ id: string; purpose: string; value: string }[]>;
  /** Writes `next` only if the row still holds `previous`, so a concurrent change wins. */
  replace(workspaceId: string, id: string, previous: string, next: string): Promise<boolean>;
}

export interface SourceReport {
  source: string;
  /** Values now encrypted with the new key. */
  reencrypted: number;
  /** Values that changed while being rewritten (the concurrent write already used a data key). */
  changed: number;
  /** Values that failed to decrypt: listed by row id, never by content. */
  failed: { id: string; error: string }[];
}

export interface RotationReport {
  workspaceId: string;
  keyId: string;
  resumed: boolean;
  sources: SourceReport[];
  /** The keys retired at the end; empty when something could not be re-encrypted (run again). */
  retired: string[];
  complete: boolean;
}

/**
 * Re-encrypts every value of the sources with the workspace's active data key,
 * a batch at a time. Each value is independent and names its key, so the work
 * may stop anywhere and resume, while Herald keeps serving.
 */
export async function reencryptWorkspace(
  dataKeys: Pick<DataKeyService, 'cipher'>,
  workspaceId: string,
  sources: readonly EncryptedValueSource[],
  options: { batchSize?: number; onBatch?: (source: string, done: number) => void } = {},
): Promise<SourceReport[]> {
  const batchSize = options.batchSize ?? 500;
  const { cipher } = dataKeys;
  const reports: SourceReport[] = [];
  for (const source of sources) {
    const report: SourceReport = { source: source.name, reencrypted: 0, changed: 0, failed: [] };
    let after: string | null = null;
    for (;;) {
      const rows = await source.page(workspaceId, after, batchSize);
      for (const row of rows) {
        if (await cipher.isCurrent(workspaceId, row.value)) continue;
        let next: string;
        try {
          next = await cipher.encrypt(
            workspaceId,
            row.purpose,
            await cipher.decrypt(workspaceId, row.purpose, row.value),
          );
        } catch (error) {
          report.failed.push({ id: row.id, error: (error as Error).message });
          continue;
        }
        if (await source.replace(workspaceId, row.id, row.value, next)) report.reencrypted++;
        else report.changed++;
      }
      options.onBatch?.(source.name, report.reencrypted);
      const last = rows.at(-1);
      if (!last || rows.length < batchSize) break;
      after = last.id;
    }
    reports.push(report);
  }
  return reports;
}

/**
 * Moves the values still in the master-key format (`v1.`, written before data
 * keys existed) onto the workspace's active data key, leaving values already
 * under any data key alone. Part of `herald keys rewrap`: afterwards no
 * workspace value needs an older master key.
 */
export function upgradeLegacyValues(
  dataKeys: Pick<DataKeyService, 'cipher'>,
  workspaceId: string,
  sources: readonly EncryptedValueSource[],
  options: { batchSize?: number } = {},
): Promise<SourceReport[]> {
  const onlyLegacy = {
    cipher: { ...dataKeys.cipher, isCurrent: async (_: string, value: string) => isEnvelope(value) },
  };
  return reencryptWorkspace(onlyLegacy, workspaceId, sources, options);
}

/** Whether any value of the sources still names another key than the active one. */
async function staleValues(
  dataKeys: Pick<DataKeyService, 'cipher'>,
  workspaceId: string,
  sources: readonly EncryptedValueSource[],
  batchSize: number,
): Promise<number> {
  let stale = 0;
  for (const source of sources) {
    let after: string | null = null;
    for (;;) {
      const rows = await source.page(workspaceId, after, batchSize);
      for (const row of rows) if (!(await dataKeys.cipher.isCurrent(workspaceId, row.value))) stale++;
      const last = rows.at(-1);
      if (!last || rows.length < batchSize) break;
      after = last.id;
    }
  }
  return stale;
}

/**
 * `herald keys rotate-data` for one workspace: a new data key (or the one an
 * unfinished rotation made), every value re-encrypted, then the old keys
 * retired, but only when a final pass finds no value still naming them.
 */
export async function rotateWorkspaceDataKey(
  dataKeys: DataKeyService,
  workspaceId: string,
  sources: readonly EncryptedValueSource[],
  options: { batchSize?: number; onBatch?: (source: string, done: number) => void } = {},
): Promise<RotationReport> {
  const { keyId, resumed } = await dataKeys.beginRotation(workspaceId);
  const reports = await reencryptWorkspace(dataKeys, workspaceId, sources, options);
  const failed = reports.some((report) => report.failed.length > 0);
  // Values a concurrent write put back with a cached old key are caught here; a later run rewrites them.
  const complete =
    !failed && (await staleValues(dataKeys, workspaceId, sources, options.batchSize ?? 500)) === 0;
  const retired = complete ? await dataKeys.retireReplaced(workspaceId) : [];
  return { workspaceId, keyId, resumed, sources: reports, retired, complete };
}
