import type { Db, NewRow, Row } from '../../db/index.js';

export type SendingDomainRow = Row<'sending_domains'>;

/** Inserts a domain; undefined when the workspace already has it. */
export async function insertDomain(
  db: Db,
  row: NewRow<'sending_domains'>,
): Promise<SendingDomainRow | undefined> {
  return db
    .insertInto('sending_domains')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findDomain(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<SendingDomainRow | undefined> {
  return db
    .selectFrom('sending_domains')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The most specific of the given domain names the workspace has. */
export async function findDomainByNames(
  db: Db,
  workspaceId: string,
  names: string[],
): Promise<SendingDomainRow | undefined> {
  if (names.length === 0) return undefined;
  const rows = await db
    .selectFrom('sending_domains')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('domain', 'in', names)
    .execute();
  return rows.sort((a, b) => b.domain.length - a.domain.length)[0];
}

export async function listDomains(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<SendingDomainRow[]> {
  let query = db.selectFrom('sending_domains').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function deleteDomain(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('sending_domains')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Records a check's result; the status only when the check concluded one. */
export async function recordCheck(
  db: Db,
  workspaceId: string,
  id: string,
  check: { status: 'verified' | 'failed' | undefined; checkedAt: Date; result: Record<string, unknown> },
): Promise<SendingDomainRow | undefined> {
  return db
    .updateTable('sending_domains')
    .set({
      checked_at: check.checkedAt,
      last_check: JSON.stringify(check.result),
      ...(check.status ? { status: check.status } : {}),
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function updateDomain(
  db: Db,
  workspaceId: string,
  id: string,
  changes: { allow_unverified?: boolean; return_path_domain?: string | null },
): Promise<SendingDomainRow | undefined> {
  return db
    .updateTable('sending_domains')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}
