import { type SqlBool, sql } from 'kysely';
import type { CampaignStatus, Db, NewRow, Row, RowUpdate } from '../../db/index.js';

export type CampaignRow = Row<'campaigns'>;
export type CampaignListRow = Row<'campaign_lists'>;

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

/**
 * The campaign's audience: active contacts (not unsubscribed, bounced,
 * complained or blocked) that are members of an included list, confirmed for
 * double opt-in lists and not unsubscribed for single opt-in ones, and are
 * not current members of an excluded list. EXISTS makes a contact on several
 * included lists count once. Reads the contacts table directly because the
 * audience is one set-based query over contacts, memberships and lists.
 */
export function audience(db: Db, workspaceId: string, campaignId: string) {
  return db
    .selectFrom('contacts as c')
    .where('c.workspace_id', '=', workspaceId)
    .where('c.status', '=', 'active')
    .where(
      sql<SqlBool>`EXISTS (
        SELECT 1 FROM campaign_lists cl
        JOIN list_memberships m ON m.list_id = cl.list_id AND m.contact_id = c.id
        JOIN lists l ON l.id = cl.list_id
        WHERE cl.campaign_id = ${campaignId} AND NOT cl.excluded
          AND (m.status = 'confirmed' OR (m.status = 'unconfirmed' AND l.opt_in = 'single')))`,
    )
    .where(
      sql<SqlBool>`NOT EXISTS (
        SELECT 1 FROM campaign_lists cl
        JOIN list_memberships m ON m.list_id = cl.list_id AND m.contact_id = c.id
        WHERE cl.campaign_id = ${campaignId} AND cl.excluded AND m.status <> 'unsubscribed')`,
    );
}

export async function countAudience(db: Db, workspaceId: string, campaignId: string): Promise<number> {
  const row = await audience(db, workspaceId, campaignId)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function pageAudience(
  db: Db,
  workspaceId: string,
  campaignId: string,
  page: { after: string | undefined; limit: number },
) {
  let query = audience(db, workspaceId, campaignId).select(['c.id', 'c.email', 'c.status']);
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
