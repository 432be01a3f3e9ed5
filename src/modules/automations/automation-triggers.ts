import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { TaskRegistry } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import type { AutomationDefinition, PropertyFilter } from './automation-definition.js';
import type { AutomationEngine, EnrolInput } from './automation-engine.js';
import * as runs from './runs.repository.js';
import * as repo from './triggers.repository.js';

export const TRIGGERS_TASK = 'automations.triggers';

/**
 * The trigger scan (the periodic `automations.triggers` job): per workspace
 * with active automations, reads what arrived since its watermark, minus an
 * overlap for transactions that committed late, and
 * - enrols contacts: `event` triggers (with `where` and the instance key
 *   from the event property), `segment_entered` / `segment_exited` (the
 *   segment events Herald writes), `contact_created`, `list_subscribed` /
 *   `list_confirmed` (consent records of action subscribe / confirm);
 *   enrolment is idempotent by (automation, trigger id), so what the overlap
 *   reads again enrols nobody twice;
 * - moves active runs whose contact performed the definition's goal event to
 *   the goal node (the run completes with reason goal), and runs waiting in a
 *   wait_for for an event on to its `next`. Both are steps under the run's
 *   lock, so an event read twice moves a run once.
 * `date_attribute`, `schedule` and `engagement` triggers do not enrol yet.
 */
export function createTriggerScan(deps: {
  db: Db;
  clock: Clock;
  logger: Logger;
  engine: Pick<AutomationEngine, 'enroll' | 'interrupt'>;
  /** How far back each scan reads again what the previous one read (default 60 s). */
  overlapMs?: number;
  /** Rows read per query (default 1000). */
  pageSize?: number;
}) {
  const { db, clock, logger, engine } = deps;
  const overlapMs = deps.overlapMs ?? 60_000;
  const pageSize = deps.pageSize ?? 1000;
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
      default:
        return;
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
        if (node?.type !== 'wait_for' || !node.event) continue;
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
