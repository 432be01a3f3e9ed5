import { sql } from 'kysely';
import type { Db, NewRow, Row } from '../../db/index.js';

export type WorkspaceRow = Row<'workspaces'>;

export async function insertWorkspace(db: Db, row: NewRow<'workspaces'>): Promise<void> {
  await db.insertInto('workspaces').values(row).execute();
}

export async function findWorkspace(db: Db, id: string): Promise<WorkspaceRow | undefined> {
  return db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateWorkspace(
  db: Db,
  id: string,
  changes: Partial<Omit<NewRow<'workspaces'>, 'id' | 'created_at'>>,
): Promise<void> {
  await db.updateTable('workspaces').set(changes).where('id', '=', id).execute();
}

export async function listWorkspaces(db: Db): Promise<WorkspaceRow[]> {
  return db.selectFrom('workspaces').selectAll().orderBy('id').execute();
}

const BOOTSTRAP_LOCK_KEY = 7_142_011_302;

/** Runs `work` while holding a transaction-level advisory lock, so only one process bootstraps. */
export async function withBootstrapLock<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`.execute(trx);
    return work(trx);
  });
}
