import { sql } from 'kysely';
import { type Db, isUniqueViolation, type NewRow, type Row } from '../../db/index.js';

export type TemplateRow = Row<'templates'>;
export type TemplateVersionRow = Row<'template_versions'>;
export type SnippetRow = Row<'snippets'>;

type Page = { after: string | undefined; limit: number };

/** Inserts a template; undefined when the workspace already has one of that name (any case). */
export async function insertTemplate(db: Db, row: NewRow<'templates'>): Promise<TemplateRow | undefined> {
  return db
    .insertInto('templates')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findTemplate(
  db: Db,
  workspaceId: string,
  id: string,
  lock = false,
): Promise<TemplateRow | undefined> {
  let query = db
    .selectFrom('templates')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function findTemplateByName(
  db: Db,
  workspaceId: string,
  name: string,
): Promise<TemplateRow | undefined> {
  return db
    .selectFrom('templates')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where(sql`lower(name)`, '=', name.toLowerCase())
    .executeTakeFirst();
}

export async function listTemplates(db: Db, workspaceId: string, page: Page): Promise<TemplateRow[]> {
  let query = db.selectFrom('templates').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function updateTemplate(
  db: Db,
  workspaceId: string,
  id: string,
  changes: Partial<Pick<TemplateRow, 'name' | 'kind' | 'strict_variables' | 'latest_version'>>,
  now: Date,
): Promise<{ row: TemplateRow | undefined } | { nameTaken: true }> {
  try {
    const row = await db
      .updateTable('templates')
      .set({ ...changes, updated_at: now })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return { row };
  } catch (error) {
    // The only unique index a template update can hit is (workspace_id, lower(name)).
    if (isUniqueViolation(error)) return { nameTaken: true };
    throw error;
  }
}

export async function deleteTemplate(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('templates')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function insertVersion(db: Db, row: NewRow<'template_versions'>): Promise<TemplateVersionRow> {
  return db.insertInto('template_versions').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findVersionById(
  db: Db,
  workspaceId: string,
  versionId: string,
): Promise<TemplateVersionRow | undefined> {
  return db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', versionId)
    .executeTakeFirst();
}

export async function findVersionByNumber(
  db: Db,
  workspaceId: string,
  templateId: string,
  version: number,
): Promise<TemplateVersionRow | undefined> {
  return db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('template_id', '=', templateId)
    .where('version', '=', version)
    .executeTakeFirst();
}

export async function listVersions(
  db: Db,
  workspaceId: string,
  templateId: string,
  page: Page,
): Promise<TemplateVersionRow[]> {
  let query = db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('template_id', '=', templateId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function insertSnippet(db: Db, row: NewRow<'snippets'>): Promise<SnippetRow | undefined> {
  return db
    .insertInto('snippets')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findSnippet(db: Db, workspaceId: string, id: string): Promise<SnippetRow | undefined> {
  return db
    .selectFrom('snippets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findSnippetByName(
  db: Db,
  workspaceId: string,
  name: string,
): Promise<SnippetRow | undefined> {
  return db
    .selectFrom('snippets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** Every snippet of the workspace as name -> source; what Liquid may include when a version is compiled. */
export async function snippetSources(db: Db, workspaceId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('snippets')
    .select(['name', 'source'])
    .where('workspace_id', '=', workspaceId)
    .execute();
  return new Map(rows.map((r) => [r.name, r.source]));
}

export async function listSnippets(db: Db, workspaceId: string, page: Page): Promise<SnippetRow[]> {
  let query = db.selectFrom('snippets').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function updateSnippet(
  db: Db,
  workspaceId: string,
  id: string,
  changes: { name: string; source: string },
  now: Date,
): Promise<{ row: SnippetRow | undefined } | { nameTaken: true }> {
  try {
    const row = await db
      .updateTable('snippets')
      .set({ ...changes, updated_at: now })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return { row };
  } catch (error) {
    if (isUniqueViolation(error)) return { nameTaken: true };
    throw error;
  }
}

export async function deleteSnippet(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('snippets')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
