import { type Db, isUniqueViolation, type NewRow, type Row } from '../../db/index.js';

export type DataKeyRow = Row<'data_keys'>;

export async function findActiveKey(db: Db, workspaceId: string): Promise<DataKeyRow | undefined> {
  return db
    .selectFrom('data_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('active', '=', true)
    .executeTakeFirst();
}

export async function findKey(db: Db, workspaceId: string, id: string): Promise<DataKeyRow | undefined> {
  return db
    .selectFrom('data_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Undefined when the workspace got an active key meanwhile (another process created it first). */
export async function insertKey(db: Db, row: NewRow<'data_keys'>): Promise<DataKeyRow | undefined> {
  try {
    return await db.insertInto('data_keys').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'data_keys_one_active')) return undefined;
    throw error;
  }
}

export async function deactivateKeys(db: Db, workspaceId: string): Promise<void> {
  await db
    .updateTable('data_keys')
    .set({ active: false })
    .where('workspace_id', '=', workspaceId)
    .where('active', '=', true)
    .execute();
}

/** Keys replaced by a rotation whose values may not all be re-encrypted yet. */
export async function findRetiringKeys(db: Db, workspaceId: string): Promise<DataKeyRow[]> {
  return db
    .selectFrom('data_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('active', '=', false)
    .where('retired_at', 'is', null)
    .orderBy('created_at')
    .execute();
}

export async function retireKeys(db: Db, workspaceId: string, ids: string[], at: Date): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('data_keys')
    .set({ retired_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .where('active', '=', false)
    .where('retired_at', 'is', null)
    .execute();
}

export async function listKeys(db: Db, workspaceId: string): Promise<DataKeyRow[]> {
  return db
    .selectFrom('data_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Keys (of every workspace) wrapped under another master key than `masterKeyId`, a page at a time. */
export async function keysNotWrappedBy(
  db: Db,
  masterKeyId: string,
  afterId: string | null,
  limit: number,
): Promise<DataKeyRow[]> {
  let query = db.selectFrom('data_keys').selectAll().where('master_key_id', '!=', masterKeyId);
  if (afterId !== null) query = query.where('id', '>', afterId);
  return query.orderBy('id').limit(limit).execute();
}

/** Replaces the wrapping only if nobody re-wrapped the row meanwhile. */
export async function replaceWrapping(
  db: Db,
  row: { id: string; wrapped_key: string },
  next: { wrapped_key: string; master_key_id: string },
): Promise<boolean> {
  const result = await db
    .updateTable('data_keys')
    .set(next)
    .where('id', '=', row.id)
    .where('wrapped_key', '=', row.wrapped_key)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
