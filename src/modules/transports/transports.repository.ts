import { type Db, isUniqueViolation, type NewRow, type Row } from '../../db/index.js';

export type TransportRow = Row<'transports'>;

export interface TransportChanges {
  name?: string;
  settings?: string;
  secrets?: string | null;
  rate_per_second?: number | null;
  rate_per_hour?: number | null;
  rate_per_day?: number | null;
  max_concurrency?: number;
  is_default?: boolean;
}

/** Undefined when the workspace already has a transport of that name (any case). */
export async function insertTransport(db: Db, row: NewRow<'transports'>): Promise<TransportRow | undefined> {
  try {
    return await db.insertInto('transports').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'transports_workspace_name')) return undefined;
    throw error;
  }
}

export async function findTransport(
  db: Db,
  workspaceId: string,
  id: string,
  lock = false,
): Promise<TransportRow | undefined> {
  let query = db
    .selectFrom('transports')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/**
 * Unfinished campaigns (draft, scheduled, sending, paused) that send through
 * the transport: by naming it, or, for the default transport, by naming none.
 * Reads the campaigns table directly (a read-only exception to the module
 * rule, see ARCHITECTURE.md), inside the deleting transaction.
 */
export async function unfinishedCampaignsUsingTransport(
  db: Db,
  workspaceId: string,
  transport: { id: string; is_default: boolean },
  limit: number,
  /** Only the campaigns that rely on it as the default (naming no transport). */
  asDefaultOnly = false,
): Promise<{ id: string; name: string; status: string; transport_id: string | null }[]> {
  return db
    .selectFrom('campaigns')
    .select(['id', 'name', 'status', 'transport_id'])
    .where('workspace_id', '=', workspaceId)
    .where('status', 'in', ['draft', 'scheduled', 'sending', 'testing', 'paused'])
    .where((eb) =>
      asDefaultOnly
        ? eb('transport_id', 'is', null)
        : transport.is_default
          ? eb.or([eb('transport_id', '=', transport.id), eb('transport_id', 'is', null)])
          : eb('transport_id', '=', transport.id),
    )
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function findDefaultTransport(db: Db, workspaceId: string): Promise<TransportRow | undefined> {
  return db
    .selectFrom('transports')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('is_default', '=', true)
    .executeTakeFirst();
}

export async function hasDefaultTransport(db: Db, workspaceId: string): Promise<boolean> {
  return (await findDefaultTransport(db, workspaceId)) !== undefined;
}

/** Clears the default flag of every transport of the workspace except `keepId`. */
export async function clearDefault(db: Db, workspaceId: string, keepId: string): Promise<void> {
  await db
    .updateTable('transports')
    .set({ is_default: false })
    .where('workspace_id', '=', workspaceId)
    .where('is_default', '=', true)
    .where('id', '!=', keepId)
    .execute();
}

export async function updateTransport(
  db: Db,
  workspaceId: string,
  id: string,
  changes: TransportChanges,
  now: Date,
): Promise<{ row: TransportRow | undefined } | { nameTaken: true }> {
  try {
    const row = await db
      .updateTable('transports')
      .set({ ...changes, updated_at: now })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return { row };
  } catch (error) {
    if (isUniqueViolation(error, 'transports_workspace_name')) return { nameTaken: true };
    throw error;
  }
}

export async function deleteTransport(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('transports')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function listTransports(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<TransportRow[]> {
  let query = db.selectFrom('transports').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}
