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
  changes: { description?: string | null; type?: AttributeType },
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
