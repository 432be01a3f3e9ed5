import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AutomationRunStatus, Db } from '../../db/index.js';
import type { JobQueue } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { offsetAt, zonedTimeToUtc } from '../../lib/zoned-time.js';
import type { ConsentOrigin } from '../consent/index.js';
import type { Contact, ContactService } from '../contacts/index.js';
import type { ListService } from '../lists/index.js';
import type { MessageService } from '../messages/index.js';
import { contactMatches } from '../segments/index.js';
import { recordWebhookEvent } from '../webhooks/index.js';
import {
  contactZone,
  type Deferral,
  type SendingPolicyCheck,
  type WorkspaceService,
} from '../workspaces/index.js';
import {
  type AutomationDefinition,
  type AutomationNode,
  type Duration,
  EXIT_REASONS,
  type ExitReason,
  type PropertyFilter,
  type UpdateContactNode,
  type WaitNode,
  WEEKDAYS,
} from './automation-definition.js';
import { type ArmCounts, banditSettings, chooseBanditPath, inHoldout } from './automation-experiments.js';
import { WEBHOOK_TASK, type WebhookJob } from './automation-webhooks.js';
import * as automationsRepo from './automations.repository.js';
import type { Resolved } from './automations.service.js';
import { createBanditArms } from './bandit-arms.js';
import * as experimentsRepo from './experiments.repository.js';
import * as repo from './runs.repository.js';

/**
 * The automation engine: enrolment (entry rules), and the runner that moves
 * per-contact runs through the graph of the version they entered.
 *
 * Exactly once: executing a node is step N of its run. The step's side
 * effect happens first and is idempotent by the key (run id, N) (an email is
 * accepted with idempotency key automation:<run>:<N>; contact updates set
 * values, they do not add to them); then one transaction locks the run,
 * checks it is still at step N - 1, inserts the step execution (primary key
 * (run_id, step)) and moves the run on. A worker that dies before that commit
 * leaves the run at N - 1 with its lease running out; the next worker repeats
 * step N, and the repeated side effect finds the first (the same message).
 * A worker that lost a race finds the step taken and stops.
 */

export interface Run {
  id: string;
  automation_id: string;
  version: number;
  contact_id: string;
  instance_key: string | null;
  status: AutomationRunStatus;
  node: string;
  step: number;
  next_run_at: Date | null;
  waiting: unknown;
  exit_reason: string | null;
  entered_at: Date;
  finished_at: Date | null;
  data: Record<string, unknown>;
}

export interface StepExecution {
  step: number;
  node_id: string;
  executed_at: Date;
  outcome: Record<string, unknown>;
}

export type EnrolRefusal =
  | 'already_inside'
  | 'once_ever'
  | 'again_after_not_reached'
  | 'contact_suppressed'
  | 'duplicate_trigger';

export type EnrolResult =
  | { enrolled: true; run: Run }
  | { enrolled: false; reason: EnrolRefusal; message: string; run?: Run | undefined };

export interface EnrolInput {
  contact: { id?: string | undefined; email?: string | undefined; external_id?: string | undefined };
  instance_key?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

export interface Waiting {
  event?: string | undefined;
  where?: PropertyFilter[] | undefined;
  engagement?: string | undefined;
  /** When the wait began: only events received from then on count. */
  since: string;
  deadline: string;
}

export interface LoadedVersion {
  name: string;
  definition: AutomationDefinition;
  resolved: Resolved;
  nodes: Map<string, AutomationNode>;
}

export type Transition = {
  outcome: Record<string, unknown>;
  /** A job the step's transaction enqueues: written exactly when the step is. */
  webhook?: WebhookJob;
} & (
  | { to: string; at: Date; waiting?: Waiting | null }
  | { end: Exclude<AutomationRunStatus, 'active'>; reason: string }
);

const DAY_MS = 86_400_000;
/** Contacts in these statuses never enter (besides the exit_on reasons of the automation). */
const NEVER_ENTER = ['bounced', 'complained', 'blocked'];

function toRun(row: repo.RunRow): Run {
  return {
    id: row.id,
    automation_id: row.automation_id,
    version: row.version,
    contact_id: row.contact_id,
    instance_key: row.instance_key === '' ? null : row.instance_key,
    status: row.status,
    node: row.node,
    step: row.step,
    next_run_at: row.status === 'active' ? row.next_run_at : null,
    waiting: row.waiting ?? null,
    exit_reason: row.exit_reason,
    entered_at: row.entered_at,
    finished_at: row.finished_at,
    data: (row.data ?? {}) as Record<string, unknown>,
  };
}

export function durationMs(d: Duration): number {
  return ((d.days ?? 0) * 1440 + (d.hours ?? 0) * 60 + (d.minutes ?? 0)) * 60_000;
}

/** The local calendar date (y, m, d) and weekday (0 = Monday) of an instant in a time zone. */
function localDate(instant: number, timeZone: string): { y: number; m: number; d: number } {
  const local = new Date(instant + offsetAt(instant, timeZone));
  return { y: local.getUTCFullYear(), m: local.getUTCMonth() + 1, d: local.getUTCDate() };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function wallClock(date: { y: number; m: number; d: number }, addDays: number, hour: number, minute: number) {
  const day = new Date(Date.UTC(date.y, date.m - 1, date.d + addDays));
  return {
    text: `${pad(day.getUTCFullYear(), 4)}-${pad(day.getUTCMonth() + 1)}-${pad(day.getUTCDate())}T${pad(hour)}:${pad(minute)}`,
    weekday: (day.getUTCDay() + 6) % 7,
  };
}

/**
 * When a wait node lets the contact go on. `until` is the first matching
 * weekday and time at or after now in the contact's time zone (the
 * workspace's, `fallbackZone`, when the contact has none); `until_attribute` is
 * the attribute's date plus offset_days at hour (default 0), at once when
 * that is past or the attribute is missing.
 */
export function waitUntil(
  node: WaitNode,
  contact: Pick<Contact, 'timezone' | 'attributes'>,
  now: Date,
  fallbackZone = 'UTC',
): Date {
  const t = now.getTime();
  if (node.for) return new Date(t + durationMs(node.for));
  const zone = contactZone(contact.timezone, fallbackZone);
  if (node.until) {
    const { hour, minute = 0, weekdays } = node.until;
    const allowed = weekdays?.map((w) => WEEKDAYS.indexOf(w));
    const today = localDate(t, zone);
    for (let add = 0; add <= 8; add++) {
      const wall = wallClock(today, add, hour, minute);
      if (allowed && !allowed.includes(wall.weekday)) continue;
      const at = zonedTimeToUtc(wall.text, zone);
      if (at && at.getTime() >= t) return at;
    }
    return now;
  }
  if (node.until_attribute) {
    const raw = contact.attributes[node.until_attribute.attribute];
    const match = typeof raw === 'string' ? /^(\d{4})-(\d{2})-(\d{2})/.exec(raw) : null;
    if (!match) return now;
    const date = { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
    const wall = wallClock(date, node.until_attribute.offset_days ?? 0, node.until_attribute.hour ?? 0, 0);
    const at = zonedTimeToUtc(wall.text, zone);
    return at && at.getTime() > t ? at : now;
  }
  return now;
}

/** A number in [0, 100) fixed per contact, automation and node: a contact entering again takes the same path. */
export function splitBucket(contactId: string, automationId: string, nodeId: string): number {
  const digest = createHash('sha256').update(`${contactId}:${automationId}:${nodeId}`).digest();
  return (digest.readUInt32BE(0) / 2 ** 32) * 100;
}

export function exitReasonFor(status: string, exitOn: readonly ExitReason[]): ExitReason | undefined {
  return (EXIT_REASONS as readonly string[]).includes(status) && exitOn.includes(status as ExitReason)
    ? (status as ExitReason)
    : undefined;
}

/** A run as a step sees it. */
export type StepRun = Pick<
  repo.RunRow,
  'id' | 'automation_id' | 'version' | 'workspace_id' | 'instance_key' | 'waiting' | 'data'
>;

/**
 * What a bandit split reads and writes: the path a run took before, the
 * evidence per path, and the record of a choice (written before the step's
 * transaction, like an accepted email, so a repeated step finds it).
 */
export interface BanditPort {
  recorded(runId: string, nodeId: string): Promise<experimentsRepo.Assignment | undefined>;
  arms(key: experimentsRepo.AssignmentKey): Promise<(ArmCounts | undefined)[]>;
  record(row: experimentsRepo.NewAssignment): Promise<experimentsRepo.Assignment>;
}

/**
 * What executing a node does outside the run itself: the engine sends and
 * updates for real; the simulation records what would happen and evaluates
 * conditions in a transaction it rolls back. The decisions (which branch,
 * how long a wait, whether the sending policy holds an email) are made by
 * `executeNode` alone, so both decide alike.
 */
export interface StepContext {
  /** Where branch conditions are evaluated. */
  db: Db;
  /** The workspace's time zone, for waits of contacts without one. */
  workspaceZone(): Promise<string>;
  /** Whether the sending policy (or, for real sends, a throttle) holds a marketing email back, and until when. */
  deferral(
    contact: Contact,
    now: Date,
    idempotencyKey: string,
    sender: { from_email: string; transport_id?: string | null | undefined },
  ): Promise<StepDeferral | undefined>;
  send(
    input: Parameters<MessageService['accept']>[1],
  ): Promise<{ message: { id: string; status: string; error?: string | null }; created: boolean }>;
  update(contact: Contact, node: UpdateContactNode): Promise<void>;
  bandit: BanditPort;
}

/** A marketing email held back: by the sending policy, or by a throttle or warm-up cap (no room yet). */
export type StepDeferral = Deferral | { reason: 'throttle'; until: Date; cap?: undefined };

export async function executeNode(
  ctx: StepContext,
  run: StepRun,
  step: number,
  node: AutomationNode,
  version: LoadedVersion,
  contact: Contact,
  now: Date,
): Promise<Transition> {
  const ws = run.workspace_id;
  const soon = now;
  switch (node.type) {
    case 'send_email': {
      const pinned = version.resolved.emails[node.id];
      const sender = version.definition.sender;
      if (!pinned || !sender)
        return { end: 'failed', reason: `node "${node.id}" has no pinned template or sender`, outcome: {} };
      const idempotencyKey = `automation:${run.id}:${step}`;
      const marketing = (node.kind ?? 'marketing') === 'marketing';
      if (marketing) {
        // Over a frequency cap or in quiet hours: the node runs again when the email is allowed.
        // This step's own message (a retry after a crash) is not counted against the cap.
        const deferral = await ctx.deferral(contact, now, idempotencyKey, sender);
        if (deferral)
          return {
            to: node.id,
            at: deferral.until,
            outcome: {
              deferred: deferral.reason,
              until: deferral.until.toISOString(),
              ...(deferral.cap ? { cap: deferral.cap } : {}),
            },
          };
      }
      const { message, created } = await ctx.send({
        to: contact.email,
        template_id: pinned.template_id,
        template_version_id: pinned.template_version_id,
        from_email: sender.from_email,
        from_name: sender.from_name,
        reply_to: sender.reply_to,
        transport_id: sender.transport_id,
        idempotency_key: idempotencyKey,
        // Opens and clicks are what wait_for engagement waits for and what reports count (contacts
        // without tracking consent get the message untracked, as in campaigns).
        track: true,
        automation: {
          id: run.automation_id,
          name: version.name,
          data: (run.data ?? {}) as Record<string, unknown>,
          marketing,
        },
      });
      return {
        to: node.next,
        at: soon,
        outcome: {
          message_id: message.id,
          message_status: message.status,
          ...(message.error ? { error: message.error } : {}),
          ...(created ? {} : { repeated: true }),
        },
      };
    }
    case 'wait': {
      const zone = node.for ? 'UTC' : await ctx.workspaceZone();
      const at = waitUntil(node, contact, now, zone);
      return { to: node.next, at, outcome: { until: at.toISOString() } };
    }
    case 'wait_for': {
      if (run.waiting) {
        // Woken at the deadline: what it waited for did not happen.
        return { to: node.timeout_next, at: soon, waiting: null, outcome: { timed_out: true } };
      }
      const deadline = new Date(now.getTime() + durationMs(node.timeout));
      return {
        to: node.id,
        at: deadline,
        waiting: {
          ...(node.event ? { event: node.event, where: node.where } : {}),
          ...(node.engagement ? { engagement: node.engagement } : {}),
          since: now.toISOString(),
          deadline: deadline.toISOString(),
        },
        outcome: { waiting_until: deadline.toISOString() },
      };
    }
    case 'branch': {
      for (const [i, branch] of node.branches.entries()) {
        if (await contactMatches(ctx.db, ws, branch.condition, contact.id, now))
          return { to: branch.next, at: soon, outcome: { branch: i } };
      }
      return { to: node.else, at: soon, outcome: { branch: 'else' } };
    }
    case 'random_split': {
      const bandit = banditSettings(node);
      if (bandit) {
        // Once per run: a repeated step (or a loop back here) takes the recorded path.
        const recorded = await ctx.bandit.recorded(run.id, node.id);
        let choice = recorded;
        if (!choice) {
          const arms = await ctx.bandit.arms({
            workspaceId: ws,
            automationId: run.automation_id,
            nodeId: node.id,
            metric: bandit.metric,
          });
          const decided = chooseBanditPath(
            node.paths.map((p) => p.percent),
            arms,
            `${run.id}:${node.id}`,
          );
          choice = await ctx.bandit.record({
            run_id: run.id,
            node_id: node.id,
            workspace_id: ws,
            automation_id: run.automation_id,
            contact_id: contact.id,
            path: decided.path,
            step,
            metric: bandit.metric,
            window_hours: bandit.window_hours,
            chosen_by: decided.chosen_by,
            chosen_at: now,
          });
        }
        const taken = node.paths[choice.path];
        if (!taken)
          return { end: 'failed', reason: `node "${node.id}" has no path ${choice.path}`, outcome: {} };
        return {
          to: taken.next,
          at: soon,
          outcome: { path: choice.path, bandit: choice.chosen_by, ...(recorded ? { repeated: true } : {}) },
        };
      }
      const bucket = splitBucket(contact.id, run.automation_id, node.id);
      let upTo = 0;
      for (const [i, path] of node.paths.entries()) {
        upTo += path.percent;
        if (bucket < upTo || i === node.paths.length - 1)
          return { to: path.next, at: soon, outcome: { path: i } };
      }
      return { end: 'failed', reason: `node "${node.id}" has no paths`, outcome: {} };
    }
    case 'update_contact': {
      await ctx.update(contact, node);
      return { to: node.next, at: soon, outcome: { updated: true } };
    }
    case 'webhook': {
      const deliveryId = `automation:${run.id}:${step}`;
      const body = JSON.stringify({
        delivery_id: deliveryId,
        automation: { id: run.automation_id, name: version.name, version: run.version },
        run: { id: run.id, step, node: node.id, instance_key: run.instance_key || null },
        contact: { id: contact.id, email: contact.email, external_id: contact.external_id },
        data: run.data ?? {},
        payload: node.payload ?? {},
        sent_at: now.toISOString(),
      });
      return {
        to: node.next,
        at: soon,
        webhook: { workspaceId: ws, url: node.url, body, deliveryId },
        outcome: { webhook: 'queued', delivery_id: deliveryId },
      };
    }
    case 'goal':
      return { end: 'completed', reason: 'goal', outcome: { goal: true } };
    case 'exit':
      return { end: 'completed', reason: 'exit', outcome: { exit: true } };
  }
}

export interface AutomationEngineDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  contacts: Pick<ContactService, 'findByIds' | 'findOne' | 'update'>;
  lists: Pick<ListService, 'addMembers' | 'removeMembers'>;
  messages: Pick<MessageService, 'accept'>;
  jobs: Pick<JobQueue, 'enqueue'>;
  webhookSecretFor: (workspaceId: string) => string;
  /** The workspace's frequency caps and quiet hours, which marketing emails wait for. */
  sendingPolicy: Pick<SendingPolicyCheck, 'deferrals'>;
  /**
   * Throttles and warm-up caps: reserves room for one marketing email, or
   * says when it may go (absent: no throttles). Consulted only when the
   * policy lets the email go.
   */
  throttle?:
    | {
        reserve(
          workspaceId: string,
          envelope: { fromEmail: string; transportId: string | null },
          recipients: readonly { id: string; email: string }[],
          now: Date,
        ): Promise<Map<string, Date>>;
      }
    | undefined;
  /** The workspace's time zone, for waits of contacts without one. */
  workspaces: Pick<WorkspaceService, 'get'>;
  /** Runs claimed per round (default 100). */
  batchSize?: number;
  /** How long a claimed run is left to its worker before another may take it (default 60 s). */
  leaseMs?: number;
  /** Node executions per run and wake before it yields to the others (default 50). */
  maxStepsPerWake?: number;
  /** Runs executed at once per worker (default 8). */
  concurrency?: number;
  /** How long a bandit split's evidence is reused before it is read again (default 60 s). */
  banditCacheMs?: number;
}

export function createAutomationEngine(deps: AutomationEngineDeps) {
  const { db, clock, logger, contacts, lists, messages } = deps;
  const batchSize = deps.batchSize ?? 100;
  const leaseMs = deps.leaseMs ?? 60_000;
  const maxSteps = deps.maxStepsPerWake ?? 50;
  const concurrency = deps.concurrency ?? 8;
  const versions = new Map<string, Promise<LoadedVersion>>();
  const banditArms = createBanditArms({ db, clock, ttlMs: deps.banditCacheMs });
  const bandit: BanditPort = {
    recorded: (runId, nodeId) => experimentsRepo.findAssignment(db, runId, nodeId),
    arms: (key) => banditArms.arms(key),
    record: (row) => experimentsRepo.recordAssignment(db, row),
  };

  function loadVersion(automationId: string, version: number): Promise<LoadedVersion> {
    const key = `${automationId}:${version}`;
    let entry = versions.get(key);
    if (!entry) {
      // Versions never change, so a loaded one is good for the life of the process.
      entry = repo.versionOf(db, automationId, version).then((row) => {
        if (!row) throw new Error(`automation ${automationId} has no version ${version}`);
        const definition = row.definition as AutomationDefinition;
        return {
          name: row.name,
          definition,
          resolved: row.resolved as Resolved,
          nodes: new Map(definition.nodes.map((n) => [n.id, n])),
        };
      });
      entry.catch(() => versions.delete(key));
      versions.set(key, entry);
    }
    return entry;
  }

  function stepContext(workspaceId: string, automationId: string): StepContext {
    return {
      db,
      workspaceZone: async () => (await deps.workspaces.get(workspaceId)).timezone,
      deferral: async (contact, now, idempotencyKey, sender) => {
        const held = (
          await deps.sendingPolicy.deferrals(workspaceId, [contact], now, { idempotencyKey })
        ).get(contact.id);
        if (held || !deps.throttle) return held;
        const envelope = { fromEmail: sender.from_email, transportId: sender.transport_id ?? null };
        const refused = await deps.throttle.reserve(workspaceId, envelope, [contact], now);
        const until = refused.get(contact.id);
        return until ? { reason: 'throttle', until } : undefined;
      },
      send: (input) => messages.accept(workspaceId, input),
      update: (contact, node) => updateContact(workspaceId, automationId, contact, node),
      bandit,
    };
  }

  async function updateContact(
    ws: string,
    automationId: string,
    contact: Contact,
    node: UpdateContactNode,
  ): Promise<void> {
    const origin: ConsentOrigin = { source: 'system', sourceId: `automation:${automationId}` };
    const attributes: Record<string, unknown> = { ...(node.set_attributes ?? {}) };
    for (const name of node.unset_attributes ?? []) attributes[name] = null;
    const patch = {
      ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
      ...(node.add_tags ? { add_tags: node.add_tags } : {}),
      ...(node.remove_tags ? { remove_tags: node.remove_tags } : {}),
      ...(node.status && contact.status !== node.status ? { status: node.status } : {}),
    };
    if (Object.keys(patch).length > 0) await contacts.update(ws, contact.id, patch, origin);
    for (const listId of node.add_to_lists ?? [])
      await lists.addMembers(ws, listId, { contact_ids: [contact.id] }, origin);
    for (const listId of node.remove_from_lists ?? [])
      await lists.removeMembers(ws, listId, { contact_ids: [contact.id] }, origin);
  }

  /**
   * Step `run.step + 1`: decides, performs the side effect, and commits the
   * step execution with the run's move in one transaction. Returns the run
   * as it now is and whether its next step is due at once (this worker goes
   * on with it under its lease), or undefined when the step was taken by
   * someone else (or could not run now and is left to its lease).
   */
  async function step(
    run: repo.RunRow,
    leaseUntil: Date,
  ): Promise<{ run: repo.RunRow; dueNow: boolean } | undefined> {
    const now = clock.now();
    const number = run.step + 1;
    let version: LoadedVersion;
    try {
      version = await loadVersion(run.automation_id, run.version);
    } catch (error) {
      logger.error(
        { run_id: run.id, err: (error as Error).message },
        'automation version could not be loaded',
      );
      return undefined;
    }
    const node = version.nodes.get(run.node);
    const [contact] = await contacts.findByIds(run.workspace_id, [run.contact_id]);
    let transition: Transition;
    if (!node)
      transition = {
        end: 'failed',
        reason: `node "${run.node}" is not in version ${run.version}`,
        outcome: {},
      };
    else if (!contact)
      transition = { end: 'exited', reason: 'contact_deleted', outcome: { exited: 'contact_deleted' } };
    else {
      const reason = exitReasonFor(contact.status, version.definition.exit_on ?? EXIT_REASONS);
      if (reason) transition = { end: 'exited', reason, outcome: { exited: reason } };
      else {
        try {
          transition = await executeNode(
            stepContext(run.workspace_id, run.automation_id),
            run,
            number,
            node,
            version,
            contact,
            now,
          );
        } catch (error) {
          if (!(error instanceof DomainError)) {
            logger.warn(
              { run_id: run.id, node: run.node, err: (error as Error).message },
              'automation step failed; retried when its lease ends',
            );
            return undefined;
          }
          // A refusal (a template that no longer renders with this contact, say) will not pass by retrying.
          transition = {
            end: 'failed',
            reason: `node "${run.node}": ${error.code}: ${error.message}`.slice(0, 1000),
            outcome: { error: error.code },
          };
        }
      }
    }
    const committedAt = clock.now();
    return db.transaction().execute(async (trx) => {
      const locked = await repo.lockRun(trx, run.id);
      if (locked?.status !== 'active' || locked.step !== run.step) return undefined;
      const inserted = await repo.insertStep(trx, {
        run_id: run.id,
        step: number,
        node_id: run.node,
        workspace_id: run.workspace_id,
        executed_at: committedAt,
        outcome: JSON.stringify(transition.outcome),
      });
      if (!inserted) return undefined;
      const changes: Parameters<typeof repo.updateRun>[2] =
        'end' in transition
          ? {
              step: number,
              status: transition.end,
              exit_reason: transition.reason,
              finished_at: committedAt,
              next_run_at: null,
              waiting: null,
              updated_at: committedAt,
            }
          : {
              step: number,
              node: transition.to,
              // Due at once: the lease stays, this worker goes on with it.
              next_run_at: transition.at.getTime() <= committedAt.getTime() ? leaseUntil : transition.at,
              ...(transition.waiting !== undefined
                ? { waiting: transition.waiting === null ? null : JSON.stringify(transition.waiting) }
                : {}),
              updated_at: committedAt,
            };
      await repo.updateRun(trx, run.id, changes);
      if ('end' in transition && transition.end === 'completed') {
        await recordWebhookEvent(trx, {
          workspaceId: run.workspace_id,
          type: 'automation.completed',
          contactId: run.contact_id,
          data: { automation_id: run.automation_id, run_id: run.id, reason: transition.reason },
          at: committedAt,
        });
      }
      if (transition.webhook)
        await deps.jobs.enqueue(
          WEBHOOK_TASK,
          transition.webhook,
          { workspaceId: run.workspace_id, idempotencyKey: transition.webhook.deliveryId, maxAttempts: 8 },
          trx,
        );
      return {
        run: {
          ...locked,
          ...changes,
          waiting: changes.waiting === undefined ? locked.waiting : changes.waiting,
        } as repo.RunRow,
        // Said explicitly: a wait exactly as long as the lease ends at the lease's end too.
        dueNow: !('end' in transition) && transition.at.getTime() <= committedAt.getTime(),
      };
    });
  }

  /** Executes a claimed run until it waits, ends, or has taken its share of steps. */
  async function advance(claimed: repo.RunRow, leaseUntil: Date): Promise<void> {
    let run: repo.RunRow | undefined = claimed;
    for (let i = 0; i < maxSteps && run; i++) {
      const stepped = await step(run, leaseUntil);
      run = stepped?.run;
      if (run?.status !== 'active' || !stepped?.dueNow) return;
    }
    if (run?.status === 'active')
      await db.transaction().execute(async (trx) => {
        const locked = await repo.lockRun(trx, run.id);
        if (locked?.status === 'active' && locked.step === run.step)
          await repo.updateRun(trx, run.id, { next_run_at: clock.now(), updated_at: clock.now() });
      });
  }

  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let current: Promise<unknown> = Promise.resolve();
  /** Set while the loop is idle: runs the next round now instead of after the poll interval. */
  let wakeIdle: (() => void) | undefined;

  const engine = {
    /**
     * Something a run was waiting for happened (the trigger scan found it):
     * `event` (an event, `causeId` its id) and `engagement` (an open or click
     * of the run's previous email, `causeId` the tracking hit's id) move a
     * run waiting in wait_for node `node` on to `to`; `goal` moves an active
     * run to the goal node `to`, where it completes. Step `step + 1` under
     * the run's lock, like every step: when the run moved on meanwhile (the
     * runner timed the wait out, another scan got there first) nothing
     * happens.
     */
    async interrupt(
      run: { id: string; step: number; node: string },
      kind: 'event' | 'engagement' | 'goal',
      to: string,
      causeId: string,
    ): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const locked = await repo.lockRun(trx, run.id);
        if (locked?.status !== 'active' || locked.step !== run.step || locked.node !== run.node) return false;
        if (kind !== 'goal' && locked.waiting === null) return false;
        const now = clock.now();
        const number = locked.step + 1;
        const inserted = await repo.insertStep(trx, {
          run_id: run.id,
          step: number,
          node_id: kind === 'goal' ? to : locked.node,
          workspace_id: locked.workspace_id,
          executed_at: now,
          outcome: JSON.stringify(
            kind === 'goal'
              ? { goal: true, event_id: causeId }
              : kind === 'engagement'
                ? { hit_id: causeId }
                : { event_id: causeId },
          ),
        });
        if (!inserted) return false;
        await repo.updateRun(
          trx,
          run.id,
          kind === 'goal'
            ? {
                step: number,
                node: to,
                status: 'completed',
                exit_reason: 'goal',
                finished_at: now,
                next_run_at: null,
                waiting: null,
                updated_at: now,
              }
            : { step: number, node: to, next_run_at: now, waiting: null, updated_at: now },
        );
        if (kind === 'goal') {
          await recordWebhookEvent(trx, {
            workspaceId: locked.workspace_id,
            type: 'automation.completed',
            contactId: locked.contact_id,
            data: { automation_id: locked.automation_id, run_id: locked.id, reason: 'goal' },
            at: now,
          });
        }
        return true;
      });
    },

    /** The secret webhook requests of the workspace are signed with (HMAC-SHA256, see automation-webhooks.ts). */
    webhookSecret(workspaceId: string): { secret: string } {
      return { secret: deps.webhookSecretFor(workspaceId) };
    },

    async enroll(
      workspaceId: string,
      automationId: string,
      input: EnrolInput,
      triggerId?: string,
    ): Promise<EnrolResult> {
      const automation = await automationsRepo.findAutomation(db, workspaceId, automationId);
      if (!automation)
        throw new DomainError(
          'AUTOMATION_NOT_FOUND',
          `automation ${automationId} does not exist in this workspace`,
        );
      if (automation.status !== 'active' || automation.current_version === null)
        throw new DomainError(
          'AUTOMATION_STATE',
          `cannot enrol contacts in automation "${automation.name}": it is ${automation.status}; ${
            automation.status === 'paused'
              ? `resume it first (POST /v1/automations/${automationId}/resume)`
              : automation.status === 'draft'
                ? `publish it first (POST /v1/automations/${automationId}/publish)`
                : 'archived automations enrol nobody'
          }`,
          [{ path: '/status', message: `status is ${automation.status}`, status: automation.status }],
        );
      const refs = Object.entries(input.contact).filter(([, v]) => v !== undefined);
      if (refs.length !== 1)
        throw new DomainError('VALIDATION_FAILED', 'contact needs exactly one of id, email or external_id', [
          { path: '/contact', message: 'give exactly one of id, email, external_id' },
        ]);
      const contact = await contacts.findOne(workspaceId, input.contact);
      if (!contact) {
        const [[field, value]] = refs as [[string, string]];
        throw new DomainError(
          'CONTACT_NOT_FOUND',
          `no contact with ${field} "${value}" in this workspace; create it first (POST /v1/contacts)`,
          [{ path: `/contact/${field}`, message: 'no such contact' }],
        );
      }
      const version = await loadVersion(automationId, automation.current_version);
      const definition = version.definition;
      let instanceKey = '';
      if (definition.instance_key) {
        if (input.instance_key === undefined || input.instance_key === '')
          throw new DomainError(
            'VALIDATION_FAILED',
            `automation "${automation.name}" runs once per ${definition.instance_key}: give instance_key (the ${definition.instance_key} value)`,
            [{ path: '/instance_key', message: 'required by this automation' }],
          );
        instanceKey = input.instance_key;
      } else if (input.instance_key !== undefined)
        throw new DomainError(
          'VALIDATION_FAILED',
          `automation "${automation.name}" has no instance_key: leave instance_key out`,
          [{ path: '/instance_key', message: 'this automation has no instance_key' }],
        );
      if (
        NEVER_ENTER.includes(contact.status) ||
        exitReasonFor(contact.status, definition.exit_on ?? EXIT_REASONS)
      )
        return {
          enrolled: false,
          reason: 'contact_suppressed',
          message: `the contact is ${contact.status}: it would leave at once`,
        };
      const entry = definition.entry ?? { mode: 'once_at_a_time' };
      // The control group: recorded like any run (so entry rules hold for it alike), ended at once.
      const heldOut = inHoldout(automationId, contact.id, definition.holdout?.share);
      const result = await db.transaction().execute(async (trx): Promise<EnrolResult> => {
        await repo.lockEnrolment(trx, automationId, contact.id);
        if (triggerId) {
          const earlier = await repo.findRunByTrigger(trx, automationId, triggerId);
          if (earlier)
            return {
              enrolled: false,
              reason: 'duplicate_trigger',
              message: 'this trigger enrolled the contact already',
              run: toRun(earlier),
            };
        }
        const latest = await repo.latestRun(trx, automationId, contact.id, instanceKey);
        const now = clock.now();
        if (latest?.status === 'active')
          return {
            enrolled: false,
            reason: 'already_inside',
            message: 'the contact is inside this automation already (once at a time)',
            run: toRun(latest),
          };
        if (latest && entry.mode === 'once')
          return {
            enrolled: false,
            reason: 'once_ever',
            message: 'the contact went through this automation before, and it enrols each contact once',
            run: toRun(latest),
          };
        if (latest && entry.mode === 'again_after') {
          const again = latest.entered_at.getTime() + (entry.days ?? 0) * DAY_MS;
          if (again > now.getTime())
            return {
              enrolled: false,
              reason: 'again_after_not_reached',
              message: `the contact entered on ${latest.entered_at.toISOString()}; it may enter again from ${new Date(again).toISOString()}`,
              run: toRun(latest),
            };
        }
        const row = await repo.insertRun(trx, {
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          automation_id: automationId,
          version: automation.current_version as number,
          contact_id: contact.id,
          instance_key: instanceKey,
          status: heldOut ? 'exited' : 'active',
          node: definition.start,
          step: 0,
          next_run_at: heldOut ? null : now,
          waiting: null,
          exit_reason: heldOut ? 'holdout' : null,
          entered_at: now,
          finished_at: heldOut ? now : null,
          updated_at: now,
          trigger_id: triggerId ?? null,
          data: JSON.stringify(input.data ?? {}),
        });
        if (!row) throw new Error('enrolment conflict under the enrolment lock');
        await recordWebhookEvent(trx, {
          workspaceId,
          type: 'automation.entered',
          contactId: contact.id,
          data: { automation_id: automationId, run_id: row.id, version: row.version, held_out: heldOut },
          at: now,
        });
        return { enrolled: true, run: toRun(row) };
      });
      // A run enrolled in this process is due now: an idle loop need not wait out its poll interval.
      if (result.enrolled && !heldOut) queueMicrotask(() => wakeIdle?.());
      return result;
    },

    async runs(
      workspaceId: string,
      automationId: string,
      options: { cursor?: string | undefined; limit: number; status?: AutomationRunStatus | undefined },
    ): Promise<Page<Run>> {
      // A bad cursor is the caller's 400 before anything is looked up.
      const after = decodeCursor(options.cursor);
      await mustExist(workspaceId, automationId);
      const rows = await repo.listRuns(db, workspaceId, automationId, {
        after,
        limit: options.limit,
        status: options.status,
      });
      const page = toPage(rows, options.limit);
      return { data: page.data.map(toRun), next_cursor: page.next_cursor };
    },

    async run(
      workspaceId: string,
      automationId: string,
      runId: string,
    ): Promise<Run & { steps: StepExecution[] }> {
      await mustExist(workspaceId, automationId);
      const row = await repo.findRun(db, workspaceId, automationId, runId);
      if (!row)
        throw new DomainError(
          'AUTOMATION_RUN_NOT_FOUND',
          `automation ${automationId} has no run ${runId}; list its runs with GET /v1/automations/${automationId}/runs`,
        );
      const steps = await repo.stepsOf(db, workspaceId, runId);
      return {
        ...toRun(row),
        steps: steps.map((s) => ({
          step: s.step,
          node_id: s.node_id,
          executed_at: s.executed_at,
          outcome: s.outcome as Record<string, unknown>,
        })),
      };
    },

    /** One round: claims due runs and executes them; returns how many were claimed. */
    async round(): Promise<number> {
      const now = clock.now();
      const leaseUntil = new Date(now.getTime() + leaseMs);
      const claimed = await repo.claimDue(db, now, leaseUntil, batchSize);
      let next = 0;
      const lane = async () => {
        while (next < claimed.length) {
          const run = claimed[next++] as repo.RunRow;
          try {
            await advance(run, leaseUntil);
          } catch (error) {
            logger.error(
              { run_id: run.id, err: (error as Error).message },
              'automation run failed to advance',
            );
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
      return claimed.length;
    },

    /** Rounds until no run is due. For tests. */
    async drain(): Promise<number> {
      let total = 0;
      for (;;) {
        const handled = await engine.round();
        if (handled === 0) return total;
        total += handled;
      }
    },

    /** Runs rounds until stopped: at once while runs are due, every `pollIntervalMs` when idle. */
    start(pollIntervalMs: number) {
      if (running) return;
      running = true;
      const loop = () => {
        // Only a loop waiting out its interval may be woken; one in a round is not.
        wakeIdle = undefined;
        if (!running) return;
        current = engine
          .round()
          .catch((error: Error) => {
            logger.error({ err: error.message }, 'automation round failed');
            return 0;
          })
          .then((handled) => {
            if (!running) return;
            timer = setTimeout(loop, handled > 0 ? 0 : pollIntervalMs);
            if (handled === 0)
              wakeIdle = () => {
                wakeIdle = undefined;
                clearTimeout(timer);
                timer = setTimeout(loop, 0);
              };
          });
      };
      loop();
    },

    /** Stops after the round in flight, so its steps are committed. */
    async stop(): Promise<void> {
      running = false;
      wakeIdle = undefined;
      if (timer) clearTimeout(timer);
      await current;
    },
  };

  async function mustExist(workspaceId: string, automationId: string) {
    if (!(await automationsRepo.findAutomation(db, workspaceId, automationId)))
      throw new DomainError(
        'AUTOMATION_NOT_FOUND',
        `automation ${automationId} does not exist in this workspace`,
      );
  }

  return engine;
}

export type AutomationEngine = ReturnType<typeof createAutomationEngine>;
