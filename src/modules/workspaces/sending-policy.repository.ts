import { sql } from 'kysely';
import type { Db } from '../../db/index.js';

/**
 * The recent marketing emails of some contacts: campaign sends (queued or
 * sent, at their send time) and automation messages marked marketing (not
 * failed). Read-only reads of the campaigns' and messages' tables, served by
 * their contact indexes. Transactional messages are not marketing and are
 * not counted. `exclude` leaves out what is being decided: the campaign's own
 * row, or the automation step's own message when a step is retried.
 */
export async function recentMarketingSends(
  db: Db,
  workspaceId: string,
  contactIds: readonly string[],
  since: Date,
  exclude: { campaignId?: string | undefined; idempotencyKey?: string | undefined },
): Promise<Map<string, Date[]>> {
  const byContact = new Map<string, Date[]>();
  if (contactIds.length === 0) return byContact;
  const ids = [...contactIds];
  const result = await sql<{ contact_id: string; at: Date }>`
    SELECT s.contact_id, COALESCE(s.finished_at, s.created_at) AS at FROM campaign_sends AS s
    WHERE s.contact_id = ANY(${ids}::uuid[]) AND s.workspace_id = ${workspaceId}
      AND s.status IN ('queued', 'sent') AND COALESCE(s.finished_at, s.created_at) > ${since}
      ${exclude.campaignId ? sql`AND s.campaign_id <> ${exclude.campaignId}` : sql``}
    UNION ALL
    SELECT m.contact_id, m.created_at AS at FROM messages AS m
    WHERE m.contact_id = ANY(${ids}::uuid[]) AND m.workspace_id = ${workspaceId}
      AND m.created_at > ${since} AND m.status <> 'failed'
      AND m.payload -> 'automation' ->> 'marketing' = 'true'
      ${exclude.idempotencyKey ? sql`AND m.idempotency_key IS DISTINCT FROM ${exclude.idempotencyKey}` : sql``}`.execute(
    db,
  );
  for (const row of result.rows) {
    const list = byContact.get(row.contact_id) ?? [];
    list.push(new Date(row.at));
    byContact.set(row.contact_id, list);
  }
  return byContact;
}
