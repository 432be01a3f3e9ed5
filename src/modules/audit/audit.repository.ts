import { sql } from 'kysely';
import type { AuditActorType, Db, Row } from '../../db/index.js';
import { GENESIS_HASH } from './audit-chain.js';

export type AuditLogRow = Row<'audit_log'>;

export interface AuditFilter {
  action?: string | undefined;
  actorType?: AuditActorType | undefined;
  actorId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

/**
 * Locks the workspace's chain head for the rest of the transaction and returns
 * it, creating it at seq 0 on the first append. The upsert's no-op update is
 * what takes the row lock, so concurrent appenders of one workspace queue here.
 */
export async function lockChainHead(trx: Db, workspaceId: string): Promise<{ seq: number; hash: string }> {
  const head = await trx
    .insertInto('audit_chain_heads')
    .values({ workspace_id: workspaceId, seq: 0, entry_id: null, hash: GENESIS_HASH })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ seq: sql`audit_chain_heads.seq` }))
    .returning(['seq', 'hash'])
    .executeTakeFirstOrThrow();
  return { seq: Number(head.seq), hash: head.hash };
}

export async function insertEntry(
  trx: Db,
  row: Omit<AuditLogRow, 'seq' | 'details'> & { seq: number; details: string },
): Promise<void> {
  await trx.insertInto('audit_log').values(row).execute();
}

export async function advanceChainHead(
  trx: Db,
  workspaceId: string,
  head: { seq: number; entryId: string; hash: string },
): Promise<void> {
  await trx
    .updateTable('audit_chain_heads')
    .set({ seq: head.seq, entry_id: head.entryId, hash: head.hash })
    .where('workspace_id', '=', workspaceId)
    .execute();
}

export async function listEntries(
  db: Db,
  workspaceId: string,
  filter: AuditFilter,
  page: { afterSeq: number | undefined; limit: number },
): Promise<AuditLogRow[]> {
  let query = db.selectFrom('audit_log').selectAll().where('workspace_id', '=', workspaceId);
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.actorType !== undefined) query = query.where('actor_type', '=', filter.actorType);
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
  if (filter.targetType !== undefined) query = query.where('target_type', '=', filter.targetType);
  if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
  if (filter.from !== undefined) query = query.where('occurred_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('occurred_at', '<', filter.to);
  if (page.afterSeq !== undefined) query = query.where('seq', '>', String(page.afterSeq));
  return query
    .orderBy('seq')
    .limit(page.limit + 1)
    .execute();
}

/** Every workspace that has a chain head or an entry (an entry without a head is itself a finding). */
export async function workspacesWithLog(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('audit_chain_heads')
    .select('workspace_id')
    .union(db.selectFrom('audit_log').select('workspace_id').distinct())
    .orderBy('workspace_id')
    .execute();
  return rows.map((row) => row.workspace_id);
}

export async function readChainHead(
  db: Db,
  workspaceId: string,
): Promise<{ seq: number; entry_id: string | null; hash: string } | undefined> {
  const row = await db
    .selectFrom('audit_chain_heads')
    .select(['seq', 'entry_id', 'hash'])
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return row ? { seq: Number(row.seq), entry_id: row.entry_id, hash: row.hash } : undefined;
}

/** A page of the chain in seq order, for verification. */
export async function readChainPage(
  db: Db,
  workspaceId: string,
  afterSeq: number,
  limit: number,
): Promise<(AuditLogRow & { occurred_us: string })[]> {
  return db
    .selectFrom('audit_log')
    .selectAll()
    .select(sql<string>`(extract(epoch from occurred_at) * 1000000)::bigint::text`.as('occurred_us'))
    .where('workspace_id', '=', workspaceId)
    .where('seq', '>', String(afterSeq))
    .orderBy('seq')
    .limit(limit)
    .execute();
}
