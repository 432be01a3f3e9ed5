import { Readable } from 'node:stream';
import type { AuditActorType, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { uuidv7 } from '../../lib/ids.js';
import * as repo from './audit.repository.js';
import {
  type ChainAnchor,
  type ChainBreak,
  canonicalJson,
  createChainVerifier,
  hashEntry,
} from './audit-chain.js';

export const AUDIT_ACTOR_TYPES = ['api_key', 'user', 'oauth_client', 'system', 'cli'] as const;

/** Largest serialized `details`: the log records what happened, never the data itself. */
const MAX_DETAILS_CHARS = 4096;
const VERIFY_PAGE_SIZE = 1000;

export interface AuditActor {
  type: AuditActorType;
  id: string | null;
}

export interface AuditTarget {
  type: string;
  id: string | null;
}

export interface AuditRecordInput {
  workspaceId: string;
  actor: AuditActor;
  /** A stable name: `campaign.send`, `template.update`, `api_key.create`, `contacts.export`. */
  action: string;
  target?: AuditTarget | null | undefined;
  ip?: string | null | undefined;
  requestId?: string | null | undefined;
  /** Small and non-personal: field names, scopes, counts. Never values a user typed, never addresses. */
  details?: Record<string, unknown> | undefined;
}

export interface AuditEntry {
  id: string;
  seq: number;
  occurred_at: Date;
  actor: AuditActor;
  action: string;
  target: AuditTarget | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export type AuditFilter = repo.AuditFilter;

export interface WorkspaceVerification {
  workspace_id: string;
  /** Entries checked and found intact (up to the break, if any). */
  entries: number;
  /** The hash of the last intact entry: record it elsewhere to detect a rewrite of the whole chain later. */
  head_hash: string;
  broken?: ChainBreak;
}

const isSeq = (value: string) => /^[1-9][0-9]{0,17}$/.test(value);

/**
 * The audit log: appends hash-chained entries (one transaction each, taking
 * turns per workspace on the chain head's row lock), lists and exports them,
 * and verifies the chain.
 */
export function createAuditLog(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  return {
    async record(input: AuditRecordInput): Promise<AuditEntry> {
      const details = input.details ?? {};
      const serializedDetails = canonicalJson(details);
      if (serializedDetails.length > MAX_DETAILS_CHARS) {
        throw new Error(`audit details of ${input.action} exceed ${MAX_DETAILS_CHARS} characters`);
      }
      const occurredAt = clock.now();
      const id = uuidv7(occurredAt.getTime());
      return db.transaction().execute(async (trx) => {
        const head = await repo.lockChainHead(trx, input.workspaceId);
        const entry = {
          id,
          workspace_id: input.workspaceId,
          seq: head.seq + 1,
          occurred_at: occurredAt,
          actor_type: input.actor.type,
          actor_id: input.actor.id,
          action: input.action,
          target_type: input.target?.type ?? null,
          target_id: input.target?.id ?? null,
          ip: input.ip ?? null,
          request_id: input.requestId ?? null,
          details: JSON.parse(serializedDetails) as Record<string, unknown>,
          prev_hash: head.hash,
        };
        const hash = hashEntry(entry);
        await repo.insertEntry(trx, { ...entry, details: serializedDetails, hash });
        await repo.advanceChainHead(trx, input.workspaceId, { seq: entry.seq, entryId: id, hash });
        return toEntry({ ...entry, seq: String(entry.seq), hash });
      });
    },

    /** Entries in seq order (oldest first), filtered; the cursor names the last seq of the previous page. */
    async list(
      workspaceId: string,
      filter: AuditFilter,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<AuditEntry>> {
      const after = decodeCursor(page.cursor, isSeq);
      const rows = await repo.listEntries(db, workspaceId, filter, {
        afterSeq: after === undefined ? undefined : Number(after),
        limit: page.limit,
      });
      const data = rows.slice(0, page.limit).map(toEntry);
      const last = data.at(-1);
      return {
        data,
        next_cursor: rows.length > page.limit && last ? encodeCursor(String(last.seq)) : null,
      };
    },

    /** NDJSON of every matching entry in seq order, read a page at a time as the reader consumes. */
    exportNdjson(workspaceId: string, filter: AuditFilter, pageSize = 1000): Readable {
      async function* lines(): AsyncGenerator<string> {
        let afterSeq: number | undefined;
        for (;;) {
          const rows = await repo.listEntries(db, workspaceId, filter, { afterSeq, limit: pageSize });
          const page = rows.slice(0, pageSize);
          if (page.length > 0) yield `${page.map((row) => JSON.stringify(toEntry(row))).join('\n')}\n`;
          const last = page.at(-1);
          if (rows.length <= pageSize || !last) return;
          afterSeq = Number(last.seq);
        }
      }
      return Readable.from(lines(), { objectMode: false });
    },

    /**
     * Recomputes the chain of one workspace, or of every workspace with a log.
     * Each workspace is read in one repeatable-read snapshot, so appends made
     * meanwhile are neither half seen nor mistaken for tampering. `anchors`:
     * hashes an earlier verification recorded elsewhere, by workspace id; a
     * workspace with an anchor is checked even when its log is gone.
     */
    async verify(
      workspaceId?: string,
      anchors: ReadonlyMap<string, ChainAnchor> = new Map(),
    ): Promise<WorkspaceVerification[]> {
      const ids = workspaceId
        ? [workspaceId]
        : [...new Set([...(await repo.workspacesWithLog(db)), ...anchors.keys()])].sort();
      const results: WorkspaceVerification[] = [];
      for (const id of ids) {
        results.push(
          await db
            .transaction()
            .setIsolationLevel('repeatable read')
            .execute(async (trx) => {
              const verifier = createChainVerifier(id, await repo.readChainHead(trx, id), anchors.get(id));
              let afterSeq = 0;
              for (;;) {
                const rows = await repo.readChainPage(trx, id, afterSeq, VERIFY_PAGE_SIZE);
                let intact = true;
                for (const row of rows) {
                  intact = verifier.push({ ...row, seq: Number(row.seq), details: row.details as unknown });
                  if (!intact) break;
                }
                const last = rows.at(-1);
                if (!intact || rows.length < VERIFY_PAGE_SIZE || !last) break;
                afterSeq = Number(last.seq);
              }
              const result = verifier.finish();
              return {
                workspace_id: id,
                entries: result.entries,
                head_hash: result.headHash,
                ...(result.broken ? { broken: result.broken } : {}),
              };
            }),
        );
      }
      return results;
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

function detailsOf(row: repo.AuditLogRow): Record<string, unknown> {
  const details = row.details as unknown;
  return details !== null && typeof details === 'object' ? (details as Record<string, unknown>) : {};
}

function toEntry(row: repo.AuditLogRow): AuditEntry {
  return {
    id: row.id,
    seq: Number(row.seq),
    occurred_at: row.occurred_at,
    actor: { type: row.actor_type, id: row.actor_id },
    action: row.action,
    target: row.target_type === null ? null : { type: row.target_type, id: row.target_id },
    ip: row.ip,
    request_id: row.request_id,
    details: detailsOf(row),
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}
