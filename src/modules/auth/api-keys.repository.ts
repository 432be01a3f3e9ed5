import type { Db, Row } from '../../db/index.js';

export type ApiKeyRow = Row<'api_keys'>;

export async function insertApiKey(
  db: Db,
  row: Omit<ApiKeyRow, 'last_used_at' | 'revoked_at'>,
): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
}

export async function findActiveKeyByHash(db: Db, secretHash: string): Promise<ApiKeyRow | undefined> {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('secret_hash', '=', secretHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function listApiKeys(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<ApiKeyRow[]> {
  let query = db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function findApiKey(db: Db, workspaceId: string, id: string): Promise<ApiKeyRow | undefined> {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function revokeApiKey(
  db: Db,
  workspaceId: string,
  id: string,
  at: Date,
): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Records use at most once per `staleAfter`, so authentication does not turn
 * every read request into a write.
 */
export async function touchApiKey(db: Db, id: string, at: Date, staleBefore: Date): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', staleBefore)]))
    .execute();
}
