import { type RawBuilder, type SqlBool, sql } from 'kysely';
import type { ContactStatus, Db, NewRow, Row, RowUpdate } from '../../db/index.js';
import type { CompiledSegment } from './segment-compiler.js';

export type SegmentRow = Row<'segments'>;

export async function insertSegment(db: Db, row: NewRow<'segments'>): Promise<SegmentRow | undefined> {
  return db
    .insertInto('segments')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findSegment(db: Db, workspaceId: string, id: string): Promise<SegmentRow | undefined> {
  return db
    .selectFrom('segments')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findSegmentByName(db: Db, workspaceId: string, name: string) {
  return db
    .selectFrom('segments')
    .select(['id', 'name'])
    .where('workspace_id', '=', workspaceId)
    .where(sql<string>`lower(name)`, '=', name.toLowerCase())
    .executeTakeFirst();
}

export async function listSegments(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<SegmentRow[]> {
  let query = db.selectFrom('segments').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function updateSegment(
  db: Db,
  workspaceId: string,
  id: string,
  changes: RowUpdate<'segments'>,
): Promise<SegmentRow | undefined> {
  return db
    .updateTable('segments')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteSegment(db: Db, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('segments').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/** Serializes segment writes of one workspace, so two concurrent edits cannot build a cycle between them. */
export async function lockWorkspaceSegments(db: Db, workspaceId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(714201, hashtext(${workspaceId}))`.execute(db);
}

/** Definitions of these segments of the workspace, by id. */
export async function definitions(db: Db, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('segments')
    .select(['id', 'name', 'definition'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
}

/** Every segment of the workspace (id, name, definition): to find which ones name a segment. */
export async function allDefinitions(db: Db, workspaceId: string) {
  return db
    .selectFrom('segments')
    .select(['id', 'name', 'definition'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
}

/**
 * The ids among `ids` that exist in the workspace's lists or campaigns.
 * Read-only reads of other modules' tables (see ARCHITECTURE.md): a
 * definition may name them, and a name must point at something.
 */
export async function existingIds(
  db: Db,
  workspaceId: string,
  table: 'lists' | 'campaigns',
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom(table)
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** Unfinished campaigns whose audience names the segment (included or excluded). */
export async function campaignsUsing(db: Db, workspaceId: string, segmentId: string) {
  return db
    .selectFrom('campaign_segments as cs')
    .innerJoin('campaigns as c', 'c.id', 'cs.campaign_id')
    .select(['c.id', 'c.name', 'c.status'])
    .where('cs.workspace_id', '=', workspaceId)
    .where('cs.segment_id', '=', segmentId)
    .where('c.status', 'in', ['draft', 'scheduled', 'sending', 'paused'])
    .orderBy('c.id')
    .execute();
}

function fromSegment(compiled: CompiledSegment): RawBuilder<unknown> {
  return sql`contacts AS c ${sql.join(compiled.joins, sql` `)}`;
}

/** How many contacts of the workspace match (the set shape: one hash join per condition on another table). */
export async function countMatching(db: Db, workspaceId: string, compiled: CompiledSegment): Promise<number> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM ${fromSegment(compiled)}
    WHERE c.workspace_id = ${workspaceId} AND ${compiled.where}`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}

export interface SegmentContactRow {
  id: string;
  email: string;
  external_id: string | null;
  status: ContactStatus;
  created_at: Date;
}

/** A page of matching contacts in id order. */
export async function pageMatching(
  db: Db,
  workspaceId: string,
  compiled: CompiledSegment,
  page: { after: string | undefined; limit: number },
): Promise<SegmentContactRow[]> {
  const result = await sql<SegmentContactRow>`
    SELECT c.id, c.email, c.external_id, c.status, c.created_at FROM ${fromSegment(compiled)}
    WHERE c.workspace_id = ${workspaceId} AND ${compiled.where}
      ${page.after ? sql`AND c.id > ${page.after}` : sql``}
    ORDER BY c.id LIMIT ${page.limit + 1}`.execute(db);
  return result.rows;
}

/** The ids among `contactIds` that match, in the probe shape (a few index lookups per contact). */
export async function matchingAmong(
  db: Db,
  workspaceId: string,
  probe: RawBuilder<SqlBool>,
  contactIds: string[],
): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const result = await sql<{ id: string }>`
    SELECT c.id FROM contacts AS c
    WHERE c.workspace_id = ${workspaceId} AND c.id = ANY(${contactIds}::uuid[]) AND ${probe}`.execute(db);
  return result.rows.map((r) => r.id);
}

/** The SQL text and parameters of a query, and PostgreSQL's plan for it (EXPLAIN, optionally ANALYZE). */
export async function explain(
  db: Db,
  query: RawBuilder<unknown>,
  analyze: boolean,
): Promise<{ sql: string; parameters: readonly unknown[]; plan: string[] }> {
  const compiled = query.compile(db);
  const plan = await sql<{
    'QUERY PLAN': string;
  }>`EXPLAIN (${sql.raw(analyze ? 'ANALYZE, BUFFERS' : 'COSTS')}) ${query}`.execute(db);
  return { sql: compiled.sql, parameters: compiled.parameters, plan: plan.rows.map((r) => r['QUERY PLAN']) };
}

/** The count query and the probe shape as standalone queries, for explain. */
export function countQuery(workspaceId: string, compiled: CompiledSegment): RawBuilder<unknown> {
  return sql`SELECT count(*) AS n FROM ${fromSegment(compiled)}
    WHERE c.workspace_id = ${workspaceId} AND ${compiled.where}`;
}

export function probeQuery(workspaceId: string, compiled: CompiledSegment): RawBuilder<unknown> {
  return sql`SELECT c.id FROM contacts AS c
    WHERE c.workspace_id = ${workspaceId} AND ${compiled.probe} ORDER BY c.id LIMIT 100`;
}
