import type { Db, Row } from '../../db/index.js';

export type OAuthClientRow = Row<'oauth_clients'>;

export async function insertClient(
  db: Db,
  row: Omit<OAuthClientRow, 'last_used_at' | 'revoked_at'>,
): Promise<void> {
  await db.insertInto('oauth_clients').values(row).execute();
}

/** By the public client_id, across workspaces: the token endpoint learns the workspace from the client. */
export async function findClientByClientId(db: Db, clientId: string): Promise<OAuthClientRow | undefined> {
  return db.selectFrom('oauth_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
}

/** An unrevoked client of the workspace, for checking a presented access token. */
export async function findActiveClient(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<Pick<OAuthClientRow, 'id' | 'client_id' | 'scopes'> | undefined> {
  return db
    .selectFrom('oauth_clients')
    .select(['id', 'client_id', 'scopes'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function listClients(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<OAuthClientRow[]> {
  let query = db.selectFrom('oauth_clients').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function findClient(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<OAuthClientRow | undefined> {
  return db
    .selectFrom('oauth_clients')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function revokeClient(
  db: Db,
  workspaceId: string,
  id: string,
  at: Date,
): Promise<OAuthClientRow | undefined> {
  return db
    .updateTable('oauth_clients')
    .set({ revoked_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Records a token issue at most once per `staleBefore` window. */
export async function touchClient(db: Db, id: string, at: Date, staleBefore: Date): Promise<void> {
  await db
    .updateTable('oauth_clients')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', staleBefore)]))
    .execute();
}
