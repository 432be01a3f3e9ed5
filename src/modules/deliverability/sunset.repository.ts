import { type RawBuilder, sql } from 'kysely';
import type { Db, Row } from '../../db/index.js';

/**
 * SQL of the sunset policy: its settings, and the one query that selects the
 * contacts it would suppress. The selection reads other modules' tables
 * read-only, set-based (like the health report): campaign sends and
 * campaigns, messages, contacts, tracking hits, conversions, and this
 * module's suppressions and suppression removals.
 */

export type SunsetSettingsRow = Row<'sunset_settings'>;

export async function findSettings(db: Db, workspaceId: string): Promise<SunsetSettingsRow | undefined> {
  return db
    .selectFrom('sunset_settings')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

export async function upsertSettings(
  db: Db,
  row: Pick<
    SunsetSettingsRow,
    | 'workspace_id'
    | 'enabled'
    | 'inactive_days'
    | 'min_emails'
    | 'max_open_probability'
    | 'predicted_inactive_days'
    | 'updated_at'
  >,
): Promise<SunsetSettingsRow> {
  return db
    .insertInto('sunset_settings')
    .values(row)
    .onConflict((oc) =>
      oc.column('workspace_id').doUpdateSet({
        enabled: row.enabled,
        inactive_days: row.inactive_days,
        min_emails: row.min_emails,
        max_open_probability: row.max_open_probability,
        predicted_inactive_days: row.predicted_inactive_days,
        updated_at: row.updated_at,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function recordRun(db: Db, workspaceId: string, at: Date, suppressed: number): Promise<void> {
  await db
    .updateTable('sunset_settings')
    .set({ last_run_at: at, last_run_suppressed: suppressed })
    .where('workspace_id', '=', workspaceId)
    .execute();
}

/** Workspaces whose policy is on (the periodic job's list). */
export async function enabledWorkspaces(db: Db): Promise<SunsetSettingsRow[]> {
  return db
    .selectFrom('sunset_settings')
    .selectAll()
    .where('enabled', '=', true)
    .orderBy('workspace_id')
    .execute();
}

export interface SunsetCriteria {
  /** No engagement since `now - inactiveDays`; contacts created before then. */
  inactiveDays: number;
  /** Tracked marketing emails sent to the contact since then, at least. */
  minEmails: number;
  now: Date;
  /**
   * A further condition on the contact (alias `c`, a `contacts` row), ANDed
   * to the others: for instance an engagement prediction's
   * `c.id IN (SELECT contact_id FROM predictions WHERE ... )`.
   */
  extra?: RawBuilder<unknown> | undefined;
  /** Said first in the evidence note of a suppression by this rule (the predictive rule names itself). */
  because?: string | undefined;
}

/**
 * The sunset selection, as a subquery of rows (id, email, email_key, emails,
 * created_at): active contacts with tracking consent, created before the
 * window, not suppressed already, who were sent at least `minEmails` tracked
 * marketing emails in the window (campaign sends of campaigns that track
 * opens or clicks; automation emails of kind marketing sent with tracking)
 * and since then had no human or proxy open or click (prefetch, scanner and
 * bot hits never count), no conversion, and no removal of an earlier sunset
 * suppression. Contacts without tracking consent are never selected: their
 * opens and clicks cannot be seen.
 *
 * Cost: one pass over the window's sent campaign sends and messages
 * (indexes campaign_sends_finished, messages_sent), grouped per contact;
 * then per contact that reached `minEmails`, index probes into contacts,
 * suppressions, tracking_hits_contact, conversions_contact and
 * suppression_removals_email.
 */
export function candidates(workspaceId: string, criteria: SunsetCriteria): RawBuilder<unknown> {
  const since = new Date(criteria.now.getTime() - criteria.inactiveDays * 86_400_000);
  const now = criteria.now;
  return sql`(
    WITH mailed AS (
      SELECT sent.contact_id, count(*)::int AS emails
      FROM (
        SELECT s.contact_id
        FROM campaign_sends AS s JOIN campaigns AS k ON k.id = s.campaign_id
        WHERE s.workspace_id = ${workspaceId} AND s.status = 'sent'
          AND s.finished_at > ${since} AND s.finished_at <= ${now}
          AND (k.track_opens OR k.track_clicks)
        UNION ALL
        SELECT m.contact_id
        FROM messages AS m
        WHERE m.workspace_id = ${workspaceId} AND m.status = 'sent'
          AND m.sent_at > ${since} AND m.sent_at <= ${now}
          AND m.payload -> 'automation' ->> 'marketing' = 'true' AND m.payload ->> 'track' = 'true'
      ) AS sent
      GROUP BY sent.contact_id
      HAVING count(*) >= ${criteria.minEmails}
    )
    SELECT c.id, c.email, c.email_key, mailed.emails, c.created_at
    FROM mailed JOIN contacts AS c ON c.id = mailed.contact_id
    WHERE c.workspace_id = ${workspaceId} AND c.status = 'active' AND c.tracking_consent
      AND c.created_at <= ${since}
      AND NOT EXISTS (
        SELECT 1 FROM suppressions AS x WHERE x.workspace_id = ${workspaceId} AND x.email_key = c.email_key)
      AND NOT EXISTS (
        SELECT 1 FROM tracking_hits AS h
        WHERE h.contact_id = c.id AND h.workspace_id = ${workspaceId}
          AND h.occurred_at > ${since} AND h.classification IN ('human', 'proxy'))
      AND NOT EXISTS (
        SELECT 1 FROM conversions AS v
        WHERE v.contact_id = c.id AND v.workspace_id = ${workspaceId} AND v.occurred_at > ${since})
      AND NOT EXISTS (
        SELECT 1 FROM suppression_removals AS r
        WHERE r.workspace_id = ${workspaceId} AND r.email_key = c.email_key
          AND r.previous_reason = 'sunset' AND r.removed_at > ${since})
      ${criteria.extra ? sql`AND (${criteria.extra})` : sql``}
  )`;
}

/** The latest human or proxy open or click of the selected contact `p`, or NULL. */
function lastEngagement(workspaceId: string): RawBuilder<Date | null> {
  return sql<Date | null>`(
    SELECT max(h.occurred_at) FROM tracking_hits AS h
    WHERE h.contact_id = p.id AND h.workspace_id = ${workspaceId} AND h.classification IN ('human', 'proxy'))`;
}

export interface SunsetSample {
  contact_id: string;
  email: string;
  emails: number;
  created_at: Date;
  last_engaged_at: Date | null;
}

/**
 * How many contacts the selection of any of the rules holds now (each
 * contact once), and the first `sampleSize` of them by id.
 */
export async function previewCandidates(
  db: Db,
  workspaceId: string,
  rules: readonly SunsetCriteria[],
  sampleSize: number,
): Promise<{ count: number; sample: SunsetSample[] }> {
  const selected = sql.join(
    rules.map((criteria) => sql`SELECT * FROM ${candidates(workspaceId, criteria)} AS one`),
    sql` UNION ALL `,
  );
  const result = await sql<SunsetSample & { total: number }>`
    SELECT p.id AS contact_id, p.email, p.emails, p.created_at,
           ${lastEngagement(workspaceId)} AS last_engaged_at, count(*) OVER ()::int AS total
    FROM (SELECT DISTINCT ON (id) * FROM (${selected}) AS every_rule ORDER BY id, emails DESC) AS p
    ORDER BY p.id
    LIMIT ${sampleSize}`.execute(db);
  const count = result.rows[0]?.total ?? 0;
  return { count, sample: result.rows.map(({ total: _, ...row }) => row) };
}

/**
 * Suppresses the selection in one statement, with the evidence in each
 * entry's note. Entries already there are kept, so running it again adds
 * only contacts that became inactive since. Returns how many were added.
 */
export async function suppressCandidates(
  db: Db,
  workspaceId: string,
  criteria: SunsetCriteria,
): Promise<number> {
  const since = new Date(criteria.now.getTime() - criteria.inactiveDays * 86_400_000);
  const day = since.toISOString().slice(0, 10);
  const result = await sql<{ email_key: string }>`
    INSERT INTO suppressions (workspace_id, email_key, email, reason, source, bounce_event_id, note, created_by, created_at)
    SELECT ${workspaceId}, p.email_key, p.email, 'sunset', 'sunset', NULL,
           ${`sunset: ${criteria.because ? `${criteria.because}; ` : ''}no human open or click and no conversion since ${day} (${criteria.inactiveDays} days); `}
             || p.emails || ' tracked marketing emails sent in that time; last human open or click: '
             || COALESCE(to_char(${lastEngagement(workspaceId)} AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'none recorded'),
           'sunset policy', ${criteria.now}
    FROM ${candidates(workspaceId, criteria)} AS p
    ON CONFLICT (workspace_id, email_key) DO NOTHING
    RETURNING email_key`.execute(db);
  return result.rows.length;
}
