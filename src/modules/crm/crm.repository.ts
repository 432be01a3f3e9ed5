import type { CrmProvider, CrmRunKind, Db, NewRow, Row } from '../../db/index.js';

export type ConnectionRow = Row<'crm_connections'>;
export type RunRow = Row<'crm_sync_runs'>;

export async function findConnection(
  db: Db,
  workspaceId: string,
  provider: CrmProvider,
): Promise<ConnectionRow | undefined> {
  return db
    .selectFrom('crm_connections')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('provider', '=', provider)
    .executeTakeFirst();
}

export async function findConnectionById(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ConnectionRow | undefined> {
  return db
    .selectFrom('crm_connections')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Inserts or replaces the workspace's connection to the provider (its id stays). */
export async function saveConnection(db: Db, row: NewRow<'crm_connections'>): Promise<ConnectionRow> {
  return db
    .insertInto('crm_connections')
    .values(row)
    .onConflict((oc) =>
      oc.constraint('crm_connections_workspace_provider').doUpdateSet({
        settings: row.settings,
        secret: row.secret,
        sync_enabled: row.sync_enabled ?? true,
        updated_at: row.updated_at,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteConnection(db: Db, workspaceId: string, provider: CrmProvider): Promise<boolean> {
  const result = await db
    .deleteFrom('crm_connections')
    .where('workspace_id', '=', workspaceId)
    .where('provider', '=', provider)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function setSyncedUntil(db: Db, workspaceId: string, id: string, until: Date): Promise<void> {
  await db
    .updateTable('crm_connections')
    .set({ synced_until: until })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

export async function setPushedUntil(db: Db, workspaceId: string, id: string, until: Date): Promise<void> {
  await db
    .updateTable('crm_connections')
    .set({ pushed_until: until })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

/** Connections the periodic sync serves: enabled, and imported once (a first sync is the import). */
export async function connectionsToSync(db: Db, provider: CrmProvider): Promise<ConnectionRow[]> {
  return db
    .selectFrom('crm_connections')
    .selectAll()
    .where('provider', '=', provider)
    .where('sync_enabled', '=', true)
    .where('synced_until', 'is not', null)
    .execute();
}

/** The new run, or undefined when the connection already has an unfinished one. */
export async function insertRun(db: Db, row: NewRow<'crm_sync_runs'>): Promise<RunRow | undefined> {
  return db
    .insertInto('crm_sync_runs')
    .values(row)
    .onConflict((oc) => oc.column('connection_id').where('status', 'in', ['queued', 'running']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function activeRun(
  db: Db,
  workspaceId: string,
  connectionId: string,
): Promise<RunRow | undefined> {
  return db
    .selectFrom('crm_sync_runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('connection_id', '=', connectionId)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
}

export async function findRun(db: Db, workspaceId: string, id: string): Promise<RunRow | undefined> {
  return db
    .selectFrom('crm_sync_runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A run by id alone: for the job, whose payload names the workspace too (checked by the caller). */
export async function findRunForJob(db: Db, id: string): Promise<RunRow | undefined> {
  return db.selectFrom('crm_sync_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listRuns(
  db: Db,
  workspaceId: string,
  connectionId: string,
  page: { before?: string | undefined; limit: number },
): Promise<RunRow[]> {
  let query = db
    .selectFrom('crm_sync_runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('connection_id', '=', connectionId);
  if (page.before) query = query.where('id', '<', page.before);
  return query
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
}

export interface RunProgress {
  status?: RunRow['status'];
  next_offset?: number;
  next_cursor?: string | null;
  pages?: number;
  total?: number | null;
  counts?: Record<string, number>;
  problems?: RunRow['problems'];
  error?: string | null;
  started_at?: Date;
  finished_at?: Date;
}

export async function updateRun(db: Db, id: string, progress: RunProgress, now: Date): Promise<void> {
  const { counts, problems, ...rest } = progress;
  await db
    .updateTable('crm_sync_runs')
    .set({
      ...rest,
      ...(counts ? { counts: JSON.stringify(counts) } : {}),
      ...(problems ? { problems: JSON.stringify(problems) } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
}

export type { CrmRunKind };

export async function readFieldMapping(db: Db, workspaceId: string) {
  return db
    .selectFrom('crm_field_mappings')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

export async function saveFieldMapping(
  db: Db,
  workspaceId: string,
  fields: Record<string, unknown>,
  now: Date,
): Promise<void> {
  const json = JSON.stringify(fields);
  await db
    .insertInto('crm_field_mappings')
    .values({ workspace_id: workspaceId, fields: json, updated_at: now })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ fields: json, updated_at: now }))
    .execute();
}

// ---------------------------------------------------------------- tag memberships (Mailchimp lists mode)

/** The connector created this membership because the member had this tag. */
export async function recordTagMembership(
  db: Db,
  row: {
    connection_id: string;
    list_id: string;
    contact_id: string;
    workspace_id: string;
    tag: string;
    created_at: Date;
  },
): Promise<void> {
  await db
    .insertInto('crm_tag_memberships')
    .values(row)
    .onConflict((oc) => oc.columns(['connection_id', 'list_id', 'contact_id']).doNothing())
    .execute();
}

/** The memberships of a contact that this connection created from tags. */
export async function tagMembershipsOf(
  db: Db,
  connectionId: string,
  contactId: string,
): Promise<{ list_id: string; tag: string }[]> {
  return db
    .selectFrom('crm_tag_memberships')
    .select(['list_id', 'tag'])
    .where('connection_id', '=', connectionId)
    .where('contact_id', '=', contactId)
    .orderBy('list_id')
    .execute();
}

export async function forgetTagMembership(
  db: Db,
  connectionId: string,
  listId: string,
  contactId: string,
): Promise<void> {
  await db
    .deleteFrom('crm_tag_memberships')
    .where('connection_id', '=', connectionId)
    .where('list_id', '=', listId)
    .where('contact_id', '=', contactId)
    .execute();
}
