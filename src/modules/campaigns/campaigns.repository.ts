import { type SqlBool, sql } from 'kysely';
import type { CampaignStatus, Db, NewRow, Row, RowUpdate } from '../../db/index.js';
import { type CompiledSegment, compileSavedSegment } from '../segments/index.js';

export type CampaignRow = Row<'campaigns'>;
export type CampaignListRow = Row<'campaign_lists'>;
export type CampaignSegmentRow = Row<'campaign_segments'>;

export async function insertCampaign(db: Db, row: NewRow<'campaigns'>): Promise<CampaignRow> {
  return db.insertInto('campaigns').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findCampaign(
  db: Db,
  workspaceId: string,
  id: string,
  lock = false,
): Promise<CampaignRow | undefined> {
  return db
    .selectFrom('campaigns')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .$if(lock, (q) => q.forUpdate())
    .executeTakeFirst();
}

export async function listCampaigns(
  db: Db,
  workspaceId: string,
  filter: { status?: CampaignStatus | undefined },
  page: { after: string | undefined; limit: number },
): Promise<CampaignRow[]> {
  let query = db.selectFrom('campaigns').selectAll().where('workspace_id', '=', workspaceId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function updateCampaign(
  db: Db,
  workspaceId: string,
  id: string,
  changes: RowUpdate<'campaigns'>,
): Promise<CampaignRow | undefined> {
  return db
    .updateTable('campaigns')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteCampaign(db: Db, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('campaigns').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

export async function campaignLists(db: Db, campaignId: string): Promise<CampaignListRow[]> {
  return db
    .selectFrom('campaign_lists')
    .selectAll()
    .where('campaign_id', '=', campaignId)
    .orderBy('list_id')
    .execute();
}

export async function replaceCampaignLists(
  db: Db,
  workspaceId: string,
  campaignId: string,
  lists: { listId: string; excluded: boolean }[],
): Promise<void> {
  await db.deleteFrom('campaign_lists').where('campaign_id', '=', campaignId).execute();
  if (lists.length === 0) return;
  await db
    .insertInto('campaign_lists')
    .values(
      lists.map((l) => ({
        campaign_id: campaignId,
        list_id: l.listId,
        workspace_id: workspaceId,
        excluded: l.excluded,
      })),
    )
    .execute();
}

/** The ids among `ids` that are lists of this workspace. */
export async function existingListIds(db: Db, workspaceId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('lists')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
  return rows.map((r) => r.id);
}

export async function campaignSegments(db: Db, campaignId: string): Promise<CampaignSegmentRow[]> {
  return db
    .selectFrom('campaign_segments')
    .selectAll()
    .where('campaign_id', '=', campaignId)
    .orderBy('segment_id')
    .execute();
}

export async function replaceCampaignSegments(
  db: Db,
  workspaceId: string,
  campaignId: string,
  segments: { segmentId: string; excluded: boolean }[],
): Promise<void> {
  await db.deleteFrom('campaign_segments').where('campaign_id', '=', campaignId).execute();
  if (segments.length === 0) return;
  await db
    .insertInto('campaign_segments')
    .values(
      segments.map((s) => ({
        campaign_id: campaignId,
        segment_id: s.segmentId,
        workspace_id: workspaceId,
        excluded: s.excluded,
      })),
    )
    .execute();
}

/** The ids among `ids` that are segments of this workspace. */
export async function existingSegmentIds(db: Db, workspaceId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('segments')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
  return rows.map((r) => r.id);
}

/** A campaign's segments compiled for one evaluation: the included one (if any) and the excluded ones. */
export interface AudienceSegments {
  include: CompiledSegment | undefined;
  exclude: CompiledSegment[];
}

/**
 * Compiles the segments a campaign names, as of `now`. Called at every claim
 * and count, so a segment is evaluated live: a changed definition, new
 * events or attribute changes apply to the recipients not yet claimed.
 * undefined when the campaign names no segment (its audience is lists only).
 */
export async function audienceSegments(
  db: Db,
  workspaceId: string,
  campaignId: string,
  now: Date,
): Promise<AudienceSegments | undefined> {
  const rows = await campaignSegments(db, campaignId);
  if (rows.length === 0) return undefined;
  const result: AudienceSegments = { include: undefined, exclude: [] };
  for (const [i, row] of rows.entries()) {
    // A segment in use cannot be deleted; should one be missing anyway, it matches nobody.
    const compiled = await compileSavedSegment(
      db,
      workspaceId,
      row.segment_id,
      now,
      row.excluded ? `sgx${i}_` : 'sgi',
    );
    if (!compiled) continue;
    if (row.excluded) result.exclude.push(compiled);
    else result.include = compiled;
  }
  return result;
}

/**
 * Not on the workspace's suppression list (deliverability module): a bounced or
 * complained address is never sent to, even when its contact row says active.
 */
const NOT_SUPPRESSED = sql<SqlBool>`NOT EXISTS (
  SELECT 1 FROM suppressions sp WHERE sp.workspace_id = c.workspace_id AND sp.email_key = c.email_key)`;

const INCLUDED_MEMBER = sql<SqlBool>`(m.status = 'confirmed' OR (m.status = 'unconfirmed' AND l.opt_in = 'single'))`;

/**
 * The campaign's audience: active contacts (not unsubscribed, bounced,
 * complained or blocked) that are members of an included list, confirmed for
 * double opt-in lists and not unsubscribed for single opt-in ones, or match
 * the included segment, and are neither current members of an excluded list
 * nor match an excluded segment. EXISTS makes a contact on several included
 * lists count once. Reads the contacts table directly because the audience is
 * one set-based query over contacts, memberships and lists. Segments appear
 * in their per-contact (probe) shape, which suits the claim's walk in id
 * order after a cursor: each contact costs a few index lookups, however large
 * the segment's tables.
 */
export function audience(db: Db, workspaceId: string, campaignId: string, segments?: AudienceSegments) {
  const inList = sql<SqlBool>`EXISTS (
        SELECT 1 FROM campaign_lists cl
        JOIN list_memberships m ON m.list_id = cl.list_id AND m.contact_id = c.id
        JOIN lists l ON l.id = cl.list_id
        WHERE cl.campaign_id = ${campaignId} AND NOT cl.excluded AND ${INCLUDED_MEMBER})`;
  let query = db
    .selectFrom('contacts as c')
    .where('c.workspace_id', '=', workspaceId)
    .where('c.status', '=', 'active')
    .where(NOT_SUPPRESSED)
    .where(segments?.include ? sql<SqlBool>`(${inList} OR ${segments.include.probe})` : inList)
    .where(
      sql<SqlBool>`NOT EXISTS (
        SELECT 1 FROM campaign_lists cl
        JOIN list_memberships m ON m.list_id = cl.list_id AND m.contact_id = c.id
        WHERE cl.campaign_id = ${campaignId} AND cl.excluded AND m.status <> 'unsubscribed')`,
    );
  for (const excluded of segments?.exclude ?? []) query = query.where(sql<SqlBool>`NOT ${excluded.probe}`);
  return query;
}

/**
 * Recipients if the campaign were sent now. With segments, in the set shape:
 * the included lists' members and the segment's matches are one union the
 * contacts are semi-joined to, the exclusions anti joins, instead of a probe
 * per contact (see segments/segment-compiler.ts).
 */
export async function countAudience(
  db: Db,
  workspaceId: string,
  campaignId: string,
  now: Date,
): Promise<number> {
  const segments = await audienceSegments(db, workspaceId, campaignId, now);
  if (!segments) {
    const row = await audience(db, workspaceId, campaignId)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  const included = segments.include
    ? sql`UNION ALL SELECT seg.id FROM (${segments.include.matching}) AS seg`
    : sql``;
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND c.status = 'active' AND ${NOT_SUPPRESSED}
      AND c.id IN (
        SELECT m.contact_id FROM campaign_lists cl
        JOIN list_memberships m ON m.list_id = cl.list_id
        JOIN lists l ON l.id = cl.list_id
        WHERE cl.campaign_id = ${campaignId} AND NOT cl.excluded AND ${INCLUDED_MEMBER}
        ${included})
      AND NOT EXISTS (
        SELECT 1 FROM campaign_lists cl
        JOIN list_memberships m ON m.list_id = cl.list_id AND m.contact_id = c.id
        WHERE cl.campaign_id = ${campaignId} AND cl.excluded AND m.status <> 'unsubscribed')
      ${sql.join(
        segments.exclude.map(
          (s, i) =>
            sql`AND NOT EXISTS (SELECT 1 FROM (${s.matching}) AS ${sql.id(`ex${i}`)} WHERE ${sql.ref(`ex${i}.id`)} = c.id)`,
        ),
        sql` `,
      )}`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}

export async function pageAudience(
  db: Db,
  workspaceId: string,
  campaignId: string,
  page: { after: string | undefined; limit: number },
  now: Date,
) {
  const segments = await audienceSegments(db, workspaceId, campaignId, now);
  let query = audience(db, workspaceId, campaignId, segments).select(['c.id', 'c.email', 'c.status']);
  if (page.after) query = query.where('c.id', '>', page.after);
  return query
    .orderBy('c.id')
    .limit(page.limit + 1)
    .execute();
}

/** Campaigns any worker should be sending now, oldest first. */
export async function sendingCampaigns(db: Db, limit: number): Promise<CampaignRow[]> {
  return db
    .selectFrom('campaigns')
    .selectAll()
    .where('status', '=', 'sending')
    .orderBy('started_at')
    .limit(limit)
    .execute();
}

/** Scheduled campaigns whose time has come. */
export async function dueCampaigns(db: Db, now: Date, limit: number): Promise<CampaignRow[]> {
  return db
    .selectFrom('campaigns')
    .selectAll()
    .where('status', '=', 'scheduled')
    .where('scheduled_at', '<=', now)
    .orderBy('scheduled_at')
    .limit(limit)
    .execute();
}

/** Changes status only from one of `from`, so concurrent actions cannot both win. */
export async function transition(
  db: Db,
  id: string,
  from: CampaignStatus[],
  changes: RowUpdate<'campaigns'> & { status: CampaignStatus },
): Promise<CampaignRow | undefined> {
  return db
    .updateTable('campaigns')
    .set(changes)
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
}

/** Recipients claimed and not yet recorded, whatever their lease. */
export async function countQueued(db: Db, campaignId: string): Promise<number> {
  const row = await db
    .selectFrom('campaign_sends')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'queued')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
