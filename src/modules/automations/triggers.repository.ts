import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { propertyFiltersSql } from '../segments/index.js';
import type { PropertyFilter } from './automation-definition.js';

/**
 * What the trigger scan reads: events, new contacts and consent records of
 * one workspace that arrived in a time window. Read-only reads of other
 * modules' append-only tables (see ARCHITECTURE.md), like the segment
 * membership check's: each is served by an index the table already has
 * (events by the BRIN on received_at, contacts by (workspace_id,
 * created_at), consent records by their UUIDv7 primary key, whose id order
 * is time order).
 */

export interface Window {
  workspaceId: string;
  since: Date;
  until: Date;
}

export interface ScannedEvent {
  id: string;
  contact_id: string;
  properties: Record<string, unknown>;
  received_at: Date;
}

/** A keyset position: (received_at, id) of the last row read. */
export type Cursor = { at: Date; id: string } | undefined;

export async function activeAutomations(db: Db, workspaceId?: string) {
  let query = db
    .selectFrom('automations as a')
    .innerJoin('automation_versions as v', (join) =>
      join.onRef('v.automation_id', '=', 'a.id').onRef('v.version', '=', 'a.current_version'),
    )
    .select(['a.id', 'a.workspace_id', 'v.version', 'v.definition', 'v.published_at'])
    .where('a.status', '=', 'active');
  if (workspaceId) query = query.where('a.workspace_id', '=', workspaceId);
  return query.orderBy('a.workspace_id').orderBy('a.id').execute();
}

export async function watermark(db: Db, workspaceId: string): Promise<Date | undefined> {
  const row = await db
    .selectFrom('automation_trigger_watermarks')
    .select('scanned_until')
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return row?.scanned_until;
}

export async function setWatermark(db: Db, workspaceId: string, until: Date): Promise<void> {
  await db
    .insertInto('automation_trigger_watermarks')
    .values({ workspace_id: workspaceId, scanned_until: until })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ scanned_until: until }))
    .execute();
}

/** Events of the window (name, source, extra predicate over alias e), after `cursor`, oldest first. */
export async function events(
  db: Db,
  w: Window,
  filter: {
    name: string;
    source: 'api' | 'herald';
    where?: PropertyFilter[] | undefined;
    segmentId?: string | undefined;
    notBefore: Date;
  },
  cursor: Cursor,
  limit: number,
): Promise<ScannedEvent[]> {
  const result = await sql<ScannedEvent>`
    SELECT e.id, e.contact_id, e.properties, e.received_at FROM events AS e
    WHERE e.workspace_id = ${w.workspaceId} AND e.received_at > ${w.since} AND e.received_at <= ${w.until}
      AND e.received_at >= ${filter.notBefore}
      AND e.contact_id IS NOT NULL AND e.type = 'track' AND e.name = ${filter.name} AND e.source = ${filter.source}
      AND ${propertyFiltersSql('e', filter.where, w.until)}
      ${filter.segmentId ? sql`AND e.properties ->> 'segment_id' = ${filter.segmentId}` : sql``}
      ${cursor ? sql`AND (e.received_at, e.id) > (${cursor.at}, ${cursor.id}::uuid)` : sql``}
    ORDER BY e.received_at, e.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

export interface Interruption {
  run_id: string;
  step: number;
  node: string;
  instance_key: string;
  event_id: string;
  properties: Record<string, unknown>;
}

/**
 * Active runs of one automation version (optionally: waiting in one node)
 * whose contact performed a matching event in the window, after the run
 * entered (or, waiting, after the wait began). Served by the partial index
 * of active runs and the events' (workspace_id, contact_id, name, ...) index.
 */
export async function interruptions(
  db: Db,
  w: Window,
  run: { automationId: string; version: number; waitingIn?: string | undefined },
  filter: { name: string; where?: PropertyFilter[] | undefined },
  limit: number,
): Promise<Interruption[]> {
  const result = await sql<Interruption>`
    SELECT r.id AS run_id, r.step, r.node, r.instance_key, e.id AS event_id, e.properties
    FROM automation_runs AS r
    JOIN events AS e ON e.workspace_id = r.workspace_id AND e.contact_id = r.contact_id
    WHERE r.automation_id = ${run.automationId} AND r.version = ${run.version} AND r.status = 'active'
      ${
        run.waitingIn
          ? sql`AND r.node = ${run.waitingIn} AND r.waiting IS NOT NULL
                AND e.received_at >= (r.waiting ->> 'since')::timestamptz`
          : sql`AND e.received_at >= r.entered_at`
      }
      AND e.workspace_id = ${w.workspaceId} AND e.received_at > ${w.since} AND e.received_at <= ${w.until}
      AND e.type = 'track' AND e.name = ${filter.name} AND e.source = 'api'
      AND ${propertyFiltersSql('e', filter.where, w.until)}
    ORDER BY e.received_at, e.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

/** Versions with active runs, and the wait_for nodes runs of each wait in. */
export async function activeVersions(db: Db, automationId: string) {
  return sql<{ version: number; node: string; waiting: boolean }>`
    SELECT DISTINCT version, node, waiting IS NOT NULL AS waiting FROM automation_runs
    WHERE automation_id = ${automationId} AND status = 'active'`
    .execute(db)
    .then((r) => r.rows);
}

export async function createdContacts(
  db: Db,
  w: Window,
  notBefore: Date,
  cursor: Cursor,
  limit: number,
): Promise<{ id: string; at: Date }[]> {
  const result = await sql<{ id: string; at: Date }>`
    SELECT c.id, c.created_at AS at FROM contacts AS c
    WHERE c.workspace_id = ${w.workspaceId} AND c.created_at > ${w.since} AND c.created_at <= ${w.until}
      AND c.created_at >= ${notBefore}
      ${cursor ? sql`AND (c.created_at, c.id) > (${cursor.at}, ${cursor.id}::uuid)` : sql``}
    ORDER BY c.created_at, c.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

export async function consentRecords(
  db: Db,
  w: Window,
  filter: { listId: string; action: 'subscribe' | 'confirm'; notBefore: Date },
  cursor: Cursor,
  limit: number,
): Promise<{ id: string; contact_id: string; at: Date }[]> {
  const since = w.since.getTime();
  const result = await sql<{ id: string; contact_id: string; at: Date }>`
    SELECT r.id, r.contact_id, r.created_at AS at FROM consent_records AS r
    WHERE r.id > (lpad(to_hex(${since}::bigint), 12, '0') || repeat('0', 20))::uuid
      AND r.workspace_id = ${w.workspaceId} AND r.list_id = ${filter.listId} AND r.action = ${filter.action}
      AND r.created_at > ${w.since} AND r.created_at <= ${w.until} AND r.created_at >= ${filter.notBefore}
      ${cursor ? sql`AND (r.created_at, r.id) > (${cursor.at}, ${cursor.id}::uuid)` : sql``}
    ORDER BY r.created_at, r.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

export type ScheduleState = {
  occurrence: Date | null;
  members_after: string | null;
  done: boolean;
  date_checked_at: Date | null;
};

/** Where an automation's schedule / date_attribute trigger stands (automation_schedules). */
export async function scheduleState(
  db: Db,
  workspaceId: string,
  automationId: string,
): Promise<ScheduleState | undefined> {
  return db
    .selectFrom('automation_schedules')
    .select(['occurrence', 'members_after', 'done', 'date_checked_at'])
    .where('workspace_id', '=', workspaceId)
    .where('automation_id', '=', automationId)
    .executeTakeFirst();
}

export async function setScheduleState(
  db: Db,
  workspaceId: string,
  automationId: string,
  state: Partial<ScheduleState>,
): Promise<void> {
  await db
    .insertInto('automation_schedules')
    .values({ automation_id: automationId, workspace_id: workspaceId, ...state })
    .onConflict((oc) => oc.column('automation_id').doUpdateSet(state))
    .execute();
}

export interface DateCandidate {
  id: string;
  timezone: string | null;
  value: unknown;
}

/**
 * Contacts of the workspace whose attribute is a string starting with one of
 * `dates` (YYYY-MM-DD) or whose characters 6-10 are one of `monthDays`
 * (MM-DD), after `after` in id order. One pass over the workspace's contacts
 * (the (workspace_id, id) index, in pages); the scan runs it once per
 * quarter hour per automation.
 */
export async function dateCandidates(
  db: Db,
  workspaceId: string,
  filter: { attribute: string; dates?: string[] | undefined; monthDays?: string[] | undefined },
  after: string | undefined,
  limit: number,
): Promise<DateCandidate[]> {
  const value = sql`c.attributes ->> ${filter.attribute}`;
  const result = await sql<DateCandidate>`
    SELECT c.id, c.timezone, c.attributes -> ${filter.attribute} AS value FROM contacts AS c
    WHERE c.workspace_id = ${workspaceId}
      AND jsonb_typeof(c.attributes -> ${filter.attribute}) = 'string'
      AND ${
        filter.dates
          ? sql`left(${value}, 10) = ANY(${filter.dates}::text[])`
          : sql`substr(${value}, 6, 5) = ANY(${filter.monthDays ?? []}::text[])`
      }
      ${after ? sql`AND c.id > ${after}::uuid` : sql``}
    ORDER BY c.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

export interface ScannedHit {
  id: string;
  contact_id: string;
  campaign_id: string;
  url: string | null;
  at: Date;
}

/** The lowest UUIDv7 of an instant: hit ids are taken when the hit arrived, so id order is time order. */
const uuidAt = (at: Date) => sql`(lpad(to_hex(${at.getTime()}::bigint), 12, '0') || repeat('0', 20))::uuid`;

/** Kinds of hit classification that are people (README: human and proxy); the rest are machines. */
const PEOPLE = ['human', 'proxy'];

/**
 * Campaign opens or clicks by people (human, proxy) of the window, after
 * `cursor`, oldest first: optionally of one campaign, and for clicks of one
 * link destination (template_links.url). Served by the primary key (UUIDv7
 * ids in time order) or, with a campaign, (workspace_id, campaign_id, id).
 */
export async function engagementHits(
  db: Db,
  w: Window,
  filter: {
    kind: 'open' | 'click';
    campaignId?: string | undefined;
    linkUrl?: string | undefined;
    notBefore: Date;
  },
  cursor: Cursor,
  limit: number,
): Promise<ScannedHit[]> {
  const result = await sql<ScannedHit>`
    SELECT h.id, h.contact_id, h.campaign_id, l.url, h.occurred_at AS at
    FROM tracking_hits AS h
    LEFT JOIN template_links AS l ON l.id = h.link_id AND l.workspace_id = h.workspace_id
    WHERE h.id > ${uuidAt(w.since)} AND h.workspace_id = ${w.workspaceId}
      AND h.occurred_at > ${w.since} AND h.occurred_at <= ${w.until} AND h.occurred_at >= ${filter.notBefore}
      AND h.kind = ${filter.kind} AND h.classification = ANY(${PEOPLE}::text[])
      AND ${filter.campaignId ? sql`h.campaign_id = ${filter.campaignId}` : sql`h.campaign_id IS NOT NULL`}
      ${filter.linkUrl ? sql`AND l.url = ${filter.linkUrl}` : sql``}
      ${cursor ? sql`AND (h.occurred_at, h.id) > (${cursor.at}, ${cursor.id}::uuid)` : sql``}
    ORDER BY h.occurred_at, h.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

export interface EngagementInterruption {
  run_id: string;
  step: number;
  node: string;
  hit_id: string;
}

/**
 * Runs of one automation version waiting in wait_for node `waitingIn` whose
 * contact opened / clicked (as a person: human, proxy) the run's previous
 * email in the window, after the wait began. The previous email is the
 * message of the run's latest step with a message_id (send_email steps record
 * messages.id there, and hits of automation emails carry it as message_id).
 * Driven by the window's hits (primary key range), then one run per contact
 * (the active-runs index) and its latest steps (the step-execution key).
 */
export async function engagementInterruptions(
  db: Db,
  w: Window,
  run: { automationId: string; version: number; waitingIn: string },
  kind: 'open' | 'click',
  limit: number,
): Promise<EngagementInterruption[]> {
  const result = await sql<EngagementInterruption>`
    SELECT r.id AS run_id, r.step, r.node, h.id AS hit_id
    FROM tracking_hits AS h
    JOIN automation_runs AS r ON r.automation_id = ${run.automationId} AND r.contact_id = h.contact_id
      AND r.workspace_id = h.workspace_id AND r.status = 'active'
    WHERE h.id > ${uuidAt(w.since)} AND h.workspace_id = ${w.workspaceId}
      AND h.occurred_at > ${w.since} AND h.occurred_at <= ${w.until}
      AND h.kind = ${kind} AND h.classification = ANY(${PEOPLE}::text[])
      AND r.version = ${run.version} AND r.node = ${run.waitingIn} AND r.waiting IS NOT NULL
      AND h.occurred_at >= (r.waiting ->> 'since')::timestamptz
      AND h.message_id = (
        SELECT (s.outcome ->> 'message_id')::uuid FROM automation_step_executions AS s
        WHERE s.run_id = r.id AND s.outcome ? 'message_id'
        ORDER BY s.step DESC LIMIT 1)
    ORDER BY h.occurred_at, h.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

/** Which of `triggerIds` enrolled a run of the automation already (the unique (automation_id, trigger_id) index). */
export async function usedTriggerIds(
  db: Db,
  automationId: string,
  triggerIds: string[],
): Promise<Set<string>> {
  if (triggerIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('automation_runs')
    .select('trigger_id')
    .where('automation_id', '=', automationId)
    .where('trigger_id', 'in', triggerIds)
    .execute();
  return new Set(rows.map((r) => r.trigger_id as string));
}
