import type { ConsentAction, ConsentSource, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { uuidv7 } from '../../lib/ids.js';
import * as repo from './consent.repository.js';

/** Who or what caused a change: recorded with every consent record. */
export interface ConsentOrigin {
  source: ConsentSource;
  /** API key id, import id, form id... */
  sourceId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface ConsentEntry {
  contactId: string;
  listId?: string | null;
  purpose?: string | null;
  action: ConsentAction;
  detail?: Record<string, unknown> | null;
}

export interface ConsentRecord {
  id: string;
  contact_id: string;
  list_id: string | null;
  purpose: string | null;
  action: ConsentAction;
  source: ConsentSource;
  source_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown> | null;
  created_at: Date;
}

export interface ConsentLedgerDeps {
  db: Db;
  clock: Clock;
  /**
   * What of an IP address is stored: the workspace's IP anonymization (tracking settings), read
   * with `db` (the caller's transaction: PGlite has one connection). Without it IPs are stored as given.
   */
  ipPolicy?: ((db: Db, workspaceId: string) => Promise<(ip: string) => string | null>) | undefined;
}

/**
 * The consent ledger: append-only proof of every subscribe, confirm,
 * unsubscribe and status change. Callers pass their transaction as `db`, so a
 * change and its record commit together or not at all.
 */
export function createConsentLedger(deps: ConsentLedgerDeps) {
  return {
    async append(
      workspaceId: string,
      origin: ConsentOrigin,
      entries: ConsentEntry[],
      db: Db = deps.db,
    ): Promise<void> {
      if (entries.length === 0) return;
      const now = deps.clock.now();
      // The IP is evidence, but personal data too: the workspace's anonymization applies to it as to
      // opens and clicks (truncated to the network by default, or dropped).
      const ip =
        origin.ip && deps.ipPolicy ? (await deps.ipPolicy(db, workspaceId))(origin.ip) : (origin.ip ?? null);
      await repo.insertConsentRecords(
        db,
        entries.map((entry) => ({
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          contact_id: entry.contactId,
          list_id: entry.listId ?? null,
          purpose: entry.purpose ?? null,
          action: entry.action,
          source: origin.source,
          source_id: origin.sourceId ?? null,
          ip,
          user_agent: origin.userAgent ?? null,
          detail: entry.detail ? JSON.stringify(entry.detail) : null,
          created_at: now,
        })),
      );
    },

    async list(
      workspaceId: string,
      contactId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<ConsentRecord>> {
      const rows = await repo.listConsentRecords(deps.db, workspaceId, contactId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(
        rows.map((row) => ({
          id: row.id,
          contact_id: row.contact_id,
          list_id: row.list_id,
          purpose: row.purpose,
          action: row.action,
          source: row.source,
          source_id: row.source_id,
          ip: row.ip,
          user_agent: row.user_agent,
          detail: (row.detail as Record<string, unknown> | null) ?? null,
          created_at: row.created_at,
        })),
        page.limit,
      );
    },
  };
}

export type ConsentLedger = ReturnType<typeof createConsentLedger>;
