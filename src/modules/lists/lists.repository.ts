import { sql } from 'kysely';
import { type Db, isUniqueViolation, type MembershipStatus, type NewRow, type Row } from '../../db/index.js';

export type ListRow = Row<'lists'>;
export type Visibility = ListRow['visibility'];
export type OptIn = ListRow['opt_in'];

/** Inserts a list; undefined when the workspace already has a list of that name (any case). */
export async function insertList(db: Db, row: NewRow<'lists'>): Promise<ListRow | undefined> {
  return db
    .insertInto('lists')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findList(db: Db, workspaceId: string, id: string): Promise<ListRow | undefined> {
  return db
    .selectFrom('lists')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * Reads the list and holds it until the transaction ends, so a concurrent
 * delete cannot pull it out from under the membership changes being written.
 */
export async function findListForMembershipChange(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ListRow | undefined> {
  return db
    .selectFrom('lists')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .forKeyShare()
    .executeTakeFirst();
}

export async function findListByName(
  db: Db,
  workspaceId: string,
  name: string,
): Promise<ListRow | undefined> {
  return db
    .selectFrom('lists')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where(sql`lower(name)`, '=', name.toLowerCase())
    .executeTakeFirst();
}

export interface ListChanges {
  name?: string;
  description?: string | null;
  opt_in?: OptIn;
  visibility?: Visibility;
  confirmation_template_id?: string | null;
  confirmation_from_email?: string | null;
}

export async function updateList(
  db: Db,
  workspaceId: string,
  id: string,
  changes: ListChanges,
  now: Date,
): Promise<{ row: ListRow | undefined } | { nameTaken: true }> {
  try {
    const row = await db
      .updateTable('lists')
      .set({ ...changes, updated_at: now })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return { row };
  } catch (error) {
    // The only unique index a list update can hit is (workspace_id, lower(name)).
    if (isUniqueViolation(error)) return { nameTaken: true };
    throw error;
  }
}

export async function deleteList(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('lists')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * The workspace of a public list, by the list's id alone: the hosted subscribe
 * form's URL (/f/:listId) names no workspace, the list id names it. Private
 * lists are not found, so the form never reveals them.
 */
export async function findPublicListWorkspace(db: Db, listId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('lists')
    .select('workspace_id')
    .where('id', '=', listId)
    .where('visibility', '=', 'public')
    .executeTakeFirst();
  return row?.workspace_id;
}

export async function listLists(
  db: Db,
  workspaceId: string,
  filter: { visibility?: Visibility | undefined },
  page: { after: string | undefined; limit: number },
): Promise<ListRow[]> {
  let query = db.selectFrom('lists').selectAll().where('workspace_id', '=', workspaceId);
  if (filter.visibility) query = query.where('visibility', '=', filter.visibility);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function countMembersByStatus(
  db: Db,
  workspaceId: string,
  listId: string,
): Promise<Record<MembershipStatus, number>> {
  const rows = await db
    .selectFrom('list_memberships')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('workspace_id', '=', workspaceId)
    .where('list_id', '=', listId)
    .groupBy('status')
    .execute();
  const counts: Record<MembershipStatus, number> = { unconfirmed: 0, confirmed: 0, unsubscribed: 0 };
  for (const row of rows) counts[row.status] = Number(row.n);
  return counts;
}

export interface MemberRow {
  contact_id: string;
  email: string;
  status: MembershipStatus;
  created_at: Date;
  updated_at: Date;
  confirmed_at: Date | null;
  unsubscribed_at: Date | null;
}

export async function listMembers(
  db: Db,
  workspaceId: string,
  listId: string,
  filter: { status?: MembershipStatus | undefined },
  page: { after: string | undefined; limit: number },
): Promise<MemberRow[]> {
  let query = db
    .selectFrom('list_memberships as m')
    .innerJoin('contacts as c', 'c.id', 'm.contact_id')
    .select([
      'm.contact_id',
      'c.email',
      'm.status',
      'm.created_at',
      'm.updated_at',
      'm.confirmed_at',
      'm.unsubscribed_at',
    ])
    .where('m.workspace_id', '=', workspaceId)
    .where('m.list_id', '=', listId);
  if (filter.status) query = query.where('m.status', '=', filter.status);
  if (page.after) query = query.where('m.contact_id', '>', page.after);
  return query
    .orderBy('m.contact_id')
    .limit(page.limit + 1)
    .execute();
}

export interface MembershipState {
  contact_id: string;
  status: MembershipStatus;
}

/** Current memberships of `contactIds` in the list, locked for the rest of the transaction. */
export async function lockMemberships(
  db: Db,
  workspaceId: string,
  listId: string,
  contactIds: string[],
): Promise<MembershipState[]> {
  if (contactIds.length === 0) return [];
  return db
    .selectFrom('list_memberships')
    .select(['contact_id', 'status'])
    .where('workspace_id', '=', workspaceId)
    .where('list_id', '=', listId)
    .where('contact_id', 'in', contactIds)
    .forUpdate()
    .execute();
}

/** Members of the list whose contact has one of `emailKeys` (lower-cased normalized addresses). */
export async function memberIdsByEmails(
  db: Db,
  workspaceId: string,
  listId: string,
  emailKeys: string[],
): Promise<{ contact_id: string; email_key: string }[]> {
  if (emailKeys.length === 0) return [];
  return db
    .selectFrom('list_memberships as m')
    .innerJoin('contacts as c', 'c.id', 'm.contact_id')
    .select(['m.contact_id', 'c.email_key'])
    .where('m.workspace_id', '=', workspaceId)
    .where('m.list_id', '=', listId)
    .where('c.workspace_id', '=', workspaceId)
    .where('c.email_key', 'in', emailKeys)
    .execute();
}

/** Inserts the memberships that do not exist yet; returns the contact ids actually inserted. */
export async function insertMemberships(db: Db, rows: NewRow<'list_memberships'>[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await db
    .insertInto('list_memberships')
    .values(rows)
    .onConflict((oc) => oc.columns(['list_id', 'contact_id']).doNothing())
    .returning('contact_id')
    .execute();
  return inserted.map((r) => r.contact_id);
}

/** Re-subscribes members that are unsubscribed; returns the contact ids changed. */
export async function resubscribe(
  db: Db,
  workspaceId: string,
  listId: string,
  contactIds: string[],
  status: Exclude<MembershipStatus, 'unsubscribed'>,
  now: Date,
): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const rows = await db
    .updateTable('list_memberships')
    .set({
      status,
      updated_at: now,
      confirmed_at: status === 'confirmed' ? now : null,
      unsubscribed_at: null,
    })
    .where('workspace_id', '=', workspaceId)
    .where('list_id', '=', listId)
    .where('contact_id', 'in', contactIds)
    .where('status', '=', 'unsubscribed')
    .returning('contact_id')
    .execute();
  return rows.map((r) => r.contact_id);
}

/** Confirms unconfirmed members, or unsubscribes subscribed ones, stamping the time; returns the contact ids changed. */
export async function changeStatus(
  db: Db,
  workspaceId: string,
  listId: string,
  contactIds: string[],
  to: 'confirmed' | 'unsubscribed',
  now: Date,
): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const rows = await db
    .updateTable('list_memberships')
    .set({
      status: to,
      updated_at: now,
      ...(to === 'confirmed' ? { confirmed_at: now } : { unsubscribed_at: now }),
    })
    .where('workspace_id', '=', workspaceId)
    .where('list_id', '=', listId)
    .where('contact_id', 'in', contactIds)
    // Unsubscribed members are never confirmed: only a new subscribe brings them back.
    .where('status', 'in', to === 'confirmed' ? ['unconfirmed'] : ['unconfirmed', 'confirmed'])
    .returning('contact_id')
    .execute();
  return rows.map((r) => r.contact_id);
}

export async function deleteMemberships(
  db: Db,
  workspaceId: string,
  listId: string,
  contactIds: string[],
): Promise<MembershipState[]> {
  if (contactIds.length === 0) return [];
  return db
    .deleteFrom('list_memberships')
    .where('workspace_id', '=', workspaceId)
    .where('list_id', '=', listId)
    .where('contact_id', 'in', contactIds)
    .returning(['contact_id', 'status'])
    .execute();
}

/** Whether the workspace has this template (a list's confirmation template must be one of its own). */
export async function templateExists(db: Db, workspaceId: string, templateId: string): Promise<boolean> {
  const row = await db
    .selectFrom('templates')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', templateId)
    // A deleted (archived) template cannot become a list's confirmation template.
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}
