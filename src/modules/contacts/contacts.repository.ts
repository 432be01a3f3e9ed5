import { type Expression, type SqlBool, sql } from 'kysely';
import type { ContactStatus, Db, MembershipStatus, NewRow, Row } from '../../db/index.js';
import { DEFAULT_HYGIENE_POLICY, type HygienePolicy } from './email-hygiene.js';

export type ContactRow = Row<'contacts'>;

export interface ContactFilter {
  status?: ContactStatus | undefined;
  listId?: string | undefined;
  listStatus?: MembershipStatus | undefined;
  /** Attribute name -> value that must be equal (JSON containment, served by the GIN index). */
  attributes?: Record<string, unknown> | undefined;
  tag?: string | undefined;
  email?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  updatedAfter?: Date | undefined;
  updatedBefore?: Date | undefined;
  /** Only contacts that may go to a third party (not do_not_sell). */
  shareableOnly?: boolean | undefined;
}

export async function insertContact(db: Db, row: NewRow<'contacts'>): Promise<ContactRow | undefined> {
  return db
    .insertInto('contacts')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findContact(db: Db, workspaceId: string, id: string): Promise<ContactRow | undefined> {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** With `lock`, the row stays locked until the transaction ends, so concurrent upserts merge in turn. */
export async function findContactByEmail(
  db: Db,
  workspaceId: string,
  email: string,
  lock = false,
): Promise<ContactRow | undefined> {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('email_key', '=', email.toLowerCase())
    .$if(lock, (q) => q.forUpdate())
    .executeTakeFirst();
}

export async function findContactByExternalId(
  db: Db,
  workspaceId: string,
  externalId: string,
  lock = false,
): Promise<ContactRow | undefined> {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('external_id', '=', externalId)
    .$if(lock, (q) => q.forUpdate())
    .executeTakeFirst();
}

/** Locks the row for the rest of the transaction, so concurrent patches merge instead of overwriting. */
export async function lockContact(db: Db, workspaceId: string, id: string): Promise<ContactRow | undefined> {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

export interface ContactChanges {
  email?: string;
  external_id?: string | null;
  status?: ContactStatus;
  timezone?: string | null;
  locale?: string | null;
  tracking_consent?: boolean;
  do_not_sell?: boolean;
  tags?: string[];
  /** Merged into the stored attributes; keys in `removeAttributes` are deleted. */
  setAttributes?: Record<string, unknown>;
  removeAttributes?: string[];
  addTags?: string[];
  removeTags?: string[];
}

export async function updateContact(
  db: Db,
  workspaceId: string,
  id: string,
  changes: ContactChanges,
  now: Date,
): Promise<ContactRow | undefined> {
  const { setAttributes, removeAttributes, addTags, removeTags, ...plain } = changes;
  let tagsExpression: Expression<string[]> | undefined;
  if (plain.tags === undefined && (addTags?.length || removeTags?.length)) {
    // Union then difference, in SQL, so concurrent tag edits do not overwrite each other.
    tagsExpression = sql<string[]>`ARRAY(
      SELECT DISTINCT t FROM unnest(tags || ${addTags ?? []}::text[]) AS t
      WHERE t <> ALL(${removeTags ?? []}::text[]) ORDER BY t)`;
  }
  return db
    .updateTable('contacts')
    .set({
      ...plain,
      ...(setAttributes || removeAttributes
        ? {
            attributes: sql<string>`(attributes || ${JSON.stringify(setAttributes ?? {})}::jsonb) - ${removeAttributes ?? []}::text[]`,
          }
        : {}),
      ...(tagsExpression ? { tags: tagsExpression } : {}),
      updated_at: now,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteContact(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('contacts')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The filtered contacts query without paging; shared by listing and export. */
export function filteredContacts(db: Db, workspaceId: string, filter: ContactFilter) {
  let query = db
    .selectFrom('contacts')
    .selectAll('contacts')
    .where('contacts.workspace_id', '=', workspaceId);
  if (filter.status) query = query.where('contacts.status', '=', filter.status);
  if (filter.email) query = query.where('contacts.email_key', '=', filter.email.toLowerCase());
  if (filter.tag) query = query.where(sql<SqlBool>`contacts.tags @> ARRAY[${filter.tag}]::text[]`);
  if (filter.attributes && Object.keys(filter.attributes).length > 0) {
    query = query.where(sql<SqlBool>`contacts.attributes @> ${JSON.stringify(filter.attributes)}::jsonb`);
  }
  if (filter.createdAfter) query = query.where('contacts.created_at', '>=', filter.createdAfter);
  if (filter.createdBefore) query = query.where('contacts.created_at', '<', filter.createdBefore);
  if (filter.updatedAfter) query = query.where('contacts.updated_at', '>=', filter.updatedAfter);
  if (filter.updatedBefore) query = query.where('contacts.updated_at', '<', filter.updatedBefore);
  if (filter.shareableOnly) query = query.where(shareablePredicate('contacts'));
  if (filter.listId) {
    const listId = filter.listId;
    const listStatus = filter.listStatus;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('list_memberships as m')
          .select(sql`1`.as('one'))
          .whereRef('m.contact_id', '=', 'contacts.id')
          .where('m.list_id', '=', listId)
          .$if(listStatus !== undefined, (q) => q.where('m.status', '=', listStatus as MembershipStatus)),
      ),
    );
  }
  return query;
}

/** Every attribute key held by at least one matching contact, so an export knows its columns up front. */
export async function attributeKeys(db: Db, workspaceId: string, filter: ContactFilter): Promise<string[]> {
  const rows = await filteredContacts(db, workspaceId, filter)
    .clearSelect()
    .select(sql<string>`jsonb_object_keys(contacts.attributes)`.as('key'))
    .distinct()
    .execute();
  return rows.map((row) => row.key);
}

export async function listContacts(
  db: Db,
  workspaceId: string,
  filter: ContactFilter,
  page: { after: string | undefined; limit: number },
): Promise<ContactRow[]> {
  let query = filteredContacts(db, workspaceId, filter);
  if (page.after) query = query.where('contacts.id', '>', page.after);
  return query
    .orderBy('contacts.id')
    .limit(page.limit + 1)
    .execute();
}

export interface MembershipSummary {
  list_id: string;
  list_name: string;
  status: MembershipStatus;
  created_at: Date;
  confirmed_at: Date | null;
  unsubscribed_at: Date | null;
}

export async function membershipsOf(
  db: Db,
  workspaceId: string,
  contactId: string,
): Promise<MembershipSummary[]> {
  return db
    .selectFrom('list_memberships as m')
    .innerJoin('lists as l', 'l.id', 'm.list_id')
    .select([
      'm.list_id',
      'l.name as list_name',
      'm.status',
      'm.created_at',
      'm.confirmed_at',
      'm.unsubscribed_at',
    ])
    .where('m.workspace_id', '=', workspaceId)
    .where('m.contact_id', '=', contactId)
    .orderBy('l.name')
    .execute();
}

/** Contacts among `emails` (already normalized) that exist, keyed by lower-cased email. */
export async function findByEmails(db: Db, workspaceId: string, emails: string[]): Promise<ContactRow[]> {
  if (emails.length === 0) return [];
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where(
      'email_key',
      'in',
      emails.map((e) => e.toLowerCase()),
    )
    .execute();
}

export async function findByIds(db: Db, workspaceId: string, ids: string[]): Promise<ContactRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
}

/**
 * The workspace's list hygiene policy (columns of workspaces, 0024). Read
 * here, in the caller's transaction, rather than through the workspaces
 * service: on PGlite a service call on its own connection inside a
 * transaction would wait forever.
 */
export async function hygienePolicyOf(db: Db, workspaceId: string): Promise<HygienePolicy> {
  const row = await db
    .selectFrom('workspaces')
    .select(['hygiene_role_accounts', 'hygiene_typos', 'hygiene_disposable', 'hygiene_mx_check'])
    .where('id', '=', workspaceId)
    .executeTakeFirst();
  if (!row) return DEFAULT_HYGIENE_POLICY;
  return {
    role_accounts: row.hygiene_role_accounts,
    typos: row.hygiene_typos,
    disposable: row.hygiene_disposable,
    mx_check: row.hygiene_mx_check,
  };
}

/**
 * The contacts a workspace may hand to a third party (CCPA): not flagged do
 * not sell or share. For connectors and webhooks that share contacts: add it
 * to their query on the contacts table (alias `c` by default).
 */
export function shareablePredicate(alias = 'c') {
  return sql<boolean>`NOT ${sql.ref(`${alias}.do_not_sell`)}`;
}
