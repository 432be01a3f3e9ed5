import type { Db, Row } from '../../db/index.js';

export type OidcProviderRow = Row<'oidc_providers'>;
export type OidcLoginRow = Row<'oidc_logins'>;

export async function insertProvider(db: Db, row: OidcProviderRow): Promise<void> {
  await db.insertInto('oidc_providers').values(row).execute();
}

export async function listProviders(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<OidcProviderRow[]> {
  let query = db.selectFrom('oidc_providers').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function findProvider(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<OidcProviderRow | undefined> {
  return db
    .selectFrom('oidc_providers')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * By id alone: a sign-in starts from a public URL naming the provider, and
 * the provider's row is what says which workspace the sign-in is for.
 */
export async function findProviderForSignIn(db: Db, id: string): Promise<OidcProviderRow | undefined> {
  return db.selectFrom('oidc_providers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateProvider(
  db: Db,
  workspaceId: string,
  id: string,
  changes: Partial<Omit<OidcProviderRow, 'id' | 'workspace_id' | 'created_at'>>,
): Promise<OidcProviderRow | undefined> {
  return db
    .updateTable('oidc_providers')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteProvider(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('oidc_providers')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function insertLogin(db: Db, row: OidcLoginRow): Promise<void> {
  await db.insertInto('oidc_logins').values(row).execute();
}

/** Takes a pending sign-in out, so a state is used at most once (a replayed callback finds nothing). */
export async function takeLogin(db: Db, stateHash: string): Promise<OidcLoginRow | undefined> {
  return db.deleteFrom('oidc_logins').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
}

/** Sign-ins whose callback never came. */
export async function deleteExpiredLogins(db: Db, now: Date): Promise<void> {
  await db.deleteFrom('oidc_logins').where('expires_at', '<', now).execute();
}
