import { type RawBuilder, type SqlBool, sql } from 'kysely';
import type { ContactStatus, Db } from '../../db/index.js';
import { audience, audienceSegments } from './campaigns.repository.js';

/** A recipient handed to a worker: the ledger row's identity plus what rendering needs. */
export interface ClaimedRecipient {
  contact_id: string;
  message_id: string;
  attempts: number;
  email: string;
  external_id: string | null;
  status: ContactStatus;
  attributes: Record<string, unknown>;
  tags: string[];
  timezone: string | null;
  locale: string | null;
  /** false: no open pixel and no tracked links for this contact (absent: tracked). */
  tracking_consent?: boolean;
  /** The A/B variant (position) this recipient gets; null or absent without a test. */
  variant?: number | null;
  /**
   * The address is on the suppression list now. The audience query leaves
   * suppressed addresses out, but a row claimed earlier (a re-send after a
   * crash, an A/B test recipient waiting for its variant's send time) may
   * have been suppressed since: it is skipped, like a contact no longer active.
   */
  suppressed?: boolean;
}

export interface Claim {
  workspaceId: string;
  campaignId: string;
  workerId: string;
  limit: number;
  now: Date;
  leaseUntil: Date;
  /** Right-hand side of new Message-IDs (the sending domain). */
  messageIdDomain: string;
}

export interface ClaimResult {
  recipients: ClaimedRecipient[];
  /** No fresh recipients remain (expired claims may still). */
  exhausted: boolean;
  /** The campaign is no longer sending (paused, cancelled, finished): claim nothing more. */
  stopped: boolean;
  /** The campaign's rate limit is used up until then; claim again after it. */
  throttledUntil?: Date | undefined;
}

/**
 * Whether a contact falls in the campaign's holdout group: a seeded draw
 * below the held-out share. The same expression decides at the start of an
 * A/B test and at every claim, so a contact's group never changes.
 */
export function heldOut(
  campaign: { holdout_share: number; random_seed: string | null },
  contactId: RawBuilder<unknown>,
): RawBuilder<SqlBool> {
  if (campaign.holdout_share <= 0 || !campaign.random_seed) return sql<SqlBool>`false`;
  return sql<SqlBool>`herald_unit_draw(${campaign.random_seed}, 'holdout', ${contactId}) < ${campaign.holdout_share}`;
}

/**
 * Claims up to `limit` recipients for one worker, in one transaction that
 * holds the campaign row lock: first rows whose claim expired (their worker
 * died: they are re-sent with the Message-ID they already have), then fresh
 * recipients after the campaign's audience cursor. The lock serializes
 * claims between workers for the few milliseconds they take, so two workers
 * never receive the same recipient, a pause or cancel takes effect at the
 * next claim, and the campaign's rate limit is counted across all workers:
 * each one-second window hands out at most `rate_limit_per_second` claims.
 */
export async function claimRecipients(db: Db, claim: Claim): Promise<ClaimResult> {
  return db.transaction().execute(async (trx) => {
    const campaign = await trx
      .selectFrom('campaigns')
      .select([
        'status',
        'audience_cursor',
        'audience_exhausted',
        'holdout_share',
        'random_seed',
        'remainder_variant',
        'rate_limit_per_second',
        'rate_window_start',
        'rate_window_count',
      ])
      .where('id', '=', claim.campaignId)
      .forUpdate()
      .executeTakeFirst();
    if (campaign?.status !== 'sending') return { recipients: [], exhausted: false, stopped: true };

    let limit = claim.limit;
    const window = Math.floor(claim.now.getTime() / 1000) * 1000;
    let windowCount = campaign.rate_window_start?.getTime() === window ? campaign.rate_window_count : 0;
    if (campaign.rate_limit_per_second) {
      const allowance = campaign.rate_limit_per_second - windowCount;
      if (allowance <= 0) {
        return { recipients: [], exhausted: false, stopped: false, throttledUntil: new Date(window + 1000) };
      }
      limit = Math.min(limit, allowance);
    }

    const reclaimed = await sql<{ contact_id: string }>`
      UPDATE campaign_sends s
      SET claimed_by = ${claim.workerId}, lease_until = ${claim.leaseUntil}, attempts = s.attempts + 1
      WHERE s.campaign_id = ${claim.campaignId} AND s.contact_id IN (
        SELECT contact_id FROM campaign_sends
        WHERE campaign_id = ${claim.campaignId} AND status = 'queued' AND lease_until <= ${claim.now}
        ORDER BY contact_id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING s.contact_id`.execute(trx);
    const ids = reclaimed.rows.map((r) => r.contact_id);

    let exhausted = campaign.audience_exhausted;
    let cursor = campaign.audience_cursor;
    const wanted = limit - ids.length;
    if (wanted > 0 && !exhausted) {
      // Segments are compiled per claim with the claim's time: live, never a snapshot.
      const segments = await audienceSegments(trx, claim.workspaceId, claim.campaignId, claim.now);
      let next = audience(trx, claim.workspaceId, claim.campaignId, segments).select('c.id');
      if (cursor) next = next.where('c.id', '>', cursor);
      const fresh = await next.orderBy('c.id').limit(wanted).execute();
      if (fresh.length > 0) {
        // Contacts already in the ledger (an A/B test group, sent before its remainder) conflict and are
        // left out; the held-out share is written as 'holdout' and never sent.
        const inserted = await sql<{ contact_id: string; status: string }>`
          INSERT INTO campaign_sends
            (campaign_id, contact_id, workspace_id, message_id, status, claimed_by, lease_until, created_at, variant)
          SELECT ${claim.campaignId}, f.id, ${claim.workspaceId},
                 gen_random_uuid()::text || '@' || ${claim.messageIdDomain},
                 CASE WHEN h.held_out THEN 'holdout' ELSE 'queued' END,
                 CASE WHEN h.held_out THEN NULL ELSE ${claim.workerId} END,
                 CASE WHEN h.held_out THEN NULL ELSE ${claim.leaseUntil}::timestamptz END,
                 ${claim.now}, ${campaign.remainder_variant}::smallint
          FROM unnest(${fresh.map((r) => r.id)}::uuid[]) AS f(id),
               LATERAL (SELECT ${heldOut(campaign, sql`f.id`)} AS held_out) AS h
          ON CONFLICT DO NOTHING
          RETURNING contact_id, status`.execute(trx);
        ids.push(...inserted.rows.filter((r) => r.status === 'queued').map((r) => r.contact_id));
        cursor = fresh.at(-1)?.id ?? cursor;
      }
      exhausted = fresh.length < wanted;
    }
    windowCount += ids.length;
    await trx
      .updateTable('campaigns')
      .set({
        audience_cursor: cursor,
        audience_exhausted: exhausted,
        rate_window_start: new Date(window),
        rate_window_count: windowCount,
      })
      .where('id', '=', claim.campaignId)
      .execute();
    if (ids.length === 0) return { recipients: [], exhausted, stopped: false };

    const recipients = await trx
      .selectFrom('campaign_sends as s')
      .innerJoin('contacts as c', 'c.id', 's.contact_id')
      .select([
        's.contact_id',
        's.message_id',
        's.attempts',
        'c.email',
        'c.external_id',
        'c.status',
        'c.attributes',
        'c.tags',
        'c.timezone',
        'c.locale',
        'c.tracking_consent',
        's.variant',
        sql<boolean>`EXISTS (
          SELECT 1 FROM suppressions sp WHERE sp.workspace_id = c.workspace_id AND sp.email_key = c.email_key)`.as(
          'suppressed',
        ),
      ])
      .where('s.campaign_id', '=', claim.campaignId)
      .where('s.contact_id', 'in', ids)
      .orderBy('s.contact_id')
      .execute();
    return { recipients, exhausted, stopped: false };
  });
}

export interface SendResult {
  contactId: string;
  outcome: 'sent' | 'failed' | 'skipped';
  providerMessageId?: string | null;
  error?: string | null;
}

/**
 * Records outcomes of a batch and adds them to the campaign's counters, in one
 * transaction. Only rows still queued change, so when a slow worker and the
 * worker that re-claimed its rows both report, each recipient counts once.
 */
export async function recordResults(
  db: Db,
  campaignId: string,
  results: SendResult[],
  now: Date,
  /** Runs in the same transaction with the contacts newly recorded as sent (the webhook outbox). */
  onSent?: (trx: Db, contactIds: string[]) => Promise<void>,
): Promise<{ sent: number; failed: number; skipped: number }> {
  if (results.length === 0) return { sent: 0, failed: 0, skipped: 0 };
  return db.transaction().execute(async (trx) => {
    const updated = await sql<{ status: 'sent' | 'failed' | 'skipped'; contact_id: string }>`
      UPDATE campaign_sends s
      SET status = r.outcome, provider_message_id = r.provider_id, error = r.error,
          finished_at = ${now}, lease_until = NULL
      FROM unnest(
        ${results.map((r) => r.contactId)}::uuid[],
        ${results.map((r) => r.outcome)}::text[],
        ${results.map((r) => r.providerMessageId ?? null)}::text[],
        ${results.map((r) => r.error?.slice(0, 1000) ?? null)}::text[]
      ) AS r(contact_id, outcome, provider_id, error)
      WHERE s.campaign_id = ${campaignId} AND s.contact_id = r.contact_id AND s.status = 'queued'
      RETURNING s.status, s.contact_id`.execute(trx);
    const counts = { sent: 0, failed: 0, skipped: 0 };
    for (const row of updated.rows) counts[row.status]++;
    if (onSent && counts.sent > 0) {
      await onSent(
        trx,
        updated.rows.filter((row) => row.status === 'sent').map((row) => row.contact_id),
      );
    }
    await trx
      .updateTable('campaigns')
      .set((eb) => ({
        sent_count: eb('sent_count', '+', counts.sent),
        failed_count: eb('failed_count', '+', counts.failed),
      }))
      .where('id', '=', campaignId)
      .execute();
    return counts;
  });
}

/**
 * Leaves queued recipients for later (quiet hours): their claim is given up
 * and their lease runs until `until`, when any worker claims them again
 * (which counts an attempt, so the deferral takes back the one its claim counted).
 */
export async function deferRecipients(
  db: Db,
  campaignId: string,
  deferrals: { contactId: string; until: Date }[],
): Promise<void> {
  if (deferrals.length === 0) return;
  await sql`
    UPDATE campaign_sends s
    SET lease_until = d.until, claimed_by = NULL, attempts = GREATEST(s.attempts - 1, 0)
    FROM unnest(
      ${deferrals.map((d) => d.contactId)}::uuid[],
      ${deferrals.map((d) => d.until)}::timestamptz[]
    ) AS d(contact_id, until)
    WHERE s.campaign_id = ${campaignId} AND s.contact_id = d.contact_id AND s.status = 'queued'`.execute(db);
}

/** Queued rows whose claim has not expired: what is in flight right now. */
export async function countInFlight(db: Db, campaignId: string, now: Date): Promise<number> {
  const row = await db
    .selectFrom('campaign_sends')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'queued')
    .where('lease_until', '>', now)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Contacts of the workspace with these addresses, shaped like claimed recipients (for test sends). */
export async function recipientsByEmail(db: Db, workspaceId: string, emails: string[]) {
  if (emails.length === 0) return [];
  return db
    .selectFrom('contacts as c')
    .select([
      'c.id',
      'c.email',
      'c.email_key',
      'c.external_id',
      'c.status',
      'c.attributes',
      'c.tags',
      'c.timezone',
      'c.locale',
    ])
    .where('c.workspace_id', '=', workspaceId)
    .where(
      'c.email_key',
      'in',
      emails.map((e) => e.toLowerCase()),
    )
    .execute();
}
