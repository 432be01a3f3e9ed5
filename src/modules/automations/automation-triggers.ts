import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { TaskRegistry } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { encodeCursor } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import type { SegmentService } from '../segments/index.js';
import type { WorkspaceService } from '../workspaces/index.js';
import type { AutomationDefinition, PropertyFilter, Trigger } from './automation-definition.js';
import type { AutomationEngine, EnrolInput } from './automation-engine.js';
import * as runs from './runs.repository.js';
import { candidateValues, dueOccurrence, latestOccurrence, zoneOf } from './trigger-times.js';
import * as repo from './triggers.repository.js';

export const TRIGGERS_TASK = 'automations.triggers';

/**
 * The trigger scan (the periodic `automations.triggers` job): per workspace
 * with active automations, reads what arrived since its watermark, minus an
 * overlap for transactions that committed late (and tracking hits the
 * buffered writer stored late), and
 * - enrols contacts: `event` triggers (with `where` and the instance key
 *   from the event property), `segment_entered` / `segment_exited` (the
 *   segment events Herald writes), `contact_created`, `list_subscribed` /
 *   `list_confirmed` (consent records of action subscribe / confirm),
 *   `engagement` (campaign opens / clicks by people: classification human or
 *   proxy; prefetches, scanners and bots never enrol); trigger ids
 *   `event:<id>`, `contact:<id>`, `consent:<id>`, `hit:<id>`;
 * - `date_attribute`: once per quarter hour per automation (UTC offsets are
 *   whole quarter hours, so that is when a contact's local hour can begin),
 *   a pass over the contacts whose attribute can be due (the query narrows by
 *   the three possible dates) enrols those whose local day (contact's zone,
 *   else the workspace's) is the date plus offset_days and whose local time
 *   is at or past `hour`; trigger id `date:<attribute>:<occurrence>:<contact>`,
 *   so a contact enters once per occurrence, and a day whose hour passed
 *   while no worker ran is still enrolled later that day;
 * - `schedule`: at the latest cron occurrence (trigger zone, else the
 *   workspace's) after the last one handled (automation_schedules), the
 *   segment's current members, a page at a time (at most `schedulePages` per
 *   scan, resumed by the next), trigger id `schedule:<occurrence>:<contact>`;
 *   occurrences missed while no worker ran are handled once, as the latest;
 * enrolment is idempotent by (automation, trigger id), so what the overlap
 * reads again enrols nobody twice;
 * - moves active runs whose contact performed the definition's goal event to
 *   the goal node (the run completes with reason goal), and runs waiting in a
 *   wait_for for an event, or for an open / click (by a person) of the run's
 *   previous email, on to its `next`. Both are steps under the run's lock, so
 *   an event or hit read twice moves a run once.
 */
export function createTriggerScan(deps: {
  db: Db;
  clock: Clock;
  logger: Logger;
  engine: Pick<AutomationEngine, 'enroll' | 'interrupt'>;
  /** Schedule triggers enrol the segment's members. */
  segments: Pick<SegmentService, 'contacts'>;
  /** The workspace's time zone (schedules, contacts without a zone). */
  workspaces: Pick<WorkspaceService, 'get'>;
  /** How far back each scan reads again what the previous one read (default 60 s). */
  overlapMs?: number;
  /** Rows read per query (default 1000). */
  pageSize?: number;
  /** Pages of a schedule's segment one scan enrols per automation before leaving the rest to the next (default 10). */
  schedulePages?: number;
}) {
  const { db, clock, logger, engine } = deps;
  const overlapMs = deps.overlapMs ?? 60_000;
  const pageSize = deps.pageSize ?? 1000;
  const schedulePages = deps.schedulePages ?? 10;
  /** Workspace time zones, read once per scan. */
  let zones = new Map<string, Promise<string>>();
  const workspaceZone = (workspaceId: string) => {
    let zone = zones.get(workspaceId);
    if (!zone) {
      zone = deps.workspaces.get(workspaceId).then((w) => zoneOf(w.timezone, undefined));
      zones.set(workspaceId, zone);
    }
    return zone;
  };
  const versions = new Map<string, AutomationDefinition>();

  async function definitionOf(
    automationId: string,
    version: number,
  ): Promise<AutomationDefinition | undefined> {
    const key = `${automationId}:${version}`;
    const cached = versions.get(key);
    if (cached) return cached;
    const row = await runs.versionOf(db, automationId, version);
    if (!row) return undefined;
    const definition = row.definition as AutomationDefinition;
    versions.set(key, definition);
    return definition;
  }

  /** Reads every page of a keyset query and hands each row on. */
  async function pages<T extends { id: string }>(
    read: (cursor: repo.Cursor) => Promise<T[]>,
    at: (row: T) => Date,
    each: (row: T) => Promise<void>,
  ): Promise<void> {
    let cursor: repo.Cursor;
    for (;;) {
      const rows = await read(cursor);
      for (const row of rows) await each(row);
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) return;
      cursor = { at: at(last), id: last.id };
    }
  }

  let enrolled = 0;
  let moved = 0;

  async function enrol(workspaceId: string, automationId: string, input: EnrolInput, triggerId: string) {
    try {
      const result = await engine.enroll(workspaceId, automationId, input, triggerId);
      if (result.enrolled) enrolled++;
    } catch (error) {
      // Paused or archived since the scan began, a contact deleted meanwhile: nothing to enrol.
      if (!(error instanceof DomainError)) throw error;
    }
  }

  async function enrolFromTrigger(
    w: repo.Window,
    automation: Awaited<ReturnType<typeof repo.activeAutomations>>[number],
  ) {
    const definition = automation.definition as AutomationDefinition;
    const trigger = definition.trigger;
    const ws = w.workspaceId;
    const notBefore = automation.published_at;
    const eventPages = (
      name: string,
      source: 'api' | 'herald',
      filter: { where?: PropertyFilter[] | undefined; segmentId?: string },
    ) =>
      pages(
        (cursor) => repo.events(db, w, { name, source, ...filter, notBefore }, cursor, pageSize),
        (e) => e.received_at,
        async (e) => {
          let instanceKey: string | undefined;
          if (definition.instance_key) {
            const value = e.properties[definition.instance_key];
            // An event without the property names no instance: it cannot enrol (README says so).
            if (value === undefined || value === null || typeof value === 'object') return;
            instanceKey = String(value);
          }
          await enrol(
            ws,
            automation.id,
            { contact: { id: e.contact_id }, instance_key: instanceKey, data: e.properties },
            `event:${e.id}`,
          );
        },
      );
    switch (trigger.type) {
      case 'event':
        return eventPages(trigger.event, 'api', { where: trigger.where });
      case 'segment_entered':
      case 'segment_exited':
        return eventPages(
          trigger.type === 'segment_entered' ? 'segment.entered' : 'segment.exited',
          'herald',
          { segmentId: trigger.segment_id },
        );
      case 'contact_created':
        return pages(
          (cursor) => repo.createdContacts(db, w, notBefore, cursor, pageSize),
          (c) => c.at,
          (c) => enrol(ws, automation.id, { contact: { id: c.id } }, `contact:${c.id}`),
        );
      case 'list_subscribed':
      case 'list_confirmed':
        return pages(
          (cursor) =>
            repo.consentRecords(
              db,
              w,
              {
                listId: trigger.list_id,
                action: trigger.type === 'list_subscribed' ? 'subscribe' : 'confirm',
                notBefore,
              },
              cursor,
              pageSize,
            ),
          (r) => r.at,
          (r) => enrol(ws, automation.id, { contact: { id: r.contact_id } }, `consent:${r.id}`),
        );
      case 'engagement':
        return pages(
          (cursor) =>
            repo.engagementHits(
              db,
              w,
              {
                kind: trigger.action === 'opened' ? 'open' : 'click',
                campaignId: trigger.campaign_id,
                linkUrl: trigger.link_url,
                notBefore,
              },
              cursor,
              pageSize,
            ),
          (h) => h.at,
          (h) =>
            enrol(
              ws,
              automation.id,
              {
                contact: { id: h.contact_id },
                data: {
                  campaign_id: h.campaign_id,
                  action: trigger.action,
                  ...(h.url ? { url: h.url } : {}),
                },
              },
              `hit:${h.id}`,
            ),
        );
      case 'date_attribute':
        return dateAttribute(w, automation.id, trigger);
      case 'schedule':
        return schedule(w, automation.id, trigger, notBefore);
      default:
        return;
    }
  }

  const QUARTER_HOUR_MS = 15 * 60_000;

  /** The date pass of a date_attribute trigger, when the quarter hour changed since the last complete one. */
  async function dateAttribute(
    w: repo.Window,
    automationId: string,
    trigger: Extract<Trigger, { type: 'date_attribute' }>,
  ) {
    const now = w.until;
    const state = await repo.scheduleState(db, w.workspaceId, automationId);
    const last = state?.date_checked_at;
    if (last && Math.floor(last.getTime() / QUARTER_HOUR_MS) === Math.floor(now.getTime() / QUARTER_HOUR_MS))
      return;
    const fallback = await workspaceZone(w.workspaceId);
    const filter = { attribute: trigger.attribute, ...candidateValues(trigger, now) };
    let after: string | undefined;
    for (;;) {
      const rows = await repo.dateCandidates(db, w.workspaceId, filter, after, pageSize);
      const due = rows.flatMap((c) => {
        const occurrence = dueOccurrence(trigger, c.value, now, zoneOf(c.timezone, fallback));
        return occurrence
          ? [{ id: c.id, occurrence, triggerId: `date:${trigger.attribute}:${occurrence}:${c.id}` }]
          : [];
      });
      // Every pass of the day finds the day's contacts again: skip those enrolled already in one query.
      const used = await repo.usedTriggerIds(
        db,
        automationId,
        due.map((d) => d.triggerId),
      );
      for (const d of due)
        if (!used.has(d.triggerId))
          await enrol(
            w.workspaceId,
            automationId,
            { contact: { id: d.id }, data: { attribute: trigger.attribute, date: d.occurrence } },
            d.triggerId,
          );
      after = rows[rows.length - 1]?.id;
      if (rows.length < pageSize) break;
    }
    // Only a complete pass counts: one that failed half-way is run again by the next scan.
    await repo.setScheduleState(db, w.workspaceId, automationId, { date_checked_at: now });
  }

  /**
   * A schedule trigger: the latest cron occurrence after the one handled last
   * (or after publication) enrols the segment's members, at most
   * `schedulePages` pages per scan; the state says where the next scan goes on.
   */
  async function schedule(
    w: repo.Window,
    automationId: string,
    trigger: Extract<Trigger, { type: 'schedule' }>,
    notBefore: Date,
  ) {
    const ws = w.workspaceId;
    const state = await repo.scheduleState(db, ws, automationId);
    const zone = trigger.timezone ?? (await workspaceZone(ws));
    const since = state?.occurrence && state.occurrence > notBefore ? state.occurrence : notBefore;
    const due = latestOccurrence(trigger.cron, since, w.until, zone);
    let occurrence: Date;
    let after: string | null;
    if (due) {
      // A newer occurrence replaces one still in progress: its members get the newer one.
      occurrence = due;
      after = null;
      await repo.setScheduleState(db, ws, automationId, { occurrence, members_after: null, done: false });
    } else if (state?.occurrence && !state.done) {
      occurrence = state.occurrence;
      after = state.members_after;
    } else return;
    const at = occurrence.toISOString();
    for (let page = 0; page < schedulePages; page++) {
      let members: Awaited<ReturnType<typeof deps.segments.contacts>>;
      try {
        members = await deps.segments.contacts(ws, trigger.segment_id, {
          cursor: after ? encodeCursor(after) : undefined,
          limit: pageSize,
        });
      } catch (error) {
        // A segment deleted since publication (or one that no longer compiles): it has no members to enrol.
        if (!(error instanceof DomainError)) throw error;
        logger.warn({ automation_id: automationId, err: error.code }, 'schedule segment cannot be read');
        await repo.setScheduleState(db, ws, automationId, { done: true });
        return;
      }
      for (const c of members.data)
        await enrol(
          ws,
          automationId,
          { contact: { id: c.id }, data: { occurrence: at } },
          `schedule:${at}:${c.id}`,
        );
      after = members.data[members.data.length - 1]?.id ?? after;
      const done = members.next_cursor === null;
      await repo.setScheduleState(db, ws, automationId, { members_after: after, done });
      if (done) return;
    }
  }

  /** Goals, then wait_for events, for the runs of every version with runs inside. */
  async function interrupt(w: repo.Window, automationId: string) {
    const inside = await repo.activeVersions(db, automationId);
    for (const version of [...new Set(inside.map((r) => r.version))]) {
      const definition = await definitionOf(automationId, version);
      if (!definition) continue;
      const key = definition.instance_key;
      const goal = definition.goal;
      if (goal) {
        const rows = await repo.interruptions(
          db,
          w,
          { automationId, version },
          { name: goal.event, where: goal.where },
          100_000,
        );
        for (const row of rows) {
          // With an instance key, a goal event that names an instance reaches that run only.
          const named = key ? row.properties[key] : undefined;
          if (named !== undefined && named !== null && String(named) !== row.instance_key) continue;
          if (
            await engine.interrupt(
              { id: row.run_id, step: row.step, node: row.node },
              'goal',
              goal.node,
              row.event_id,
            )
          )
            moved++;
        }
      }
      for (const waiting of inside.filter((r) => r.version === version && r.waiting)) {
        const node = definition.nodes.find((n) => n.id === waiting.node);
        if (node?.type !== 'wait_for') continue;
        if (node.engagement) {
          const hits = await repo.engagementInterruptions(
            db,
            w,
            { automationId, version, waitingIn: node.id },
            node.engagement === 'opened' ? 'open' : 'click',
            100_000,
          );
          for (const row of hits)
            if (
              await engine.interrupt(
                { id: row.run_id, step: row.step, node: row.node },
                'engagement',
                node.next,
                row.hit_id,
              )
            )
              moved++;
          continue;
        }
        if (!node.event) continue;
        const rows = await repo.interruptions(
          db,
          w,
          { automationId, version, waitingIn: node.id },
          { name: node.event, where: node.where },
          100_000,
        );
        for (const row of rows)
          if (
            await engine.interrupt(
              { id: row.run_id, step: row.step, node: row.node },
              'event',
              node.next,
              row.event_id,
            )
          )
            moved++;
      }
    }
  }

  return {
    /** One scan of every workspace with active automations. */
    async scan(): Promise<{ enrolled: number; moved: number }> {
      enrolled = 0;
      moved = 0;
      zones = new Map();
      const until = clock.now();
      const active = await repo.activeAutomations(db);
      const byWorkspace = new Map<string, typeof active>();
      for (const a of active)
        byWorkspace.set(a.workspace_id, [...(byWorkspace.get(a.workspace_id) ?? []), a]);
      for (const [workspaceId, automations] of byWorkspace) {
        const last = (await repo.watermark(db, workspaceId)) ?? until;
        const w = { workspaceId, since: new Date(last.getTime() - overlapMs), until };
        for (const automation of automations) {
          try {
            await enrolFromTrigger(w, automation);
            await interrupt(w, automation.id);
          } catch (error) {
            logger.error(
              { automation_id: automation.id, err: (error as Error).message },
              'automation trigger scan failed',
            );
            throw error;
          }
        }
        await repo.setWatermark(db, workspaceId, until);
      }
      return { enrolled, moved };
    },
  };
}

export type TriggerScan = ReturnType<typeof createTriggerScan>;

export function automationTasks(deps: { triggers: TriggerScan }): TaskRegistry {
  return {
    [TRIGGERS_TASK]: {
      run: async () => {
        await deps.triggers.scan();
      },
    },
  };
}
