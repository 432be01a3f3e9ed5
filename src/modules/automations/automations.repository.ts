import { sql } from 'kysely';
import {
  type AutomationStatus,
  type Db,
  isUniqueViolation,
  type NewRow,
  type Row,
  type RowUpdate,
} from '../../db/index.js';

export type AutomationRow = Row<'automations'>;
export type AutomationVersionRow = Row<'automation_versions'>;

type Page = { after: string | undefined; limit: number };

/** Inserts an automation; undefined when the workspace already has one of that name (any case). */
export async function insertAutomation(
  db: Db,
  row: NewRow<'automations'>,
): Promise<AutomationRow | undefined> {
  return db
    .insertInto('automations')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findAutomation(
  db: Db,
  workspaceId: string,
  id: string,
  lock = false,
): Promise<AutomationRow | undefined> {
  let query = db
    .selectFrom('automations')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function findAutomationByName(db: Db, workspaceId: string, name: string) {
  return db
    .selectFrom('automations')
    .select(['id', 'name'])
    .where('workspace_id', '=', workspaceId)
    .where(sql<string>`lower(name)`, '=', name.toLowerCase())
    .executeTakeFirst();
}

export async function listAutomations(
  db: Db,
  workspaceId: string,
  page: Page & { status?: AutomationStatus | undefined },
): Promise<AutomationRow[]> {
  let query = db.selectFrom('automations').selectAll().where('workspace_id', '=', workspaceId);
  if (page.status) query = query.where('status', '=', page.status);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function updateAutomation(
  db: Db,
  workspaceId: string,
  id: string,
  changes: RowUpdate<'automations'>,
): Promise<{ row: AutomationRow | undefined } | { nameTaken: true }> {
  try {
    const row = await db
      .updateTable('automations')
      .set(changes)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return { row };
  } catch (error) {
    // The only unique index an automation update can hit is (workspace_id, lower(name)).
    if (isUniqueViolation(error)) return { nameTaken: true };
    throw error;
  }
}

export async function deleteAutomation(db: Db, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('automations').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

export async function insertVersion(
  db: Db,
  row: NewRow<'automation_versions'>,
): Promise<AutomationVersionRow> {
  return db.insertInto('automation_versions').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function listVersions(
  db: Db,
  workspaceId: string,
  automationId: string,
  page: { afterVersion: number | undefined; limit: number },
): Promise<AutomationVersionRow[]> {
  let query = db
    .selectFrom('automation_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId);
  if (page.afterVersion !== undefined) query = query.where('version', '>', page.afterVersion);
  return query
    .orderBy('version')
    .limit(page.limit + 1)
    .execute();
}

export async function findVersion(
  db: Db,
  workspaceId: string,
  automationId: string,
  version: number,
): Promise<AutomationVersionRow | undefined> {
  return db
    .selectFrom('automation_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId)
    .where('version', '=', version)
    .executeTakeFirst();
}

export interface TemplateRef {
  id: string;
  name: string;
  version_id: string | null;
}

/**
 * Live templates of the workspace by name (any case) or id, each with its
 * latest version. Read-only reads of other modules' tables (see
 * ARCHITECTURE.md): publishing pins the versions in the same transaction
 * that writes the automation version.
 */
export async function templates(
  db: Db,
  workspaceId: string,
  names: string[],
  ids: string[],
): Promise<TemplateRef[]> {
  if (names.length === 0 && ids.length === 0) return [];
  const lowered = names.map((n) => n.toLowerCase());
  return db
    .selectFrom('templates as t')
    .leftJoin('template_versions as v', (join) =>
      join.onRef('v.template_id', '=', 't.id').onRef('v.version', '=', 't.latest_version'),
    )
    .select(['t.id', 't.name', 'v.id as version_id'])
    .where('t.workspace_id', '=', workspaceId)
    .where('t.deleted_at', 'is', null)
    .where((eb) =>
      eb.or([
        ...(lowered.length > 0 ? [eb(sql<string>`lower(t.name)`, 'in', lowered)] : []),
        ...(ids.length > 0 ? [eb('t.id', 'in', ids)] : []),
      ]),
    )
    .execute();
}

/** The ids among `ids` that exist in the workspace's lists, segments, campaigns or transports (read-only, as above). */
export async function existingIds(
  db: Db,
  workspaceId: string,
  table: 'lists' | 'segments' | 'campaigns' | 'transports',
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom(table)
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Set(rows.map((r) => r.id));
}
