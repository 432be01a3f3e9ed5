import { sql } from 'kysely';
import type { AttributeType, Db, Row } from '../../db/index.js';

export type AttributeDefinitionRow = Row<'attribute_definitions'>;

export async function listDefinitions(
  db: Db,
  workspaceId: string,
  page?: { after: string | undefined; limit: number },
): Promise<AttributeDefinitionRow[]> {
  let query = db.selectFrom('attribute_definitions').selectAll().where('workspace_id', '=', workspaceId);
  if (page?.after) query = query.where('name', '>', page.after);
  if (page) query = query.limit(page.limit + 1);
  return query.orderBy('name').execute();
}

export async function findDefinition(db: Db, workspaceId: string, name: string) {
  return db
    .selectFrom('attribute_definitions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** Returns false when a definition with that name already exists. */
export async function insertDefinition(db: Db, row: AttributeDefinitionRow): Promise<boolean> {
  const result = await db
    .insertInto('attribute_definitions')
    .values(row)
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

export async function updateDefinition(
  db: Db,
  workspaceId: string,
  name: string,
  changes: { description?: string | null; type?: AttributeType; sensitive?: boolean },
) {
  return db
    .updateTable('attribute_definitions')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteDefinition(db: Db, workspaceId: string, name: string): Promise<boolean> {
  const result = await db
    .deleteFrom('attribute_definitions')
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Counts contacts whose value for `name` is not of `type`, so a type change cannot strand bad data. */
export async function countMismatches(
  db: Db,
  workspaceId: string,
  name: string,
  type: AttributeType,
): Promise<number> {
  const jsonType = { string: 'string', number: 'number', boolean: 'boolean', date: 'string', json: null }[
    type
  ];
  if (jsonType === null) return 0;
  const row = await db
    .selectFrom('contacts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where(sql`jsonb_typeof(attributes -> ${name})`, 'is not', null)
    .where(sql`jsonb_typeof(attributes -> ${name})`, '!=', jsonType)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many contacts hold a value for `name` (any type). */
export async function countValues(db: Db, workspaceId: string, name: string): Promise<number> {
  const row = await db
    .selectFrom('contacts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where(sql<boolean>`attributes ? ${name}`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function sensitiveNames(db: Db, workspaceId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('attribute_definitions')
    .select('name')
    .where('workspace_id', '=', workspaceId)
    .where('sensitive', '=', true)
    .orderBy('name')
    .execute();
  return rows.map((row) => row.name);
}

/**
 * Contacts after `afterId` (inclusive when `inclusive`) holding an encrypted
 * value (`hdk1.` prefix) for one of `names`, in id order, with those values.
 */
export async function contactsWithEncryptedValues(
  db: Db,
  workspaceId: string,
  names: string[],
  after: { id: string; inclusive: boolean } | null,
  limit: number,
): Promise<{ id: string; values: Record<string, string> }[]> {
  if (names.length === 0) return [];
  let query = db
    .selectFrom('contacts')
    .select(['id', sql<Record<string, unknown>>`attributes`.as('attributes')])
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or(names.map((name) => eb(sql<string>`attributes ->> ${name}`, 'like', 'hdk1.%'))));
  if (after) query = query.where('id', after.inclusive ? '>=' : '>', after.id);
  const rows = await query.orderBy('id').limit(limit).execute();
  return rows.map((row) => {
    const values: Record<string, string> = {};
    for (const name of names) {
      const value = row.attributes[name];
      if (typeof value === 'string' && value.startsWith('hdk1.')) values[name] = value;
    }
    return { id: row.id, values };
  });
}

/** Sets one attribute to `next` only while it still holds `previous`. */
export async function replaceAttributeValue(
  db: Db,
  workspaceId: string,
  contactId: string,
  name: string,
  previous: string,
  next: string,
): Promise<boolean> {
  const result = await db
    .updateTable('contacts')
    .set({ attributes: sql`jsonb_set(attributes, ARRAY[${name}]::text[], to_jsonb(${next}::text))` })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', contactId)
    .where(sql<string>`attributes ->> ${name}`, '=', previous)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
