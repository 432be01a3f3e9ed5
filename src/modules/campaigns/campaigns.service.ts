import { randomBytes } from 'node:crypto';
import type { CampaignStatus, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { zonedTimeToUtc } from '../../lib/zoned-time.js';
import { checkEmail, checkTimezone } from '../contacts/index.js';
import * as repo from './campaigns.repository.js';
import { type AbTestInput, checkAbTest } from './experiment-settings.js';
import * as experiments from './experiments.repository.js';

export interface CampaignSettings {
  name?: string | undefined;
  from_name?: string | null | undefined;
  from_email?: string | null | undefined;
  reply_to?: string | null | undefined;
  subject?: string | null | undefined;
  preheader?: string | null | undefined;
  template_id?: string | null | undefined;
  transport_id?: string | null | undefined;
  rate_limit_per_second?: number | null | undefined;
  track_opens?: boolean | undefined;
  track_clicks?: boolean | undefined;
  utm_source?: string | null | undefined;
  utm_medium?: string | null | undefined;
  utm_campaign?: string | null | undefined;
  utm_content?: string | null | undefined;
  utm_term?: string | null | undefined;
  failure_threshold?: number | undefined;
  hard_bounce_threshold?: number | undefined;
  complaint_threshold?: number | undefined;
  guardrail_min_sent?: number | undefined;
  /** Lists whose members receive the campaign. */
  lists?: string[] | undefined;
  /** Lists whose members never receive it, even when an included list has them. */
  exclude_lists?: string[] | undefined;
  /** A segment whose active contacts receive the campaign too (evaluated live at every claim). */
  segment_id?: string | null | undefined;
  /** Segments whose contacts never receive it. */
  exclude_segment_ids?: string[] | undefined;
  /** An A/B/n test of 2 to 8 variants; null removes it. */
  ab_test?: AbTestInput | null | undefined;
  /** Share of the audience held back as a control group that receives nothing (0 to 0.5). */
  holdout_share?: number | undefined;
  /** Deliver to each contact in their best hour within 24 hours of the start. */
  send_time_optimization?: boolean | undefined;
  /** Seeds the holdout draw and the A/B split (random when not given). */
  random_seed?: string | null | undefined;
}

export interface AbTestView {
  variants: {
    name: string;
    subject: string | null;
    preheader: string | null;
    from_name: string | null;
    template_id: string | null;
    template_version_id: string | null;
    send_delay_minutes: number;
  }[];
  test_share: number;
  metric: experiments.AbTestRow['metric'];
  method: experiments.AbTestRow['method'];
  confidence: number;
  window_minutes: number;
  when_inconclusive: experiments.AbTestRow['when_inconclusive'];
  revenue_currency: string | null;
  phase: experiments.AbTestRow['phase'];
  test_size: number | null;
  test_sent_at: Date | null;
  decide_at: Date | null;
  winner: string | null;
  decided_at: Date | null;
  decided_by: 'test' | 'policy' | 'manual' | null;
}

export interface Campaign {
  id: string;
  name: string;
  status: CampaignStatus;
  from_name: string | null;
  from_email: string | null;
  reply_to: string | null;
  subject: string | null;
  preheader: string | null;
  template_id: string | null;
  template_version_id: string | null;
  transport_id: string | null;
  rate_limit_per_second: number | null;
  track_opens: boolean;
  track_clicks: boolean;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_content: string | null;
  utm_term: string | null;
  failure_threshold: number;
  hard_bounce_threshold: number;
  complaint_threshold: number;
  guardrail_min_sent: number;
  lists: string[];
  exclude_lists: string[];
  segment_id: string | null;
  exclude_segment_ids: string[];
  ab_test: AbTestView | null;
  holdout_share: number;
  send_time_optimization: boolean;
  random_seed: string | null;
  scheduled_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  status_reason: string | null;
  progress: { to_send: number; sent: number; failed: number };
  created_at: Date;
  updated_at: Date;
}

/** An A/B variant as a test send renders it: the campaign's settings with the variant's in their place. */
export interface TestVariant {
  name: string;
  subject: string | null;
  preheader: string | null;
  from_name: string | null;
  template_version_id: string | null;
}

/** Something a marketer should know before (or while) a campaign sends; it never stops the send. */
export interface CampaignWarning {
  code: 'POSTAL_ADDRESS_MISSING';
  message: string;
}

/** Statuses in which the campaign may still send mail, so a warning about that mail still matters. */
const MAY_STILL_SEND: CampaignStatus[] = ['draft', 'scheduled', 'sending', 'testing', 'paused'];

/** Statuses in which a campaign's settings may still change. */
const EDITABLE: CampaignStatus[] = ['draft', 'scheduled'];
const DELETABLE: CampaignStatus[] = ['draft', 'cancelled'];

/** What the campaigns module needs from templates: the version to pin when sending starts. */
export interface TemplateVersionLookup {
  latestVersionId(workspaceId: string, templateId: string): Promise<string | undefined>;
  /** Liquid syntax errors in the subject and preheader overrides, with line and column. */
  checkLiquid(fields: Record<string, string>): ErrorDetail[];
}

interface VersionLookup {
  templateId: string | null;
  versionId: string | undefined;
  /** The sender when looked up, for the sending-domain rule. */
  fromEmail: string | null;
  /** A/B variants with a template of their own: position -> template id and its latest version. */
  variants: Map<number, { templateId: string; versionId: string | undefined }>;
}

export interface ScheduleInput {
  /** ISO 8601 with an offset (2026-12-01T09:00:00+01:00), or a wall-clock time with `timezone`. */
  send_at: string;
  /** IANA zone for a wall-clock `send_at`, e.g. Europe/Berlin. */
  timezone?: string | undefined;
}

/** Whether the From address may be used now (the sending-domains module's verification rule). */
export interface SenderDomainPolicy {
  assertMaySendFrom(workspaceId: string, fromEmail: string): Promise<void>;
}

export function createCampaignService(deps: {
  db: Db;
  clock: Clock;
  templates: TemplateVersionLookup;
  /** Refuses unverified sending domains at send, schedule and scheduled start; none: no refusal. */
  senderDomains?: SenderDomainPolicy | undefined;
  /** The workspace's guardrails for a new campaign that sets none (deliverability settings); none: the columns' defaults. */
  guardrailDefaults?:
    | ((
        workspaceId: string,
      ) => Promise<
        Pick<CampaignSettings, 'hard_bounce_threshold' | 'complaint_threshold' | 'guardrail_min_sent'>
      >)
    | undefined;
  /**
   * Refuses to send or schedule while the workspace requires a postal address
   * it lacks, and reads the address for the POSTAL_ADDRESS_MISSING warning;
   * none: no refusal, no warning.
   */
  postalAddress?:
    | {
        assertPostalAddress(workspaceId: string): Promise<void>;
        get(workspaceId: string): Promise<{ postal_address: string | null }>;
      }
    | undefined;
}) {
  const { db, clock, templates } = deps;

  /**
   * The template version a campaign would pin now. Looked up before the
   * campaign's transaction opens: the templates module uses its own
   * connection, and the embedded database has only one.
   */
  async function versionOf(workspaceId: string, id: string): Promise<VersionLookup> {
    const row = await mustFind(db, workspaceId, id);
    const versionId = row.template_id
      ? await templates.latestVersionId(workspaceId, row.template_id)
      : undefined;
    const variants = new Map<number, { templateId: string; versionId: string | undefined }>();
    for (const variant of await experiments.variantsOf(db, id)) {
      if (!variant.template_id) continue;
      variants.set(variant.position, {
        templateId: variant.template_id,
        versionId: await templates.latestVersionId(workspaceId, variant.template_id),
      });
    }
    return { templateId: row.template_id, versionId, fromEmail: row.from_email, variants };
  }

  /**
   * Refuses variant template ids that are not templates of the workspace.
   * Before the campaign's transaction, like versionOf, for the same reason.
   */
  async function refuseUnknownVariantTemplates(workspaceId: string, input: CampaignSettings): Promise<void> {
    const errors: ErrorDetail[] = [];
    for (const [position, variant] of (input.ab_test?.variants ?? []).entries()) {
      if (!variant.template_id) continue;
      if (!(await templates.latestVersionId(workspaceId, variant.template_id)))
        errors.push({
          path: `/ab_test/variants/${position}/template_id`,
          message: `template ${variant.template_id} does not exist in this workspace`,
        });
    }
    if (errors.length > 0)
      throw new DomainError('TEMPLATE_NOT_FOUND', errors.map((e) => e.message).join('; '), errors);
  }

  /**
   * versionOf for sending: also refuses a From domain that may not send. Before
   * the transaction for the same reason (the sending-domains module reads on
   * its own connection). A from_email changed meanwhile is checked at the next
   * start; test sends are not refused, so a domain can be tried while it is set up.
   */
  async function sendableVersionOf(workspaceId: string, id: string): Promise<VersionLookup> {
    const lookup = await versionOf(workspaceId, id);
    await deps.postalAddress?.assertPostalAddress(workspaceId);
    if (lookup.fromEmail && deps.senderDomains)
      await deps.senderDomains.assertMaySendFrom(workspaceId, lookup.fromEmail);
    return lookup;
  }

  /** Everything that must hold before a campaign may be scheduled or sent, reported together. */
  async function readiness(
    trx: Db,
    row: repo.CampaignRow,
    lookup: VersionLookup,
  ): Promise<{ versionId: string; audience: number }> {
    if (lookup.templateId !== row.template_id) {
      throw new DomainError(
        'CAMPAIGN_STATE_CONFLICT',
        `campaign ${row.id} changed its template meanwhile; try again`,
      );
    }
    const missing: ErrorDetail[] = [];
    if (!row.from_email) missing.push({ path: '/from_email', message: 'set a sender address (from_email)' });
    const versionId = lookup.versionId;
    if (!row.template_id) missing.push({ path: '/template_id', message: 'choose a template (template_id)' });
    else if (!versionId)
      missing.push({ path: '/template_id', message: `template ${row.template_id} does not exist` });
    const variants = await experiments.variantsOf(trx, row.id);
    for (const variant of variants) {
      if (!variant.template_id) continue;
      const looked = lookup.variants.get(variant.position);
      if (looked?.templateId !== variant.template_id)
        throw new DomainError(
          'CAMPAIGN_STATE_CONFLICT',
          `campaign ${row.id} changed its variants meanwhile; try again`,
        );
      if (!looked.versionId)
        missing.push({
          path: `/ab_test/variants/${variant.position}/template_id`,
          message: `template ${variant.template_id} of variant ${variant.name} does not exist`,
        });
    }
    const lists = await repo.campaignLists(trx, row.id);
    const segments = await repo.campaignSegments(trx, row.id);
    if (!lists.some((l) => !l.excluded) && !segments.some((s) => !s.excluded))
      missing.push({
        path: '/lists',
        message: 'include at least one list (lists) or a segment (segment_id)',
      });
    if (missing.length > 0) {
      throw new DomainError(
        'CAMPAIGN_NOT_READY',
        `campaign ${row.id} cannot be sent yet: ${missing.map((m) => m.message).join('; ')}`,
        missing,
      );
    }
    const audience = await repo.countAudience(trx, row.workspace_id, row.id, clock.now());
    if (audience === 0) {
      throw new DomainError(
        'AUDIENCE_EMPTY',
        `campaign ${row.id} has no recipients: its lists and segment have no active, subscribed contacts outside the excluded lists and segments`,
      );
    }
    return { versionId: versionId as string, audience };
  }

  function conflict(row: repo.CampaignRow, action: string, allowed: CampaignStatus[]): DomainError {
    const already = row.status === 'sending' && action === 'send' ? ' (it is already sending)' : '';
    return new DomainError(
      'CAMPAIGN_STATE_CONFLICT',
      `cannot ${action} campaign ${row.id}: it is ${row.status}${already}; ${action} works on ${allowed.join(' or ')} campaigns`,
    );
  }

  /**
   * Pins the template version and the audience size and marks the campaign
   * sending. An A/B campaign also pins its variants' versions and writes its
   * test group (and holdout group) to the send ledger, in the same transaction.
   */
  async function start(
    trx: Db,
    row: repo.CampaignRow,
    from: CampaignStatus[],
    lookup: VersionLookup,
  ): Promise<repo.CampaignRow> {
    const { versionId, audience } = await readiness(trx, row, lookup);
    const now = clock.now();
    const seed = row.random_seed ?? randomBytes(12).toString('hex');
    const draw = { id: row.id, holdout_share: row.holdout_share, random_seed: seed };
    const toSend =
      row.holdout_share > 0
        ? await experiments.countTreatedAudience(trx, row.workspace_id, draw, now)
        : audience;
    const started = await repo.transition(trx, row.id, from, {
      status: 'sending',
      template_version_id: versionId,
      to_send: toSend,
      started_at: now,
      status_reason: null,
      updated_at: now,
      random_seed: seed,
      remainder_variant: null,
    });
    if (!started) throw conflict(row, 'send', from);
    const test = await experiments.abTestOf(trx, row.id);
    if (!test) return started;

    const variants = await experiments.variantsOf(trx, row.id);
    const pinned = new Map<number, string>();
    for (const [position, looked] of lookup.variants)
      if (looked.versionId) pinned.set(position, looked.versionId);
    await experiments.pinVariantVersions(trx, row.id, pinned);
    const groups = await experiments.writeTestGroup(trx, {
      workspaceId: row.workspace_id,
      campaign: draw,
      testShare: test.test_share,
      delays: variants.map((v) => v.send_delay_minutes),
      segments: await repo.audienceSegments(trx, row.workspace_id, row.id, now),
      messageIdDomain: (row.from_email as string).split('@')[1] as string,
      startAt: now,
      now,
    });
    if (groups.test < variants.length) {
      throw new DomainError(
        'CAMPAIGN_NOT_READY',
        `campaign ${row.id} cannot start its A/B test: a test group of ${groups.test} recipients cannot give each of ${variants.length} variants one; raise test_share or add recipients`,
        [
          {
            path: '/ab_test/test_share',
            message: `test group of ${groups.test} for ${variants.length} variants`,
          },
        ],
      );
    }
    await experiments.startAbTest(trx, row.id, groups.test, now);
    // Only the test group goes out until a winner is chosen: no fresh recipients are claimed.
    return (
      (await repo.updateCampaign(trx, row.workspace_id, row.id, {
        audience_exhausted: true,
        audience_cursor: null,
      })) ?? started
    );
  }

  async function abTestView(trx: Db, campaignId: string): Promise<AbTestView | null> {
    const test = await experiments.abTestOf(trx, campaignId);
    if (!test) return null;
    const variants = await experiments.variantsOf(trx, campaignId);
    return {
      variants: variants.map((v) => ({
        name: v.name,
        subject: v.subject,
        preheader: v.preheader,
        from_name: v.from_name,
        template_id: v.template_id,
        template_version_id: v.template_version_id,
        send_delay_minutes: v.send_delay_minutes,
      })),
      test_share: test.test_share,
      metric: test.metric,
      method: test.method,
      confidence: test.confidence,
      window_minutes: test.window_minutes,
      when_inconclusive: test.when_inconclusive,
      revenue_currency: test.revenue_currency,
      phase: test.phase,
      test_size: test.test_size,
      test_sent_at: test.test_sent_at,
      decide_at: test.decide_at,
      winner: test.winner === null ? null : (variants.find((v) => v.position === test.winner)?.name ?? null),
      decided_at: test.decided_at,
      decided_by: test.decided_by,
    };
  }

  async function toCampaign(trx: Db, row: repo.CampaignRow): Promise<Campaign> {
    const lists = await repo.campaignLists(trx, row.id);
    const segments = await repo.campaignSegments(trx, row.id);
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      from_name: row.from_name,
      from_email: row.from_email,
      reply_to: row.reply_to,
      subject: row.subject,
      preheader: row.preheader,
      template_id: row.template_id,
      template_version_id: row.template_version_id,
      transport_id: row.transport_id,
      rate_limit_per_second: row.rate_limit_per_second,
      track_opens: row.track_opens,
      track_clicks: row.track_clicks,
      utm_source: row.utm_source,
      utm_medium: row.utm_medium,
      utm_campaign: row.utm_campaign,
      utm_content: row.utm_content,
      utm_term: row.utm_term,
      failure_threshold: row.failure_threshold,
      hard_bounce_threshold: row.hard_bounce_threshold,
      complaint_threshold: row.complaint_threshold,
      guardrail_min_sent: row.guardrail_min_sent,
      lists: lists.filter((l) => !l.excluded).map((l) => l.list_id),
      exclude_lists: lists.filter((l) => l.excluded).map((l) => l.list_id),
      segment_id: segments.find((s) => !s.excluded)?.segment_id ?? null,
      exclude_segment_ids: segments.filter((s) => s.excluded).map((s) => s.segment_id),
      ab_test: await abTestView(trx, row.id),
      holdout_share: row.holdout_share,
      send_time_optimization: row.send_time_optimization,
      random_seed: row.random_seed,
      scheduled_at: row.scheduled_at,
      started_at: row.started_at,
      finished_at: row.finished_at,
      status_reason: row.status_reason,
      progress: { to_send: row.to_send, sent: row.sent_count, failed: row.failed_count },
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  /**
   * The campaign's segments after a change: `segment_id` replaces the included
   * one, `exclude_segment_ids` the excluded ones; what is not given stays.
   */
  async function checkSegments(
    trx: Db,
    workspaceId: string,
    campaignId: string | undefined,
    input: CampaignSettings,
    errors: ErrorDetail[],
  ): Promise<{ segmentId: string; excluded: boolean }[] | undefined> {
    if (input.segment_id === undefined && input.exclude_segment_ids === undefined) return undefined;
    const current = campaignId ? await repo.campaignSegments(trx, campaignId) : [];
    const included =
      input.segment_id !== undefined
        ? input.segment_id
        : (current.find((s) => !s.excluded)?.segment_id ?? null);
    const excluded = [
      ...new Set(input.exclude_segment_ids ?? current.filter((s) => s.excluded).map((s) => s.segment_id)),
    ];
    if (included && excluded.includes(included)) {
      errors.push({
        path: '/exclude_segment_ids',
        message: `segment ${included} is both the audience and excluded`,
      });
    }
    const wanted = [...(included ? [included] : []), ...excluded];
    const known = new Set(await repo.existingSegmentIds(trx, workspaceId, wanted));
    const unknown = wanted.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new DomainError(
        'SEGMENT_NOT_FOUND',
        `segment ${unknown.join(', ')} does not exist in this workspace`,
        unknown.map((id) => ({
          path: id === included ? '/segment_id' : '/exclude_segment_ids',
          message: `unknown segment ${id}`,
        })),
      );
    }
    return [
      ...(included ? [{ segmentId: included, excluded: false }] : []),
      ...excluded.filter((id) => id !== included).map((segmentId) => ({ segmentId, excluded: true })),
    ];
  }

  /**
   * The A/B test to store after a change (undefined: unchanged, null: none).
   * Its variant subjects and preheaders are Liquid, checked like the
   * campaign's; template references were checked before the transaction.
   */
  async function checkExperiment(
    trx: Db,
    input: CampaignSettings,
    campaignId: string | undefined,
    errors: ErrorDetail[],
    storedSendTimeOptimization: boolean,
  ) {
    if (input.ab_test === undefined) {
      // Turning send-time optimization on must still be checked against stored send-time variants.
      if (input.send_time_optimization && !storedSendTimeOptimization && campaignId) {
        const delayed = (await experiments.variantsOf(trx, campaignId)).find((v) => v.send_delay_minutes > 0);
        if (delayed)
          errors.push({
            path: '/send_time_optimization',
            message: `variant "${delayed.name}" is a send-time variant; remove its send_delay_minutes first`,
          });
      }
      return undefined;
    }
    if (input.ab_test === null) return null;
    const checked = checkAbTest(input.ab_test, {
      sendTimeOptimization: input.send_time_optimization ?? storedSendTimeOptimization,
    });
    if ('errors' in checked) {
      errors.push(...checked.errors);
      return undefined;
    }
    for (const variant of checked.settings.variants) {
      const liquid: Record<string, string> = {};
      if (variant.subject) liquid.subject = variant.subject;
      if (variant.preheader) liquid.preheader = variant.preheader;
      for (const error of templates.checkLiquid(liquid))
        errors.push({ ...error, path: `/ab_test/variants/${variant.position}${error.path ?? ''}` });
    }
    return checked.settings;
  }

  /** Checks addresses, lists and segments; returns the column values to write and the audience, if given. */
  async function checkSettings(
    trx: Db,
    workspaceId: string,
    input: CampaignSettings,
    stored?: repo.CampaignRow,
  ) {
    const campaignId = stored?.id;
    const errors: ErrorDetail[] = [];
    const columns: Record<string, unknown> = {};
    for (const field of ['from_email', 'reply_to'] as const) {
      const value = input[field];
      if (value === undefined) continue;
      if (value === null) {
        columns[field] = null;
        continue;
      }
      const checked = checkEmail(value, `/${field}`);
      if ('error' in checked) errors.push(checked.error);
      else columns[field] = checked.email;
    }
    for (const field of [
      'name',
      'from_name',
      'subject',
      'preheader',
      'template_id',
      'transport_id',
      'rate_limit_per_second',
      'track_opens',
      'track_clicks',
      'utm_source',
      'utm_medium',
      'utm_campaign',
      'utm_content',
      'utm_term',
      'failure_threshold',
      'hard_bounce_threshold',
      'complaint_threshold',
      'guardrail_min_sent',
      'holdout_share',
      'send_time_optimization',
      'random_seed',
    ] as const) {
      if (input[field] !== undefined) columns[field] = input[field];
    }
    const liquid: Record<string, string> = {};
    if (input.subject) liquid.subject = input.subject;
    if (input.preheader) liquid.preheader = input.preheader;
    const liquidErrors = templates.checkLiquid(liquid);
    if (liquidErrors.length > 0) {
      throw new DomainError('TEMPLATE_INVALID', liquidErrors.map((e) => e.message).join('; '), liquidErrors);
    }
    let lists: { listId: string; excluded: boolean }[] | undefined;
    if (input.lists !== undefined || input.exclude_lists !== undefined) {
      const included = [...new Set(input.lists ?? [])];
      const excluded = [...new Set(input.exclude_lists ?? [])];
      const both = included.filter((id) => excluded.includes(id));
      if (both.length > 0) {
        errors.push({
          path: '/exclude_lists',
          message: `list ${both.join(', ')} is both included and excluded`,
        });
      }
      const known = new Set(await repo.existingListIds(trx, workspaceId, [...included, ...excluded]));
      const unknown = [...included, ...excluded].filter((id) => !known.has(id));
      if (unknown.length > 0) {
        throw new DomainError(
          'LIST_NOT_FOUND',
          `list ${unknown.join(', ')} does not exist in this workspace`,
          [{ path: '/lists', message: `unknown list ${unknown.join(', ')}` }],
        );
      }
      lists = [
        ...included.map((listId) => ({ listId, excluded: false })),
        ...excluded.map((listId) => ({ listId, excluded: true })),
      ];
    }
    const segments = await checkSegments(trx, workspaceId, campaignId, input, errors);
    const abTest = await checkExperiment(
      trx,
      input,
      campaignId,
      errors,
      stored?.send_time_optimization ?? false,
    );
    if (errors.length > 0)
      throw new DomainError('VALIDATION_FAILED', errors.map((e) => e.message).join('; '), errors);
    return { columns, lists, segments, abTest };
  }

  async function mustFind(trx: Db, workspaceId: string, id: string, lock = false): Promise<repo.CampaignRow> {
    const row = await repo.findCampaign(trx, workspaceId, id, lock);
    if (!row) throw new DomainError('CAMPAIGN_NOT_FOUND', `campaign ${id} does not exist in this workspace`);
    return row;
  }

  async function act(
    workspaceId: string,
    id: string,
    action: string,
    from: CampaignStatus[],
    changes: Parameters<typeof repo.transition>[3],
  ): Promise<Campaign> {
    return db.transaction().execute(async (trx) => {
      const row = await mustFind(trx, workspaceId, id, true);
      if (!from.includes(row.status)) throw conflict(row, action, from);
      const changed = await repo.transition(trx, id, from, { ...changes, updated_at: clock.now() });
      return toCampaign(trx, changed ?? row);
    });
  }

  return {
    async create(workspaceId: string, given: CampaignSettings & { name: string }): Promise<Campaign> {
      await refuseUnknownVariantTemplates(workspaceId, given);
      // Read before the transaction: the deliverability service uses its own connection.
      const defaults = await deps.guardrailDefaults?.(workspaceId);
      const input = {
        ...given,
        hard_bounce_threshold: given.hard_bounce_threshold ?? defaults?.hard_bounce_threshold,
        complaint_threshold: given.complaint_threshold ?? defaults?.complaint_threshold,
        guardrail_min_sent: given.guardrail_min_sent ?? defaults?.guardrail_min_sent,
      };
      return db.transaction().execute(async (trx) => {
        const { columns, lists, segments, abTest } = await checkSettings(trx, workspaceId, input);
        const now = clock.now();
        const row = await repo.insertCampaign(trx, {
          ...columns,
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          name: input.name,
          created_at: now,
          updated_at: now,
        });
        if (lists) await repo.replaceCampaignLists(trx, workspaceId, row.id, lists);
        if (segments) await repo.replaceCampaignSegments(trx, workspaceId, row.id, segments);
        if (abTest) await experiments.replaceAbTest(trx, workspaceId, row.id, abTest, now);
        return toCampaign(trx, row);
      });
    },

    async get(workspaceId: string, id: string): Promise<Campaign> {
      return toCampaign(db, await mustFind(db, workspaceId, id));
    },

    /**
     * The campaign with what a marketer should know before it sends: no
     * postal address (CAN-SPAM wants one in every commercial email). Only
     * while the campaign may still send; a sent or cancelled one carries none.
     */
    async withWarnings(
      workspaceId: string,
      campaign: Campaign,
    ): Promise<Campaign & { warnings: CampaignWarning[] }> {
      const warnings: CampaignWarning[] = [];
      if (MAY_STILL_SEND.includes(campaign.status) && deps.postalAddress) {
        const workspace = await deps.postalAddress.get(workspaceId);
        if (workspace.postal_address === null)
          warnings.push({
            code: 'POSTAL_ADDRESS_MISSING',
            message:
              'The workspace has no postal address, so this campaign goes out without one; CAN-SPAM requires a physical postal address in commercial email. Set postal_address with PATCH /v1/workspace.',
          });
      }
      return { ...campaign, warnings };
    },

    async list(
      workspaceId: string,
      filter: { status?: CampaignStatus | undefined },
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Campaign>> {
      const rows = await repo.listCampaigns(db, workspaceId, filter, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const paged = toPage(rows, page.limit);
      return {
        data: await Promise.all(paged.data.map((row) => toCampaign(db, row))),
        next_cursor: paged.next_cursor,
      };
    },

    /** Changes settings; only while the campaign is a draft or scheduled, never once it sends. */
    async update(workspaceId: string, id: string, input: CampaignSettings): Promise<Campaign> {
      await refuseUnknownVariantTemplates(workspaceId, input);
      return db.transaction().execute(async (trx) => {
        const current = await mustFind(trx, workspaceId, id, true);
        if (!EDITABLE.includes(current.status)) {
          throw new DomainError(
            'CAMPAIGN_STATE_CONFLICT',
            `campaign ${id} is ${current.status}; only draft or scheduled campaigns can be edited (pause and cancel are actions)`,
          );
        }
        const { columns, lists, segments, abTest } = await checkSettings(trx, workspaceId, input, current);
        if (lists) await repo.replaceCampaignLists(trx, workspaceId, id, lists);
        if (segments) await repo.replaceCampaignSegments(trx, workspaceId, id, segments);
        if (abTest !== undefined) await experiments.replaceAbTest(trx, workspaceId, id, abTest, clock.now());
        const row = await repo.updateCampaign(trx, workspaceId, id, { ...columns, updated_at: clock.now() });
        return toCampaign(trx, row ?? current);
      });
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const current = await mustFind(trx, workspaceId, id, true);
        if (!DELETABLE.includes(current.status)) {
          throw new DomainError(
            'CAMPAIGN_STATE_CONFLICT',
            `campaign ${id} is ${current.status}; only draft or cancelled campaigns can be deleted, so sent campaigns keep their history`,
          );
        }
        await repo.deleteCampaign(trx, workspaceId, id);
      });
    },

    /** Starts sending now. */
    async send(workspaceId: string, id: string): Promise<Campaign> {
      const lookup = await sendableVersionOf(workspaceId, id);
      return db.transaction().execute(async (trx) => {
        const row = await mustFind(trx, workspaceId, id, true);
        const from: CampaignStatus[] = ['draft', 'scheduled'];
        if (!from.includes(row.status)) throw conflict(row, 'send', from);
        return toCampaign(trx, await start(trx, row, from, lookup));
      });
    },

    /** Schedules sending at a future time, stored in UTC. */
    async schedule(workspaceId: string, id: string, input: ScheduleInput): Promise<Campaign> {
      const at = parseSendAt(input);
      const lookup = await sendableVersionOf(workspaceId, id);
      return db.transaction().execute(async (trx) => {
        const row = await mustFind(trx, workspaceId, id, true);
        const from: CampaignStatus[] = ['draft', 'scheduled'];
        if (!from.includes(row.status)) throw conflict(row, 'schedule', from);
        const now = clock.now();
        if (at.getTime() <= now.getTime()) {
          throw new DomainError(
            'SCHEDULE_IN_PAST',
            `send_at ${at.toISOString()} is not in the future (now ${now.toISOString()}); use send to start now`,
            [{ path: '/send_at', message: 'must be in the future' }],
          );
        }
        await readiness(trx, row, lookup);
        const scheduled = await repo.transition(trx, id, from, {
          status: 'scheduled',
          scheduled_at: at,
          updated_at: now,
        });
        return toCampaign(trx, scheduled ?? row);
      });
    },

    async unschedule(workspaceId: string, id: string): Promise<Campaign> {
      return act(workspaceId, id, 'unschedule', ['scheduled'], { status: 'draft', scheduled_at: null });
    },

    async pause(workspaceId: string, id: string): Promise<Campaign> {
      return act(workspaceId, id, 'pause', ['sending'], {
        status: 'paused',
        status_reason: 'paused by request',
      });
    },

    async resume(workspaceId: string, id: string): Promise<Campaign> {
      return act(workspaceId, id, 'resume', ['paused'], { status: 'sending', status_reason: null });
    },

    async cancel(workspaceId: string, id: string): Promise<Campaign> {
      return act(workspaceId, id, 'cancel', ['draft', 'scheduled', 'sending', 'testing', 'paused'], {
        status: 'cancelled',
        status_reason: 'cancelled by request',
        finished_at: clock.now(),
      });
    },

    /** For the sender: starts scheduled campaigns whose time has come; a campaign no longer ready pauses with the reason. */
    async startDue(limit = 10): Promise<number> {
      let started = 0;
      for (const due of await repo.dueCampaigns(db, clock.now(), limit)) {
        try {
          const lookup = await sendableVersionOf(due.workspace_id, due.id);
          await db.transaction().execute(async (trx) => {
            const row = await repo.findCampaign(trx, due.workspace_id, due.id, true);
            if (row?.status === 'scheduled') await start(trx, row, ['scheduled'], lookup);
          });
          started++;
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          await repo.transition(db, due.id, ['scheduled'], {
            status: 'paused',
            status_reason: `could not start at its scheduled time: ${error.message}`,
            updated_at: clock.now(),
          });
        }
      }
      return started;
    },

    /**
     * The campaign as it would send now, with the template's latest version
     * pinned, for a test send. Needs a sender and a template; the audience may
     * be empty. Nothing is written.
     */
    async forTestSend(
      workspaceId: string,
      id: string,
    ): Promise<{ campaign: repo.CampaignRow; variants: TestVariant[] }> {
      const lookup = await versionOf(workspaceId, id);
      const row = await mustFind(db, workspaceId, id);
      const missing: ErrorDetail[] = [];
      if (!row.from_email)
        missing.push({ path: '/from_email', message: 'set a sender address (from_email)' });
      if (!lookup.versionId)
        missing.push({ path: '/template_id', message: 'choose a template (template_id)' });
      const variants: TestVariant[] = [];
      for (const v of await experiments.variantsOf(db, id)) {
        const own = lookup.variants.get(v.position);
        if (own && !own.versionId)
          missing.push({
            path: `/ab_test/variants/${v.position}/template_id`,
            message: `template ${own.templateId} of variant ${v.name} does not exist`,
          });
        variants.push({
          name: v.name,
          subject: v.subject ?? row.subject,
          preheader: v.preheader ?? row.preheader,
          from_name: v.from_name ?? row.from_name,
          template_version_id: own?.versionId ?? lookup.versionId ?? null,
        });
      }
      if (missing.length > 0) {
        throw new DomainError(
          'CAMPAIGN_NOT_READY',
          `campaign ${id} cannot be test-sent yet: ${missing.map((m) => m.message).join('; ')}`,
          missing,
        );
      }
      return { campaign: { ...row, template_version_id: lookup.versionId ?? null }, variants };
    },

    /** The A/B variant (position) the contact was sent, or null (no test, not sent, held out). */
    async variantOf(workspaceId: string, campaignId: string, contactId: string): Promise<number | null> {
      return experiments.variantSent(db, workspaceId, campaignId, contactId);
    },

    /** Who would receive the campaign now: the count and a page of contacts. */
    async audience(
      workspaceId: string,
      id: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<{ total: number; data: { id: string; email: string }[]; next_cursor: string | null }> {
      const after = decodeCursor(page.cursor);
      await mustFind(db, workspaceId, id);
      const now = clock.now();
      const rows = await repo.pageAudience(db, workspaceId, id, { after, limit: page.limit }, now);
      const data = rows.slice(0, page.limit).map((r) => ({ id: r.id, email: r.email }));
      const last = data[data.length - 1];
      return {
        total: await repo.countAudience(db, workspaceId, id, now),
        data,
        next_cursor: rows.length > page.limit && last ? encodeCursor(last.id) : null,
      };
    },
  };
}

export type CampaignService = ReturnType<typeof createCampaignService>;

function parseSendAt(input: ScheduleInput): Date {
  const text = input.send_at.trim();
  if (input.timezone) {
    if (!checkTimezone(input.timezone)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `"${input.timezone}" is not an IANA time zone such as Europe/Berlin`,
        [{ path: '/timezone', message: 'unknown time zone' }],
      );
    }
    const at = zonedTimeToUtc(text, input.timezone);
    if (at) return at;
  } else if (/(?:Z|[+-]\d{2}:?\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))) {
    return new Date(text);
  }
  throw new DomainError(
    'VALIDATION_FAILED',
    `send_at "${text}" is not a time: give 2026-12-01T09:00:00Z, or 2026-12-01T09:00 together with a timezone`,
    [{ path: '/send_at', message: 'invalid time' }],
  );
}
