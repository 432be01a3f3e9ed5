import type { Logger } from 'pino';
import type { Db, MailboxProvider } from '../../db/index.js';
import { isUniqueViolation } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail, isDomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { SendingDomainService } from '../sending-domains/index.js';
import { domainAndParents, normalizeDomain } from '../sending-domains/index.js';
import type { TransportService } from '../transports/index.js';
import type { WorkspaceService } from '../workspaces/index.js';
import {
  addDays,
  isLocalDate,
  localDate,
  releaseWindow,
  type WindowKind,
  windowAfter,
  windowStart,
} from './throttle-windows.js';
import * as repo from './throttling.repository.js';
import {
  capOn,
  type Growth,
  MAX_SCHEDULE_DAYS,
  type Standing,
  scheduleCaps,
  standing,
} from './warmup-schedule.js';

/**
 * Throttles and warm-up caps: the rules and schedules a workspace sets, and
 * the reservations every send makes against them.
 *
 * Glossary. A *rule* limits mail to some recipient domains per minute, hour
 * and day; a *schedule* caps a sending domain's or a transport's mail per
 * day. Each rule or schedule is a *key*; a key's *counter* per window holds
 * what was *reserved* there. Marketing email *reserves* (all counters of the
 * keys that apply must have room, else it waits until the window that has
 * room for it); transactional email is *counted* (added whatever the room).
 */

export const PROVIDERS: readonly MailboxProvider[] = ['gmail', 'outlook', 'yahoo', 'apple'];

export interface ThrottleRuleInput {
  name?: string | undefined;
  domains?: string[] | undefined;
  providers?: MailboxProvider[] | undefined;
  transport_id?: string | null | undefined;
  per_minute?: number | null | undefined;
  per_hour?: number | null | undefined;
  per_day?: number | null | undefined;
}

export interface WindowUsage {
  limit: number;
  used: number;
  window_start: Date;
  resets_at: Date;
}

export interface ThrottleRule {
  id: string;
  name: string;
  domains: string[];
  providers: MailboxProvider[];
  transport_id: string | null;
  per_minute: number | null;
  per_hour: number | null;
  per_day: number | null;
  /** The current windows, one per limit the rule has. */
  usage: { per_minute: WindowUsage | null; per_hour: WindowUsage | null; per_day: WindowUsage | null };
  created_at: Date;
  updated_at: Date;
}

export interface WarmupScheduleInput {
  name?: string | undefined;
  sending_domain_id?: string | undefined;
  transport_id?: string | undefined;
  start_date?: string | undefined;
  daily_caps?: number[] | undefined;
  growth?: Growth | null | undefined;
}

export interface WarmupSchedule {
  id: string;
  name: string;
  sending_domain_id: string | null;
  transport_id: string | null;
  start_date: string;
  daily_caps: number[];
  growth: Growth | null;
  caps: number[];
  status: Omit<Standing, 'starts_at'> & { used_today: number; remaining_today: number | null };
  created_at: Date;
  updated_at: Date;
}

/** A rule as it will be stored, before its domains are normalized. */
type RuleFields = { [K in keyof ThrottleRuleInput]-?: Exclude<ThrottleRuleInput[K], undefined> };

/** What a message is sent with: the From address (its sending domain) and the transport (null: the default). */
export interface Envelope {
  fromEmail: string | null;
  transportId: string | null;
}

/** One limit on one message: a key's window and what it admits now and in the coming windows. */
interface Limit {
  keyId: string;
  kind: WindowKind;
  limit: number;
  /** What the n-th window after the current one admits (null: no limit). */
  capacity: number | ((n: number) => number | null);
}

export interface ThrottlingServiceDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  workspaces: Pick<WorkspaceService, 'get'>;
  transports: Pick<TransportService, 'get'>;
  sendingDomains: Pick<SendingDomainService, 'get'>;
}

const RULE_WINDOWS = [
  ['per_minute', 'minute'],
  ['per_hour', 'hour'],
  ['per_day', 'day'],
] as const;

const counterId = (k: { keyId: string; kind: string; start: Date }) =>
  `${k.keyId}|${k.kind}|${k.start.getTime()}`;

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

function invalid(message: string, path: string, detail = message): DomainError {
  return new DomainError('VALIDATION_FAILED', message, [{ path, message: detail }]);
}

export function createThrottlingService(deps: ThrottlingServiceDeps) {
  const { db, clock, logger } = deps;

  async function zoneOf(workspaceId: string): Promise<string> {
    return (await deps.workspaces.get(workspaceId)).timezone;
  }

  /** Re-throws another module's not-found error with the field that named the id. */
  async function mustExist(check: Promise<unknown>, path: string, id: string): Promise<void> {
    try {
      await check;
    } catch (error) {
      if (isDomainError(error) && error.status === 404)
        throw new DomainError(error.code, `${path.slice(1)} ${id}: ${error.message}`, [
          { path, message: 'not found in this workspace' },
        ]);
      throw error;
    }
  }

  // Rules

  function ruleLimits(rule: repo.RuleRow): Limit[] {
    const limits: Limit[] = [];
    for (const [field, kind] of RULE_WINDOWS) {
      const limit = rule[field];
      if (limit !== null) limits.push({ keyId: rule.id, kind, limit, capacity: limit });
    }
    return limits;
  }

  async function toRules(workspaceId: string, rows: repo.RuleRow[]): Promise<ThrottleRule[]> {
    if (rows.length === 0) return [];
    const zone = await zoneOf(workspaceId);
    const now = clock.now();
    const keys = rows.flatMap((row) =>
      ruleLimits(row).map((l) => ({ keyId: l.keyId, kind: l.kind, start: windowStart(l.kind, now, zone) })),
    );
    const held = new Map((await repo.readCounters(db, workspaceId, keys)).map((c) => [counterId(c), c]));
    return rows.map((row) => {
      const usage: ThrottleRule['usage'] = { per_minute: null, per_hour: null, per_day: null };
      for (const [field, kind] of RULE_WINDOWS) {
        const limit = row[field];
        if (limit === null) continue;
        const start = windowStart(kind, now, zone);
        usage[field] = {
          limit,
          used: held.get(counterId({ keyId: row.id, kind, start }))?.used ?? 0,
          window_start: start,
          resets_at: windowAfter(kind, start, 1, zone),
        };
      }
      return {
        id: row.id,
        name: row.name,
        domains: row.domains,
        providers: row.providers,
        transport_id: row.transport_id,
        per_minute: row.per_minute,
        per_hour: row.per_hour,
        per_day: row.per_day,
        usage,
        created_at: row.created_at,
        updated_at: row.updated_at,
      };
    });
  }

  /**
   * Checks a rule as it would be stored and normalizes its domains; throws
   * every problem at once. Runs before the writing transaction opens: the
   * transport lookup uses its own connection (one on the embedded database).
   */
  async function checkRule(workspaceId: string, rule: RuleFields) {
    const problems: ErrorDetail[] = [];
    /** Normalized, without repeats, each with the index it had in the input (for error paths). */
    const domains: { domain: string; index: number }[] = [];
    rule.domains.forEach((input, index) => {
      const normalized = normalizeDomain(input);
      if ('error' in normalized) problems.push({ path: `/domains/${index}`, message: normalized.error });
      else if (!domains.some((d) => d.domain === normalized.domain))
        domains.push({ domain: normalized.domain, index });
    });
    if (problems.length > 0)
      throw new DomainError(
        'INVALID_DOMAIN',
        `domains holds ${problems.length === 1 ? 'a name that is not a domain' : 'names that are not domains'}: give bare recipient domains such as yahoo.com`,
        problems,
      );
    const providers = [...new Set(rule.providers)];
    if (domains.length + providers.length === 0)
      problems.push({
        path: '/domains',
        message: 'name at least one recipient domain (domains) or mailbox provider group (providers)',
      });
    if (rule.per_minute === null && rule.per_hour === null && rule.per_day === null)
      problems.push({ path: '/per_minute', message: 'give per_minute, per_hour or per_day (or several)' });
    if (problems.length > 0)
      throw new DomainError(
        'VALIDATION_FAILED',
        `a throttle rule needs ${problems.map((p) => p.message).join(', and ')}`,
        problems,
      );
    if (rule.transport_id !== null)
      await mustExist(
        deps.transports.get(workspaceId, rule.transport_id),
        '/transport_id',
        rule.transport_id,
      );
    return { domains, providers };
  }

  /**
   * Two rules for the same domain (or provider) and transport would leave
   * unclear which limit is meant: refused. Inside the writing transaction,
   * after the workspace's rule lock.
   */
  async function checkOverlap(
    trx: Db,
    workspaceId: string,
    rule: { id: string | undefined; transport_id: string | null },
    domains: readonly { domain: string; index: number }[],
    providers: readonly MailboxProvider[],
  ): Promise<void> {
    for (const other of await repo.allRules(trx, workspaceId)) {
      if (other.id === rule.id || other.transport_id !== rule.transport_id) continue;
      const domain = domains.find((d) => other.domains.includes(d.domain));
      const provider = providers.findIndex((p) => other.providers.includes(p));
      if (!domain && provider < 0) continue;
      const what = domain ? domain.domain : providers[provider];
      throw new DomainError(
        'THROTTLE_RULE_CONFLICT',
        `throttle rule "${other.name}" (${other.id}) already limits ${what}${rule.transport_id ? ' on this transport' : ''}: change that rule's limits (PATCH /v1/throttles/${other.id}) or leave ${what} out of this one`,
        [
          {
            path: domain ? `/domains/${domain.index}` : `/providers/${provider}`,
            message: `already limited by rule ${other.id}`,
            rule_id: other.id,
          },
        ],
      );
    }
  }

  async function writeRule(
    workspaceId: string,
    merged: RuleFields,
    existing: repo.RuleRow | undefined,
  ): Promise<repo.RuleRow> {
    const { domains, providers } = await checkRule(workspaceId, merged);
    return db.transaction().execute(async (trx) => {
      await repo.lockWorkspaceRules(trx, workspaceId);
      await checkOverlap(
        trx,
        workspaceId,
        { id: existing?.id, transport_id: merged.transport_id },
        domains,
        providers,
      );
      const now = clock.now();
      const names = domains.map((d) => d.domain);
      const values = {
        name: merged.name || [...providers, ...names].join(', '),
        domains: names,
        providers,
        transport_id: merged.transport_id,
        per_minute: merged.per_minute,
        per_hour: merged.per_hour,
        per_day: merged.per_day,
        updated_at: now,
      };
      if (!existing)
        return repo.insertRule(trx, {
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          created_at: now,
          ...values,
        });
      const row = await repo.updateRule(trx, workspaceId, existing.id, values);
      if (!row) throw ruleNotFound(existing.id);
      return row;
    });
  }

  // Schedules

  async function toSchedules(workspaceId: string, rows: repo.ScheduleRow[]): Promise<WarmupSchedule[]> {
    if (rows.length === 0) return [];
    const zone = await zoneOf(workspaceId);
    const now = clock.now();
    const start = windowStart('day', now, zone);
    const held = new Map(
      (
        await repo.readCounters(
          db,
          workspaceId,
          rows.map((r) => ({ keyId: r.id, kind: 'day' as const, start })),
        )
      ).map((c) => [c.keyId, c.used]),
    );
    return rows.map((row) => {
      const { starts_at: _, ...where } = standing(row, now, zone);
      const used = held.get(row.id) ?? 0;
      return {
        id: row.id,
        name: row.name,
        sending_domain_id: row.sending_domain_id,
        transport_id: row.transport_id,
        start_date: row.start_date,
        daily_caps: row.daily_caps,
        growth: growthOf(row),
        caps: row.caps,
        status: {
          ...where,
          used_today: used,
          remaining_today: where.today_cap === null ? null : Math.max(0, where.today_cap - used),
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
      };
    });
  }

  /** The days a schedule's input makes, or every problem with it. */
  function checkCaps(dailyCaps: number[], growth: Growth | null): number[] {
    if (dailyCaps.length === 0 && !growth)
      throw invalid(
        'a warm-up schedule needs daily_caps (a cap per day), growth (start_volume, factor, target) or both',
        '/daily_caps',
        'give daily_caps, growth or both',
      );
    if (growth && growth.target < growth.start_volume)
      throw invalid(
        `growth.target (${growth.target}) is below growth.start_volume (${growth.start_volume}): the caps grow towards the target`,
        '/growth/target',
        'must be at least start_volume',
      );
    const caps = scheduleCaps(dailyCaps, growth ?? undefined);
    if (caps.length > MAX_SCHEDULE_DAYS)
      throw invalid(
        `the schedule would last more than ${MAX_SCHEDULE_DAYS} days: ${growth ? 'raise growth.factor or growth.start_volume, or lower growth.target' : 'list fewer daily_caps'}`,
        growth ? '/growth/factor' : '/daily_caps',
        `more than ${MAX_SCHEDULE_DAYS} days`,
      );
    return caps;
  }

  async function checkStart(workspaceId: string, startDate: string): Promise<void> {
    if (!isLocalDate(startDate))
      throw invalid(
        `start_date "${startDate}" is not a date: write it YYYY-MM-DD`,
        '/start_date',
        'not a date',
      );
    const zone = await zoneOf(workspaceId);
    const today = localDate(clock.now(), zone);
    if (startDate < today)
      throw new DomainError(
        'SCHEDULE_IN_PAST',
        `start_date ${startDate} is in the past (today is ${today} in the workspace's time zone, ${zone}): start today or later`,
        [{ path: '/start_date', message: 'before today' }],
      );
  }

  function scheduleExists(other: repo.ScheduleRow): DomainError {
    const field = other.sending_domain_id ? 'sending_domain_id' : 'transport_id';
    return new DomainError(
      'WARMUP_SCHEDULE_EXISTS',
      `${field} ${other.sending_domain_id ?? other.transport_id} already has warm-up schedule "${other.name}" (${other.id}): change it (PATCH /v1/warmup-schedules/${other.id}) or delete it first`,
      [{ path: `/${field}`, message: `already has schedule ${other.id}`, schedule_id: other.id }],
    );
  }

  // Reservations

  /**
   * The limits a message with this envelope meets, per recipient address, or
   * undefined when none applies (one query for a workspace without rules
   * and schedules: the common case costs little).
   */
  async function limitsFor(workspaceId: string, envelope: Envelope, emails: readonly string[], now: Date) {
    const [rules, schedules] = await Promise.all([
      repo.allRules(db, workspaceId),
      repo.allSchedules(db, workspaceId),
    ]);
    if (rules.length === 0 && schedules.length === 0) return undefined;
    const needsTransport = rules.some((r) => r.transport_id) || schedules.some((s) => s.transport_id);
    const transportId =
      envelope.transportId ?? (needsTransport ? await repo.defaultTransportId(db, workspaceId) : null);
    let sendingDomainId: string | null = null;
    if (schedules.some((s) => s.sending_domain_id) && envelope.fromEmail) {
      const from = normalizeDomain(domainOf(envelope.fromEmail));
      if ('domain' in from)
        sendingDomainId = await repo.sendingDomainIdFor(db, workspaceId, domainAndParents(from.domain));
    }
    const active = rules.filter((r) => r.transport_id === null || r.transport_id === transportId);
    const warming = schedules.filter(
      (s) =>
        (s.transport_id !== null && s.transport_id === transportId) ||
        (s.sending_domain_id !== null && s.sending_domain_id === sendingDomainId),
    );
    if (active.length === 0 && warming.length === 0) return undefined;
    const zone = await zoneOf(workspaceId);
    const today = localDate(now, zone);
    const caps: Limit[] = [];
    for (const schedule of warming) {
      const cap = capOn(schedule, today);
      if (cap !== null)
        caps.push({
          keyId: schedule.id,
          kind: 'day',
          limit: cap,
          capacity: (n) => capOn(schedule, addDays(today, n)),
        });
    }
    const domains = [...new Set(emails.map(domainOf))];
    const providers = active.some((r) => r.providers.length > 0)
      ? await repo.providersOf(db, domains)
      : new Map<string, string>();
    const byDomain = new Map<string, Limit[]>();
    for (const domain of domains) {
      const provider = providers.get(domain) as MailboxProvider | undefined;
      const matching = active.filter(
        (r) => r.domains.includes(domain) || (provider !== undefined && r.providers.includes(provider)),
      );
      byDomain.set(domain, [...matching.flatMap(ruleLimits), ...caps]);
    }
    if ([...byDomain.values()].every((l) => l.length === 0)) return undefined;
    return { zone, of: (email: string) => byDomain.get(domainOf(email)) ?? [] };
  }

  const service = {
    /**
     * Reserves room for marketing email about to go to `recipients` (in
     * order: earlier recipients are served first). Returns those it could
     * not reserve for, each with the time the first window with room for it
     * opens: recipients refused in one window are spread over the following
     * ones (`waiting`), so they do not all come back at once. The counters of
     * all workers are locked and written in one short transaction.
     */
    async reserve(
      workspaceId: string,
      envelope: Envelope,
      recipients: readonly { id: string; email: string }[],
      now: Date,
    ): Promise<Map<string, Date>> {
      const refused = new Map<string, Date>();
      if (recipients.length === 0) return refused;
      const plan = await limitsFor(
        workspaceId,
        envelope,
        recipients.map((r) => r.email),
        now,
      );
      if (!plan) return refused;
      const wanted = recipients
        .map((r) => ({
          id: r.id,
          limits: plan.of(r.email).map((l) => ({ ...l, start: windowStart(l.kind, now, plan.zone) })),
        }))
        .filter((r) => r.limits.length > 0);
      if (wanted.length === 0) return refused;
      const keys = new Map(wanted.flatMap((r) => r.limits.map((l) => [counterId(l), l] as const)));
      await db.transaction().execute(async (trx) => {
        const counters = new Map(
          (await repo.lockCounters(trx, workspaceId, [...keys.values()])).map((c) => [counterId(c), c]),
        );
        const changed = new Set<string>();
        for (const recipient of wanted) {
          const held = recipient.limits.map((l) => ({ l, c: counters.get(counterId(l)) as repo.CounterRow }));
          const full = held.filter(({ l, c }) => c.used >= l.limit);
          if (full.length === 0) {
            for (const { l, c } of held) {
              c.used++;
              changed.add(counterId(l));
            }
            continue;
          }
          let until = 0;
          for (const { l, c } of full) {
            const n = releaseWindow(c.waiting, l.capacity);
            c.waiting++;
            changed.add(counterId(l));
            until = Math.max(until, windowAfter(l.kind, c.start, n, plan.zone).getTime());
          }
          refused.set(recipient.id, new Date(until));
        }
        await repo.writeCounters(
          trx,
          workspaceId,
          [...changed].map((id) => counters.get(id) as repo.CounterRow),
        );
      });
      return refused;
    },

    /**
     * Counts a transactional message against the limits it meets, room or
     * not: it uses the same reputation, but it never waits. A failure to
     * count is logged, never the message's failure.
     */
    async count(workspaceId: string, envelope: Envelope, email: string, now: Date): Promise<void> {
      try {
        const plan = await limitsFor(workspaceId, envelope, [email], now);
        if (!plan) return;
        await repo.addToCounters(
          db,
          workspaceId,
          plan
            .of(email)
            .map((l) => ({ keyId: l.keyId, kind: l.kind, start: windowStart(l.kind, now, plan.zone) })),
        );
      } catch (error) {
        logger.error(
          { workspace_id: workspaceId, err: (error as Error).message },
          'could not count a message',
        );
      }
    },

    async listRules(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<ThrottleRule>> {
      const rows = await repo.listRules(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const found = toPage(rows, page.limit);
      return { data: await toRules(workspaceId, found.data), next_cursor: found.next_cursor };
    },

    async getRule(workspaceId: string, id: string): Promise<ThrottleRule> {
      const row = await repo.findRule(db, workspaceId, id);
      if (!row) throw ruleNotFound(id);
      return (await toRules(workspaceId, [row]))[0] as ThrottleRule;
    },

    async createRule(workspaceId: string, input: ThrottleRuleInput): Promise<ThrottleRule> {
      const row = await writeRule(
        workspaceId,
        {
          name: input.name ?? '',
          domains: input.domains ?? [],
          providers: input.providers ?? [],
          transport_id: input.transport_id ?? null,
          per_minute: input.per_minute ?? null,
          per_hour: input.per_hour ?? null,
          per_day: input.per_day ?? null,
        },
        undefined,
      );
      return (await toRules(workspaceId, [row]))[0] as ThrottleRule;
    },

    /** Fields left out keep their value; null removes a limit or the transport restriction. */
    async updateRule(workspaceId: string, id: string, patch: ThrottleRuleInput): Promise<ThrottleRule> {
      const existing = await repo.findRule(db, workspaceId, id);
      if (!existing) throw ruleNotFound(id);
      const pick = <K extends keyof ThrottleRuleInput>(key: K, fallback: repo.RuleRow[K]) =>
        patch[key] === undefined ? fallback : patch[key];
      const row = await writeRule(
        workspaceId,
        {
          name: pick('name', existing.name) as string,
          domains: pick('domains', existing.domains) as string[],
          providers: pick('providers', existing.providers) as MailboxProvider[],
          transport_id: pick('transport_id', existing.transport_id) as string | null,
          per_minute: pick('per_minute', existing.per_minute) as number | null,
          per_hour: pick('per_hour', existing.per_hour) as number | null,
          per_day: pick('per_day', existing.per_day) as number | null,
        },
        existing,
      );
      return (await toRules(workspaceId, [row]))[0] as ThrottleRule;
    },

    async deleteRule(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteKey(db, 'throttle_rules', workspaceId, id))) throw ruleNotFound(id);
    },

    async listSchedules(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<WarmupSchedule>> {
      const rows = await repo.listSchedules(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const found = toPage(rows, page.limit);
      return { data: await toSchedules(workspaceId, found.data), next_cursor: found.next_cursor };
    },

    /** The schedule with where it stands today: day N, today's cap, used today, when it ends. */
    async getSchedule(workspaceId: string, id: string): Promise<WarmupSchedule> {
      const row = await repo.findSchedule(db, workspaceId, id);
      if (!row) throw scheduleNotFound(id);
      return (await toSchedules(workspaceId, [row]))[0] as WarmupSchedule;
    },

    async createSchedule(workspaceId: string, input: WarmupScheduleInput): Promise<WarmupSchedule> {
      const sendingDomainId = input.sending_domain_id ?? null;
      const transportId = input.transport_id ?? null;
      if ((sendingDomainId === null) === (transportId === null))
        throw invalid(
          'a warm-up schedule caps one sending domain or one transport: give sending_domain_id or transport_id, not both',
          sendingDomainId === null ? '/sending_domain_id' : '/transport_id',
          'give exactly one of sending_domain_id and transport_id',
        );
      const caps = checkCaps(input.daily_caps ?? [], input.growth ?? null);
      const startDate = input.start_date ?? localDate(clock.now(), await zoneOf(workspaceId));
      await checkStart(workspaceId, startDate);
      if (sendingDomainId)
        await mustExist(
          deps.sendingDomains.get(workspaceId, sendingDomainId),
          '/sending_domain_id',
          sendingDomainId,
        );
      if (transportId)
        await mustExist(deps.transports.get(workspaceId, transportId), '/transport_id', transportId);
      const other = await repo.scheduleFor(db, workspaceId, { sendingDomainId, transportId });
      if (other) throw scheduleExists(other);
      const now = clock.now();
      try {
        const row = await repo.insertSchedule(db, {
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          name: input.name || 'warm-up',
          sending_domain_id: sendingDomainId,
          transport_id: transportId,
          start_date: startDate,
          daily_caps: input.daily_caps ?? [],
          growth_start: input.growth?.start_volume ?? null,
          growth_factor: input.growth?.factor ?? null,
          growth_target: input.growth?.target ?? null,
          caps,
          created_at: now,
          updated_at: now,
        });
        return (await toSchedules(workspaceId, [row]))[0] as WarmupSchedule;
      } catch (error) {
        // A concurrent request made one for the same target first.
        if (!isUniqueViolation(error)) throw error;
        const winner = await repo.scheduleFor(db, workspaceId, { sendingDomainId, transportId });
        if (winner) throw scheduleExists(winner);
        throw error;
      }
    },

    /**
     * Changes the name, the start date (not into the past) or the caps; what
     * it caps stays (delete it and create another). growth: null removes the
     * generated days.
     */
    async updateSchedule(
      workspaceId: string,
      id: string,
      patch: Omit<WarmupScheduleInput, 'sending_domain_id' | 'transport_id'>,
    ): Promise<WarmupSchedule> {
      const existing = await repo.findSchedule(db, workspaceId, id);
      if (!existing) throw scheduleNotFound(id);
      const dailyCaps = patch.daily_caps ?? existing.daily_caps;
      const growth = patch.growth === undefined ? growthOf(existing) : patch.growth;
      const caps = checkCaps(dailyCaps, growth);
      if (patch.start_date !== undefined && patch.start_date !== existing.start_date)
        await checkStart(workspaceId, patch.start_date);
      const row = await repo.updateSchedule(db, workspaceId, id, {
        name: patch.name || existing.name,
        start_date: patch.start_date ?? existing.start_date,
        daily_caps: dailyCaps,
        growth_start: growth?.start_volume ?? null,
        growth_factor: growth?.factor ?? null,
        growth_target: growth?.target ?? null,
        caps,
        updated_at: clock.now(),
      });
      if (!row) throw scheduleNotFound(id);
      return (await toSchedules(workspaceId, [row]))[0] as WarmupSchedule;
    },

    async deleteSchedule(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteKey(db, 'warmup_schedules', workspaceId, id))) throw scheduleNotFound(id);
    },

    /** The campaign sender's port: a campaign's From address and transport are its envelope. */
    forCampaigns: {
      reserve: (
        campaign: { workspace_id: string; from_email: string | null; transport_id: string | null },
        recipients: readonly { id: string; email: string }[],
        now: Date,
      ) =>
        service.reserve(
          campaign.workspace_id,
          { fromEmail: campaign.from_email, transportId: campaign.transport_id },
          recipients,
          now,
        ),
    },

    /** Drops counters of windows that ended two days ago or earlier (the hourly `throttling.prune` job). */
    async prune(): Promise<number> {
      return repo.pruneCounters(db, new Date(clock.now().getTime() - 2 * 86_400_000));
    },
  };
  return service;
}

export type ThrottlingService = ReturnType<typeof createThrottlingService>;

function growthOf(row: repo.ScheduleRow): Growth | null {
  return row.growth_start !== null && row.growth_factor !== null && row.growth_target !== null
    ? { start_volume: row.growth_start, factor: row.growth_factor, target: row.growth_target }
    : null;
}

function ruleNotFound(id: string): DomainError {
  return new DomainError(
    'THROTTLE_RULE_NOT_FOUND',
    `no throttle rule ${id} in this workspace; list them with GET /v1/throttles`,
  );
}

function scheduleNotFound(id: string): DomainError {
  return new DomainError(
    'WARMUP_SCHEDULE_NOT_FOUND',
    `no warm-up schedule ${id} in this workspace; list them with GET /v1/warmup-schedules`,
  );
}
