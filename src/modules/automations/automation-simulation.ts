import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { Contact, ContactService } from '../contacts/index.js';
import { propertyFiltersSql } from '../segments/index.js';
import {
  contactZone,
  nextAllowedSend,
  recentMarketingSends,
  type WorkspaceService,
} from '../workspaces/index.js';
import {
  type AutomationNode,
  EXIT_REASONS,
  type PropertyFilter,
  type UpdateContactNode,
} from './automation-definition.js';
import {
  executeNode,
  exitReasonFor,
  type LoadedVersion,
  type StepContext,
  type StepRun,
  type Transition,
  type Waiting,
} from './automation-engine.js';
import { type ArmCounts, banditSettings, inHoldout, summarizeBandit } from './automation-experiments.js';
import { armCounts } from './experiments.repository.js';

/**
 * Simulation: what an automation would do for one contact and a timeline of
 * events, without sending or changing anything. It drives the engine's own
 * `executeNode` (so branches, waits, splits and the sending policy decide
 * exactly as they will for real) inside a transaction that is rolled back:
 * a sample contact, the timeline's events and update_contact's changes are
 * written there so conditions see them as the engine would, then vanish.
 * Time moves as the engine's does when no worker lags: each step runs when
 * it is due, and an event moves a run (goal, wait_for) at its own time. At
 * one instant an event comes before a step due then, and a goal before a
 * wait_for, as the trigger scan handles them.
 */

export interface TimelineItem {
  at: string;
  /** A track event the contact performs, with properties. */
  event?: string | undefined;
  properties?: Record<string, unknown> | undefined;
  /** A (human) open or click of the previous email of the run. */
  engagement?: 'opened' | 'clicked' | undefined;
}

export interface SimulationInput {
  contact?:
    | { id?: string | undefined; email?: string | undefined; external_id?: string | undefined }
    | undefined;
  sample?:
    | {
        email?: string | undefined;
        status?: Contact['status'] | undefined;
        attributes?: Record<string, unknown> | undefined;
        tags?: string[] | undefined;
        timezone?: string | null | undefined;
        locale?: string | null | undefined;
      }
    | undefined;
  /** A published version number, or "draft"; default the current version. */
  version?: number | 'draft' | undefined;
  start_at?: string | undefined;
  /** How far to look ahead (default and most: 2 years after start_at). */
  until?: string | undefined;
  data?: Record<string, unknown> | undefined;
  instance_key?: string | undefined;
  timeline?: TimelineItem[] | undefined;
}

export interface SimulatedStep {
  step: number;
  node: string;
  type: AutomationNode['type'];
  at: string;
  outcome: Record<string, unknown>;
}

export interface SimulatedEmail {
  step: number;
  node: string;
  at: string;
  template_id: string;
  template_version_id: string;
  template_name: string;
  kind: 'marketing' | 'transactional';
}

export interface SimulationResult {
  automation_id: string;
  version: number | 'draft';
  contact: { id: string | null; sample: boolean };
  started_at: string;
  steps: SimulatedStep[];
  emails: SimulatedEmail[];
  webhooks: { step: number; node: string; at: string; url: string }[];
  end: {
    /** active: still inside at `until` (waiting in `node` until `next_run_at`). */
    status: 'completed' | 'exited' | 'failed' | 'active';
    reason: string | null;
    node: string;
    at: string | null;
    next_run_at: string | null;
  };
}

export interface SimulationSubject {
  automationId: string;
  version: number | 'draft';
  loaded: LoadedVersion;
}

const MAX_STEPS = 1000;
const MAX_HORIZON_MS = 2 * 366 * 86_400_000;

class RolledBack extends Error {
  constructor(readonly result: SimulationResult) {
    super('simulation rolled back');
  }
}

function instant(value: string | undefined, path: string, errors: ErrorDetail[]): Date | undefined {
  if (value === undefined) return undefined;
  const ms = /(?:Z|[+-]\d{2}:?\d{2})$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    errors.push({ path, message: `"${value}" is not a time with a zone, such as 2026-12-01T09:00:00Z` });
    return undefined;
  }
  return new Date(ms);
}

export function createAutomationSimulator(deps: {
  db: Db;
  clock: Clock;
  contacts: Pick<ContactService, 'findOne' | 'findByIds'>;
  workspaces: Pick<WorkspaceService, 'get'>;
}) {
  const { db, clock, contacts } = deps;

  function checkInput(input: SimulationInput) {
    const errors: ErrorDetail[] = [];
    if ((input.contact === undefined) === (input.sample === undefined))
      errors.push({
        path: '/contact',
        message:
          'give either "contact" (one of id, email, external_id of a contact) or "sample" (made-up data)',
      });
    if (input.contact && Object.values(input.contact).filter((v) => v !== undefined).length !== 1)
      errors.push({ path: '/contact', message: 'give exactly one of id, email, external_id' });
    const start = instant(input.start_at, '/start_at', errors) ?? clock.now();
    const until = instant(input.until, '/until', errors) ?? new Date(start.getTime() + MAX_HORIZON_MS);
    if (until.getTime() < start.getTime())
      errors.push({ path: '/until', message: 'until is before start_at' });
    if (until.getTime() - start.getTime() > MAX_HORIZON_MS)
      errors.push({ path: '/until', message: 'a simulation looks at most 2 years ahead' });
    const timeline: (TimelineItem & { time: Date; index: number })[] = [];
    (input.timeline ?? []).forEach((item, index) => {
      const path = `/timeline/${index}`;
      const time = instant(item.at, `${path}/at`, errors);
      if ((item.event === undefined) === (item.engagement === undefined))
        errors.push({ path, message: 'each timeline item has either "event" or "engagement"' });
      if (item.engagement !== undefined && item.properties !== undefined)
        errors.push({ path: `${path}/properties`, message: 'an engagement has no properties' });
      if (time && time.getTime() < start.getTime())
        errors.push({
          path: `${path}/at`,
          message: `${item.at} is before the simulation starts (${start.toISOString()})`,
        });
      if (time) timeline.push({ ...item, time, index });
    });
    if (errors.length > 0)
      throw new DomainError(
        'VALIDATION_FAILED',
        `cannot simulate: ${errors[0]?.path}: ${errors[0]?.message}`,
        errors,
      );
    // Stable: items at the same time keep their order.
    timeline.sort((a, b) => a.time.getTime() - b.time.getTime() || a.index - b.index);
    return { start, until, timeline };
  }

  async function realContact(workspaceId: string, input: SimulationInput): Promise<Contact | undefined> {
    if (input.contact) {
      const found = await contacts.findOne(workspaceId, input.contact);
      if (!found) {
        const [field, value] = Object.entries(input.contact).find(([, v]) => v !== undefined) ?? ['id', ''];
        throw new DomainError(
          'CONTACT_NOT_FOUND',
          `no contact with ${field} "${value}" in this workspace; create it (POST /v1/contacts) or simulate made-up data with "sample"`,
          [{ path: `/contact/${field}`, message: 'no such contact' }],
        );
      }
      return found;
    }
    return undefined;
  }

  /** A sample contact exists only in the simulation's transaction. */
  async function sampleContact(
    trx: Db,
    workspaceId: string,
    input: SimulationInput,
    at: Date,
  ): Promise<Contact> {
    const sample = input.sample ?? {};
    const id = uuidv7(at.getTime());
    await trx
      .insertInto('contacts')
      .values({
        id,
        workspace_id: workspaceId,
        email: sample.email ?? `simulated-${id}@example.invalid`,
        status: sample.status ?? 'active',
        attributes: JSON.stringify(sample.attributes ?? {}),
        tags: sample.tags ?? [],
        timezone: sample.timezone ?? null,
        locale: sample.locale ?? null,
        created_at: at,
        updated_at: at,
      })
      .execute();
    const [contact] = await contacts.findByIds(workspaceId, [id], trx);
    if (!contact) throw new Error('the sample contact was not written');
    return contact;
  }

  /** Writes update_contact's changes in the simulation's transaction, so later conditions see them. */
  async function applyUpdate(
    trx: Db,
    workspaceId: string,
    contact: Contact,
    node: UpdateContactNode,
    at: Date,
  ) {
    const attributes = { ...contact.attributes, ...(node.set_attributes ?? {}) };
    for (const name of node.unset_attributes ?? []) delete attributes[name];
    for (const [name, value] of Object.entries(attributes)) if (value === null) delete attributes[name];
    const tags = [...new Set([...contact.tags, ...(node.add_tags ?? [])])].filter(
      (tag) => !(node.remove_tags ?? []).includes(tag),
    );
    contact.attributes = attributes;
    contact.tags = tags;
    if (node.status) contact.status = node.status;
    await trx
      .updateTable('contacts')
      .set({ attributes: JSON.stringify(attributes), tags, status: contact.status, updated_at: at })
      .where('id', '=', contact.id)
      .execute();
    for (const listId of node.add_to_lists ?? []) {
      const list = await trx.selectFrom('lists').select('opt_in').where('id', '=', listId).executeTakeFirst();
      if (!list) continue;
      const status = list.opt_in === 'double' ? 'unconfirmed' : 'confirmed';
      await sql`
        INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
        VALUES (${workspaceId}, ${listId}, ${contact.id}, ${status}, ${at}, ${at})
        ON CONFLICT (list_id, contact_id) DO UPDATE SET
          status = CASE WHEN list_memberships.status = 'confirmed' THEN 'confirmed' ELSE EXCLUDED.status END,
          updated_at = EXCLUDED.updated_at`.execute(trx);
    }
    for (const listId of node.remove_from_lists ?? [])
      await trx
        .deleteFrom('list_memberships')
        .where('list_id', '=', listId)
        .where('contact_id', '=', contact.id)
        .execute();
  }

  async function matches(
    trx: Db,
    properties: Record<string, unknown>,
    where: PropertyFilter[] | undefined,
    at: Date,
  ) {
    if (!where || where.length === 0) return true;
    const result = await sql<{ ok: boolean }>`
      SELECT ${propertyFiltersSql('e', where, at)} AS ok FROM (SELECT ${JSON.stringify(properties)}::jsonb AS properties) AS e`.execute(
      trx,
    );
    return result.rows[0]?.ok === true;
  }

  return {
    async simulate(
      workspaceId: string,
      subject: SimulationSubject,
      input: SimulationInput,
    ): Promise<SimulationResult> {
      const { start, until, timeline } = checkInput(input);
      const { loaded } = subject;
      const definition = loaded.definition;
      // Read before the transaction: the embedded database has one connection, which the transaction holds.
      const workspace = await deps.workspaces.get(workspaceId);
      const real = await realContact(workspaceId, input);
      // A real contact of the holdout group would enter and end at once (sample contacts never do).
      if (real && inHoldout(subject.automationId, real.id, definition.holdout?.share))
        return {
          automation_id: subject.automationId,
          version: subject.version,
          contact: { id: real.id, sample: false },
          started_at: start.toISOString(),
          steps: [],
          emails: [],
          webhooks: [],
          end: {
            status: 'exited',
            reason: 'holdout',
            node: definition.start,
            at: start.toISOString(),
            next_run_at: null,
          },
        };
      // Bandit splits decide on the evidence as it is now (outcomes known by now, as the report counts them).
      const arms = new Map<string, (ArmCounts | undefined)[]>();
      for (const n of loaded.nodes.values()) {
        const bandit = n.type === 'random_split' ? banditSettings(n) : undefined;
        if (!bandit) continue;
        const rows = await armCounts(
          db,
          { workspaceId, automationId: subject.automationId, nodeId: n.id, metric: bandit.metric },
          clock.now(),
          { judgePending: true },
        );
        const aligned: (ArmCounts | undefined)[] = [];
        for (const row of rows) aligned[row.path] = row;
        arms.set(n.id, aligned);
      }
      // The contact's real marketing email before the start counts against the caps as the engine counts it.
      const before = real
        ? ((
            await recentMarketingSends(
              db,
              workspaceId,
              [real.id],
              new Date(start.getTime() - 7 * 86_400_000),
              {},
            )
          ).get(real.id) ?? [])
        : [];
      try {
        await db.transaction().execute(async (trx) => {
          const contact = real ? { ...real } : await sampleContact(trx, workspaceId, input, start);
          const run: StepRun = {
            id: uuidv7(start.getTime()),
            automation_id: subject.automationId,
            version: typeof subject.version === 'number' ? subject.version : 0,
            workspace_id: workspaceId,
            instance_key: input.instance_key ?? '',
            waiting: null,
            data: input.data ?? {},
          };
          const steps: SimulatedStep[] = [];
          const emails: SimulatedEmail[] = [];
          const webhooks: SimulationResult['webhooks'] = [];
          const marketingSent: Date[] = [];
          let pendingSend: Omit<SimulatedEmail, 'step' | 'at'> | undefined;

          // Events become visible to conditions as simulated time reaches them.
          let written = 0;
          const partitions = new Set<string>();
          const writeEventsUpTo = async (t: Date) => {
            while (written < timeline.length && (timeline[written]?.time.getTime() ?? 0) <= t.getTime()) {
              const item = timeline[written++];
              if (!item?.event) continue;
              const month = `${item.time.toISOString().slice(0, 7)}-01`;
              if (!partitions.has(month)) {
                await sql`SELECT herald_events_partition(${month}::date)`.execute(trx);
                partitions.add(month);
              }
              await sql`
                INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, properties)
                VALUES (${uuidv7(item.time.getTime())}, ${workspaceId}, ${item.time}, ${item.time}, 'track', ${item.event},
                        ${contact.id}, ${`simulation-${item.index}`}, ${JSON.stringify(item.properties ?? {})})`.execute(
                trx,
              );
            }
          };

          let node = definition.start;
          let due = start;
          let waiting: Waiting | null = null;
          /** Events up to here were considered for goals. */
          let consideredUntil = start.getTime() - 1;
          let clockAt = start;
          const ctx: StepContext = {
            db: trx,
            workspaceZone: async () => workspace.timezone,
            // The sending policy only: throttles and warm-up caps are not consulted, so a simulation
            // neither reserves nor reads real sending budget (it depends on other traffic at the real time).
            deferral: async (c, now) =>
              nextAllowedSend(
                workspace.sending_policy,
                contactZone(c.timezone, workspace.timezone),
                [...before, ...marketingSent],
                now,
              ),
            send: async (message) => {
              const pinned = loaded.resolved.emails[node];
              pendingSend = {
                node,
                template_id: message.template_id ?? '',
                template_version_id: message.template_version_id ?? '',
                template_name: pinned?.template_name ?? '',
                kind: message.automation?.marketing === false ? 'transactional' : 'marketing',
              };
              return { message: { id: 'simulated', status: 'simulated' }, created: true };
            },
            update: (c, node) => applyUpdate(trx, workspaceId, c, node, clockAt),
            // A simulated run has chosen nothing before, and its choice is not recorded.
            bandit: {
              recorded: async () => undefined,
              arms: async (key) => arms.get(key.nodeId) ?? [],
              record: async (row) => ({ path: row.path, chosen_by: row.chosen_by }),
            },
          };

          const finish = (end: SimulationResult['end']): never => {
            throw new RolledBack({
              automation_id: subject.automationId,
              version: subject.version,
              contact: { id: input.contact ? contact.id : null, sample: input.sample !== undefined },
              started_at: start.toISOString(),
              steps,
              emails,
              webhooks,
              end,
            });
          };
          const record = (at: Date, nodeId: string, outcome: Record<string, unknown>) => {
            const type = loaded.nodes.get(nodeId)?.type ?? 'exit';
            steps.push({ step: steps.length + 1, node: nodeId, type, at: at.toISOString(), outcome });
          };
          const goal = definition.goal;
          const key = definition.instance_key;

          for (;;) {
            if (steps.length >= MAX_STEPS)
              finish({
                status: 'failed',
                reason: `the simulation stopped after ${MAX_STEPS} steps: does the journey loop?`,
                node,
                at: due.toISOString(),
                next_run_at: null,
              });
            // What happens first up to `due`: a goal event, the event a wait_for waits for, or the step itself.
            let goalAt: (TimelineItem & { time: Date }) | undefined;
            if (goal)
              for (const item of timeline) {
                const t = item.time.getTime();
                if (t <= consideredUntil || t > due.getTime() || item.event !== goal.event) continue;
                const named = key ? item.properties?.[key] : undefined;
                if (named !== undefined && named !== null && String(named) !== run.instance_key) continue;
                if (await matches(trx, item.properties ?? {}, goal.where, item.time)) {
                  goalAt = item;
                  break;
                }
              }
            let heard: (TimelineItem & { time: Date }) | undefined;
            if (waiting)
              for (const item of timeline) {
                const t = item.time.getTime();
                if (t < Date.parse(waiting.since) || t > due.getTime()) continue;
                if (goalAt && t >= goalAt.time.getTime()) break;
                const fits = waiting.engagement
                  ? item.engagement === waiting.engagement
                  : item.event === waiting.event &&
                    (await matches(trx, item.properties ?? {}, waiting.where, item.time));
                if (fits) {
                  heard = item;
                  break;
                }
              }
            if (goalAt && !heard) {
              if (goalAt.time.getTime() > until.getTime()) break;
              await writeEventsUpTo(goalAt.time);
              record(goalAt.time, goal?.node as string, { goal: true, event: goalAt.event });
              finish({
                status: 'completed',
                reason: 'goal',
                node: goal?.node as string,
                at: goalAt.time.toISOString(),
                next_run_at: null,
              });
            }
            if (heard) {
              if (heard.time.getTime() > until.getTime()) break;
              const waitNode = loaded.nodes.get(node);
              record(
                heard.time,
                node,
                heard.event ? { event: heard.event } : { engagement: heard.engagement },
              );
              node = waitNode?.type === 'wait_for' ? waitNode.next : node;
              due = heard.time;
              waiting = null;
              consideredUntil = heard.time.getTime() - 1;
              continue;
            }
            if (due.getTime() > until.getTime()) break;
            const now = due;
            clockAt = now;
            await writeEventsUpTo(now);
            consideredUntil = now.getTime();
            const current = loaded.nodes.get(node);
            let transition: Transition;
            const exit = exitReasonFor(contact.status, definition.exit_on ?? EXIT_REASONS);
            if (!current)
              transition = { end: 'failed', reason: `node "${node}" is not in this version`, outcome: {} };
            else if (exit) transition = { end: 'exited', reason: exit, outcome: { exited: exit } };
            else {
              pendingSend = undefined;
              try {
                transition = await executeNode(
                  ctx,
                  { ...run, waiting },
                  steps.length + 1,
                  current,
                  loaded,
                  contact,
                  now,
                );
              } catch (error) {
                if (!(error instanceof DomainError)) throw error;
                transition = {
                  end: 'failed',
                  reason: `node "${node}": ${error.code}: ${error.message}`,
                  outcome: { error: error.code },
                };
              }
            }
            const outcome = { ...transition.outcome };
            if ('message_id' in outcome) {
              delete outcome.message_id;
              delete outcome.message_status;
              outcome.email = 'would be sent';
            }
            if (current?.type === 'random_split' && 'bandit' in outcome)
              // The odds behind the draw: what share of new runs takes each path now.
              outcome.shares = summarizeBandit(
                current.paths.map((p) => p.percent),
                arms.get(current.id) ?? [],
                `${subject.automationId}:${current.id}`,
              ).arms.map((a) => a.share_of_new_runs);
            record(now, node, outcome);
            if (pendingSend) {
              emails.push({ ...pendingSend, step: steps.length, at: now.toISOString() });
              if (pendingSend.kind === 'marketing') marketingSent.push(now);
              pendingSend = undefined;
            }
            if (transition.webhook)
              webhooks.push({ step: steps.length, node, at: now.toISOString(), url: transition.webhook.url });
            if ('end' in transition)
              finish({
                status: transition.end,
                reason: transition.reason,
                node,
                at: now.toISOString(),
                next_run_at: null,
              });
            else {
              node = transition.to;
              due = transition.at.getTime() > now.getTime() ? transition.at : now;
              if (transition.waiting !== undefined) waiting = transition.waiting;
            }
          }
          finish({
            status: 'active',
            reason: null,
            node,
            at: null,
            next_run_at: due.toISOString(),
          });
        });
      } catch (error) {
        if (error instanceof RolledBack) return error.result;
        throw error;
      }
      throw new Error('the simulation ended without a result');
    },
  };
}

export type AutomationSimulator = ReturnType<typeof createAutomationSimulator>;
