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
    .where('c.status', 'in', ['draft', 'scheduled', 'sending', 'testing', 'paused'])
    .orderBy('c.id')
    .execute();
}

/**
 * Runs segment evaluation with JIT compilation off, in the caller's
 * transaction or a new one. Segment plans cost enough to pass jit_above_cost,
 * and compiling them took 100-200 ms per query on 1,000,000 contacts while
 * saving nothing measurable (bench/segments.ts).
 */
export async function withSegmentSettings<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  const run = async (trx: Db) => {
    await sql`SET LOCAL jit = off`.execute(trx);
    return fn(trx);
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

/** How many contacts of the workspace match (the set shape: semi and anti joins, unions for "any"). */
export async function countMatching(db: Db, workspaceId: string, compiled: CompiledSegment): Promise<number> {
  const result = await withSegmentSettings(db, (trx) => countQuery(workspaceId, compiled).execute(trx));
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
  const result = await withSegmentSettings(db, (trx) =>
    sql<SegmentContactRow>`
    SELECT c.id, c.email, c.external_id, c.status, c.created_at FROM contacts AS c
    WHERE c.workspace_id = ${workspaceId} AND c.id IN (${compiled.matching})
      ${page.after ? sql`AND c.id > ${page.after}` : sql``}
    ORDER BY c.id LIMIT ${page.limit + 1}`.execute(trx),
  );
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
  const plan = await withSegmentSettings(db, (trx) =>
    sql<{
      'QUERY PLAN': string;
    }>`EXPLAIN (${sql.raw(analyze ? 'ANALYZE, BUFFERS' : 'COSTS')}) ${query}`.execute(trx),
  );
  return { sql: compiled.sql, parameters: compiled.parameters, plan: plan.rows.map((r) => r['QUERY PLAN']) };
}

/** The count query and the probe shape as standalone queries, for explain. */
export function countQuery(_workspaceId: string, compiled: CompiledSegment): RawBuilder<{ n: string }> {
  return sql<{ n: string }>`SELECT count(*) AS n FROM (${compiled.matching}) AS matching`;
}

export function probeQuery(workspaceId: string, compiled: CompiledSegment): RawBuilder<unknown> {
  return sql`SELECT c.id FROM contacts AS c
    WHERE c.workspace_id = ${workspaceId} AND ${compiled.probe} ORDER BY c.id LIMIT 100`;
}

/** Workspaces that have saved segments, with where their incremental check stands. */
export async function workspacesWithSegments(db: Db) {
  return sql<{ workspace_id: string; checked_until: Date | null }>`
    SELECT s.workspace_id, w.checked_until
    FROM (SELECT DISTINCT workspace_id FROM segments) s
    LEFT JOIN segment_watermarks w ON w.workspace_id = s.workspace_id
    ORDER BY s.workspace_id`
    .execute(db)
    .then((r) => r.rows);
}

export async function setWatermark(db: Db, workspaceId: string, checkedUntil: Date): Promise<void> {
  await sql`
    INSERT INTO segment_watermarks (workspace_id, checked_until) VALUES (${workspaceId}, ${checkedUntil})
    ON CONFLICT (workspace_id) DO UPDATE SET checked_until = excluded.checked_until`.execute(db);
}

/**
 * Contacts of the workspace touched since `since`: sent an event, changed
 * (attributes, status, tags...), joined, confirmed, left or were removed from
 * a list, opened or clicked, or converted. At most `limit + 1` ids, so a
 * caller can tell "too many, check everything" apart. Each part is served by
 * an index: events by the BRIN on received_at, contacts by (workspace_id,
 * updated_at), hits and consent records by their UUIDv7 primary keys (ids are
 * taken when the row is written, so an id range is a time range; every list
 * membership change writes a consent record, removals included),
 * conversions by (workspace_id, occurred_at). Changes these cannot see (send
 * outcomes, time passing) are caught by the periodic full check.
 */
/** The smallest UUIDv7 of a millisecond: ids above it were taken at or after that time. */
function uuidAt(at: Date): string {
  const hex = at.getTime().toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

export async function touchedContacts(
  db: Db,
  workspaceId: string,
  since: Date,
  limit: number,
): Promise<string[]> {
  const result = await sql<{ id: string }>`
    SELECT id FROM (
      SELECT e.contact_id AS id FROM events e
      WHERE e.workspace_id = ${workspaceId} AND e.received_at > ${since} AND e.contact_id IS NOT NULL AND e.source = 'api'
      UNION
      SELECT c.id FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.updated_at > ${since}
      UNION
      SELECT h.contact_id FROM tracking_hits h
      WHERE h.id > ${uuidAt(since)}::uuid AND h.workspace_id = ${workspaceId}
      UNION
      SELECT r.contact_id FROM consent_records r
      WHERE r.id > ${uuidAt(since)}::uuid AND r.workspace_id = ${workspaceId}
      UNION
      SELECT v.contact_id FROM conversions v
      WHERE v.workspace_id = ${workspaceId} AND v.occurred_at > ${since} AND v.contact_id IS NOT NULL
    ) touched
    LIMIT ${limit + 1}`.execute(db);
  return result.rows.map((r) => r.id);
}

/** The workspace's segments, each locked for this transaction unless another worker is checking it. */
export async function lockSegmentForCheck(db: Db, workspaceId: string, id: string) {
  return db
    .selectFrom('segments')
    .select(['id', 'name', 'members_checked_at'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
}

export async function segmentIdsOf(db: Db, workspaceId: string) {
  return db
    .selectFrom('segments')
    .select(['id', 'members_checked_at'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
}

export interface MemberDiff {
  workspaceId: string;
  segmentId: string;
  segmentName: string;
  now: Date;
  /** Record segment.entered / segment.exited events (false for the first, baseline check). */
  emit: boolean;
}

/**
 * Brings segment_members in line with who matches now, and records who
 * entered and who left as events (source herald), in one statement: `matching`
 * is evaluated once (MATERIALIZED), the new members inserted, the departed
 * deleted, and one event written per change. `scope` restricts the check to
 * some contacts (the incremental check); without it every member and every
 * match is compared.
 */
export async function diffMembers(
  db: Db,
  diff: MemberDiff,
  matching: RawBuilder<{ id: string }>,
  scope: string[] | undefined,
): Promise<{ entered: number; exited: number; enteredIds: string[]; exitedIds: string[] }> {
  const ms = diff.now.getTime();
  await sql`SET LOCAL jit = off`.execute(db);
  const result = await sql<{ entered: string; exited: string; entered_ids: string[]; exited_ids: string[] }>`
    WITH matching AS MATERIALIZED (${matching}),
    entered AS (
      INSERT INTO segment_members (segment_id, contact_id, workspace_id, entered_at)
      SELECT ${diff.segmentId}, m.id, ${diff.workspaceId}, ${diff.now} FROM matching m
      ON CONFLICT DO NOTHING
      RETURNING contact_id),
    exited AS (
      DELETE FROM segment_members sm
      WHERE sm.segment_id = ${diff.segmentId}
        ${scope ? sql`AND sm.contact_id = ANY(${scope}::uuid[])` : sql``}
        AND NOT EXISTS (SELECT 1 FROM matching m WHERE m.id = sm.contact_id)
      RETURNING contact_id),
    changes AS (
      SELECT contact_id, 'segment.entered' AS name FROM entered
      UNION ALL
      SELECT contact_id, 'segment.exited' FROM exited),
    recorded AS (
      INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, source, properties)
      -- UUIDv7 ids of this instant, so consumers can follow events in id order.
      SELECT (lpad(to_hex(${ms}::bigint), 12, '0') || '7' || substr(md5(ch.contact_id::text || ch.name), 1, 3) || '8'
              || substr(md5(random()::text || ch.contact_id::text), 1, 15))::uuid,
             ${diff.workspaceId}, ${diff.now}, ${diff.now}, 'track', ch.name, ch.contact_id,
             ch.name || ':' || ${diff.segmentId} || ':' || ch.contact_id || ':' || ${String(ms)},
             'herald', jsonb_build_object('segment_id', ${diff.segmentId}::text, 'segment_name', ${diff.segmentName}::text)
      FROM changes ch
      WHERE ${diff.emit})
    SELECT (SELECT count(*) FROM entered) AS entered, (SELECT count(*) FROM exited) AS exited,
      -- Who changed, for the outbound webhooks (only when changes are reported).
      CASE WHEN ${diff.emit} THEN ARRAY(SELECT contact_id FROM entered) ELSE '{}'::uuid[] END AS entered_ids,
      CASE WHEN ${diff.emit} THEN ARRAY(SELECT contact_id FROM exited) ELSE '{}'::uuid[] END AS exited_ids`.execute(
    db,
  );
  const entered = Number(result.rows[0]?.entered ?? 0);
  const exited = Number(result.rows[0]?.exited ?? 0);
  await sql`
    UPDATE segments SET
      member_count = member_count + ${entered} - ${exited},
      members_checked_at = CASE WHEN ${scope === undefined} THEN ${diff.now}::timestamptz ELSE members_checked_at END
    WHERE id = ${diff.segmentId}`.execute(db);
  return {
    entered,
    exited,
    enteredIds: result.rows[0]?.entered_ids ?? [],
    exitedIds: result.rows[0]?.exited_ids ?? [],
  };
}
