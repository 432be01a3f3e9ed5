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
    .where('id', '=', id)
    .where('deleted_at', 'is', null);
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
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function listTemplates(db: Db, workspaceId: string, page: Page): Promise<TemplateRow[]> {
  let query = db
    .selectFrom('templates')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null);
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
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    return { row };
  } catch (error) {
    // The only unique index a template update can hit is (workspace_id, lower(name)).
    if (isUniqueViolation(error)) return { nameTaken: true };
    throw error;
  }
}

/**
 * Archives a template: it disappears from the API and frees its name, while
 * its immutable versions stay for the campaigns and messages that pinned
 * them. Lists that used it for their confirmation email fall back to the
 * built-in text, as the `ON DELETE SET NULL` of a real delete did.
 */
export async function archiveTemplate(db: Db, workspaceId: string, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('templates')
    .set({ deleted_at: now, updated_at: now })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) return false;
  await db
    .updateTable('lists')
    .set({ confirmation_template_id: null })
    .where('workspace_id', '=', workspaceId)
    .where('confirmation_template_id', '=', id)
    .execute();
  return true;
}

/** Campaign statuses in which a campaign still needs its template. */
export const UNFINISHED_CAMPAIGN_STATUSES = ['draft', 'scheduled', 'sending', 'testing', 'paused'] as const;

export interface CampaignUse {
  id: string;
  name: string;
  status: string;
}

/**
 * Unfinished campaigns that use the template, by template id or a pinned
 * version. Reads the campaigns table directly (a read-only exception to the
 * module rule, see ARCHITECTURE.md): campaigns depend on templates, not the
 * other way round, and the check must run in the deleting transaction.
 */
export async function unfinishedCampaignsUsingTemplate(
  db: Db,
  workspaceId: string,
  templateId: string,
  limit: number,
): Promise<CampaignUse[]> {
  return db
    .selectFrom('campaigns as c')
    .select(['c.id', 'c.name', 'c.status'])
    .where('c.workspace_id', '=', workspaceId)
    .where('c.status', 'in', UNFINISHED_CAMPAIGN_STATUSES)
    .where((eb) =>
      eb.or([
        eb('c.template_id', '=', templateId),
        eb(
          'c.template_version_id',
          'in',
          eb
            .selectFrom('template_versions')
            .select('id')
            .where('workspace_id', '=', workspaceId)
            .where('template_id', '=', templateId),
        ),
        // An A/B variant with a template of its own.
        eb.exists(
          eb
            .selectFrom('campaign_variants as cv')
            .select('cv.position')
            .whereRef('cv.campaign_id', '=', 'c.id')
            .where('cv.template_id', '=', templateId),
        ),
      ]),
    )
    .orderBy('c.id')
    .limit(limit)
    .execute();
}

export interface AutomationUse {
  id: string;
  name: string;
  status: string;
}

/**
 * Automations not archived whose draft names the template (by id, or by name
 * in any case) or whose current version pinned it. Read-only, like the
 * campaigns check above: automations depend on templates, not the other way
 * round, and the check must run in the deleting transaction.
 */
export async function automationsUsingTemplate(
  db: Db,
  workspaceId: string,
  template: { id: string; name: string },
  limit: number,
): Promise<AutomationUse[]> {
  return db
    .selectFrom('automations as a')
    .select(['a.id', 'a.name', 'a.status'])
    .where('a.workspace_id', '=', workspaceId)
    .where('a.status', '<>', 'archived')
    .where((eb) =>
      eb.or([
        eb.exists(
          sql`(SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(a.draft_definition->'nodes') = 'array' THEN a.draft_definition->'nodes' ELSE '[]'::jsonb END) AS n
               WHERE n->>'type' = 'send_email'
                 AND (n->>'template_id' = ${template.id} OR lower(n->>'template') = ${template.name.toLowerCase()}))`,
        ),
        eb.exists(
          sql`(SELECT 1 FROM automation_versions AS v, jsonb_each(v.resolved->'emails') AS e
               WHERE v.automation_id = a.id AND v.version = a.current_version
                 AND e.value->>'template_id' = ${template.id})`,
        ),
      ]),
    )
    .orderBy('a.id')
    .limit(limit)
    .execute();
}

/**
 * Unfinished campaigns whose pinned version, or the latest version of their
 * template, was saved with this snippet (directly or through other snippets).
 */
export async function unfinishedCampaignsUsingSnippet(
  db: Db,
  workspaceId: string,
  snippetName: string,
  limit: number,
): Promise<CampaignUse[]> {
  return db
    .selectFrom('campaigns as c')
    .select(['c.id', 'c.name', 'c.status'])
    .where('c.workspace_id', '=', workspaceId)
    .where('c.status', 'in', UNFINISHED_CAMPAIGN_STATUSES)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('template_versions as v')
          .leftJoin('templates as t', 't.id', 'v.template_id')
          .select(sql<number>`1`.as('one'))
          .where('v.workspace_id', '=', workspaceId)
          .where(sql<boolean>`v.snippets ? ${snippetName}`)
          .where((eb) =>
            eb.or([
              eb('v.id', '=', eb.ref('c.template_version_id')),
              eb.and([
                eb('v.template_id', '=', eb.ref('c.template_id')),
                eb('v.version', '=', eb.ref('t.latest_version')),
                eb('t.deleted_at', 'is', null),
              ]),
              // An A/B variant's pinned version, or its template's latest one.
              eb.exists(
                eb
                  .selectFrom('campaign_variants as cv')
                  .select('cv.position')
                  .whereRef('cv.campaign_id', '=', 'c.id')
                  .where((inner) =>
                    inner.or([
                      inner('cv.template_version_id', '=', inner.ref('v.id')),
                      inner.and([
                        inner('cv.template_id', '=', inner.ref('v.template_id')),
                        inner('v.version', '=', inner.ref('t.latest_version')),
                        inner('t.deleted_at', 'is', null),
                      ]),
                    ]),
                  ),
              ),
            ]),
          ),
      ),
    )
    .orderBy('c.id')
    .limit(limit)
    .execute();
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

export async function findSnippet(
  db: Db,
  workspaceId: string,
  id: string,
  lock = false,
): Promise<SnippetRow | undefined> {
  let query = db
    .selectFrom('snippets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
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
