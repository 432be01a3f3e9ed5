import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { recordWebhookEvents, type WebhookSubscriptions } from '../webhooks/index.js';
import * as repo from './campaigns.repository.js';
import type { CampaignService, TestVariant } from './campaigns.service.js';
import { finishSending, variantsOf } from './experiments.repository.js';
import {
  type ClaimedRecipient,
  claimRecipients,
  deferRecipients,
  recipientsByEmail,
  recordResults,
  type SendResult,
} from './sends.repository.js';

/**
 * What the sender needs from the rest of Herald, defined here by the
 * consumer and wired in the container: content from templates, a signed
 * message from src/mail, and a transport.
 */
export interface PreparedCampaign {
  /** Right-hand side of Message-IDs: the sender's domain. */
  messageIdDomain: string;
  /** Renders, builds and signs one recipient's message. */
  compose(recipient: ClaimedRecipient): Promise<{ raw: Buffer; envelope: { from: string; to: string[] } }>;
  send(message: {
    raw: Buffer;
    envelope: { from: string; to: string[] };
    messageId: string;
  }): Promise<{ providerMessageId: string }>;
}

export interface IncludedAudience {
  listIds: string[];
  segmentId: string | undefined;
}

/** The lists and the segment a campaign sends to, without those it excludes. */
async function includedAudience(db: Db, campaignId: string): Promise<IncludedAudience> {
  const [lists, segments] = await Promise.all([
    repo.campaignLists(db, campaignId),
    repo.campaignSegments(db, campaignId),
  ]);
  return {
    listIds: lists.filter((l) => !l.excluded).map((l) => l.list_id),
    segmentId: segments.find((s) => !s.excluded)?.segment_id,
  };
}

export interface SendingPorts {
  /**
   * Called once per campaign and pinned version: compile, parse keys, open the
   * transport. `audience` holds the lists and the segment the campaign
   * includes (not its exclusions), which name the mailing list in List-Id.
   */
  prepare(campaign: repo.CampaignRow, audience: IncludedAudience): Promise<PreparedCampaign>;
  /** 'permanent' fails the recipient; anything else is retried after the claim's lease. */
  classify(error: unknown): 'permanent' | 'temporary' | 'connection';
}

export interface CampaignSenderOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  campaigns: Pick<CampaignService, 'startDue'>;
  ports: SendingPorts;
  /**
   * The workspace's frequency caps and quiet hours: a recipient over a cap
   * is skipped (error frequency_cap), one in quiet hours waits until they
   * end. Absent: no policy applies.
   */
  sendingPolicy?: {
    deferrals(
      workspaceId: string,
      recipients: readonly { id: string; timezone: string | null }[],
      now: Date,
      exclude: { campaignId: string },
    ): Promise<Map<string, { reason: 'quiet_hours' | 'frequency_cap'; until: Date }>>;
  };
  /**
   * Per-recipient-domain throttles and warm-up caps: reserves room for the
   * recipients the policy lets go now; those without room wait, like quiet
   * hours, until the returned time. Absent: no throttles.
   */
  throttle?:
    | {
        reserve(
          campaign: repo.CampaignRow,
          recipients: readonly { id: string; email: string }[],
          now: Date,
        ): Promise<Map<string, Date>>;
      }
    | undefined;
  /**
   * Send-time optimization: when each contact should receive a campaign
   * that started at `startedAt` (their best hour within 24 hours of it, or
   * `now` once that has passed); contacts left out go at once. Asked only
   * for campaigns with send_time_optimization. Absent: everyone at once.
   */
  sendTimes?:
    | {
        deliveryTimes(
          workspaceId: string,
          contactIds: readonly string[],
          startedAt: Date,
          now: Date,
        ): Promise<ReadonlyMap<string, Date>>;
      }
    | undefined;
  workerId: string;
  /** Recipients claimed at a time. */
  batchSize?: number;
  /**
   * Batches a process keeps going at once per campaign, each claiming,
   * sending and recording on its own, so one batch's database round trips
   * overlap another's sends. At most `batchSize * lanes` recipients are in
   * flight per process: that bounds the duplicates a crash can cause.
   */
  lanes?: number;
  /** How long one round keeps sending one campaign before looking for due schedules and other campaigns. */
  roundMs?: number;
  /** Sends in flight at once per lane (the SMTP pool queues what its connections cannot take yet). */
  concurrency?: number;
  /** How long a claim holds its recipients; an unrecorded recipient is re-sent after it. */
  leaseMs?: number;
  /** A recipient whose sends keep failing temporarily fails for good after this many attempts. */
  maxAttempts?: number;
  /** Failure share is judged only after this many outcomes, so one early bounce cannot pause a campaign. */
  minOutcomesForPause?: number;
  /**
   * A campaign's hard bounces and spam complaints recorded so far (the
   * deliverability module counts its bounce events). Without it the
   * bounce and complaint guardrails are off.
   */
  bounceCounts?:
    | ((workspaceId: string, campaignId: string) => Promise<{ hardBounces: number; complaints: number }>)
    | undefined;
  /**
   * The outbound webhooks' message.sent: asked (from a cache) whether anyone
   * listens before each batch, so a workspace without endpoints pays nothing.
   */
  webhooks?: Pick<WebhookSubscriptions, 'wants'> | undefined;
  /** Called once when a campaign has sent to its whole audience (e.g. to schedule follow-up work). */
  onFinished?: ((campaign: repo.CampaignRow) => Promise<void>) | undefined;
  /**
   * Recipients that failed for good, with the error, after their outcome is
   * recorded: the deliverability module turns an SMTP refusal into a bounce.
   */
  onRefused?:
    | ((
        workspaceId: string,
        refused: { email: string; messageId: string; error: unknown; final: boolean }[],
      ) => Promise<unknown>)
    | undefined;
}

/**
 * The sending loop of one worker. Each round starts due scheduled campaigns,
 * then for each sending campaign runs batches on a few lanes: a lane claims
 * a batch (ledger rows written in the claim's transaction), sends it, and
 * records the outcomes in one transaction. A crash between claim and record
 * leaves rows queued; when their lease expires any worker re-sends them with
 * the same Message-ID, so no recipient is skipped and duplicates are bounded
 * by the batches in flight: `lanes * batchSize` per worker.
 */
export function createCampaignSender(options: CampaignSenderOptions) {
  const { db, clock, logger, ports } = options;
  const batchSize = options.batchSize ?? 100;
  const lanes = options.lanes ?? 4;
  const roundMs = options.roundMs ?? 2000;
  const concurrency = options.concurrency ?? 8;
  /** Messages composed (and signed) together, one block ahead of the sends. */
  const composeBlock = 2 * concurrency;
  const leaseMs = options.leaseMs ?? 120_000;
  const maxAttempts = options.maxAttempts ?? 5;
  const minOutcomes = options.minOutcomesForPause ?? 50;
  const prepared = new Map<string, Promise<PreparedCampaign>>();

  /**
   * The campaign prepared once per pinned version, or one A/B variant of it:
   * the variant's subject, preheader, from name and template version in
   * place of the campaign's where it sets them.
   */
  function preparedFor(campaign: repo.CampaignRow, variant?: number | null): Promise<PreparedCampaign> {
    const key = `${campaign.id}:${campaign.template_version_id}:${campaign.updated_at.getTime()}:${variant ?? ''}`;
    let entry = prepared.get(key);
    if (!entry) {
      entry = (async () => {
        const audience = await includedAudience(db, campaign.id);
        if (variant === undefined || variant === null) return ports.prepare(campaign, audience);
        const v = (await variantsOf(db, campaign.id)).find((row) => row.position === variant);
        if (!v) throw new Error(`campaign ${campaign.id} has no variant ${variant}`);
        return ports.prepare(
          {
            ...campaign,
            subject: v.subject ?? campaign.subject,
            preheader: v.preheader ?? campaign.preheader,
            from_name: v.from_name ?? campaign.from_name,
            template_version_id: v.template_version_id ?? campaign.template_version_id,
          },
          audience,
        );
      })();
      entry.catch(() => prepared.delete(key));
      prepared.set(key, entry);
    }
    return entry;
  }

  async function sendOne(
    campaign: PreparedCampaign,
    recipient: ClaimedRecipient,
    composed: ReturnType<PreparedCampaign['compose']> | undefined,
    refused: { email: string; messageId: string; error: unknown; final: boolean }[],
  ): Promise<SendResult | undefined> {
    // Claimed before the contact unsubscribed, bounced, was blocked or suppressed (a re-send after a crash,
    // an A/B test recipient waiting for its variant's send time): do not send.
    if (!composed) return { contactId: recipient.contact_id, outcome: 'skipped' };
    try {
      const message = await composed;
      const { providerMessageId } = await campaign.send({ ...message, messageId: recipient.message_id });
      return { contactId: recipient.contact_id, outcome: 'sent', providerMessageId };
    } catch (error) {
      const kind = ports.classify(error);
      // Kept in the ledger (not in logs): the provider's words say why a recipient failed.
      const detail = (error as { providerMessage?: unknown }).providerMessage;
      const reason = `${error instanceof Error ? error.message : String(error)}${typeof detail === 'string' ? `: ${detail}` : ''}`;
      if (kind === 'permanent' || recipient.attempts >= maxAttempts) {
        refused.push({ email: recipient.email, messageId: recipient.message_id, error, final: true });
        return { contactId: recipient.contact_id, outcome: 'failed', error: reason };
      }
      // Left queued: the lease runs out and the recipient is tried again, by any worker.
      return undefined;
    }
  }

  /**
   * One claim, send and record. `waitUntil`: come back then (rate limit);
   * `done`: nothing more for now; `exhausted`: nothing left in the audience
   * either, so the campaign may be finished once every lane has stopped.
   */
  async function runBatch(
    campaign: repo.CampaignRow,
  ): Promise<{ handled: number; done: boolean; waitUntil?: Date | undefined; exhausted?: boolean }> {
    const content = await preparedFor(campaign);
    const now = clock.now();
    const claim = await claimRecipients(db, {
      workspaceId: campaign.workspace_id,
      campaignId: campaign.id,
      workerId: options.workerId,
      limit: batchSize,
      now,
      leaseUntil: new Date(now.getTime() + leaseMs),
      messageIdDomain: content.messageIdDomain,
    });
    const { recipients: claimed } = claim;
    if (claim.stopped) return { handled: 0, done: true };
    if (claim.throttledUntil) return { handled: 0, done: false, waitUntil: claim.throttledUntil };
    if (claimed.length === 0) return { handled: 0, done: true, exhausted: claim.exhausted };
    const results: SendResult[] = [];
    const timed = await applySendTimes(campaign, claimed, now);
    const recipients = await applySendingPolicy(campaign, timed, now, results);
    // Composed a block at a time, one block ahead of the sends: a block's signatures travel to the
    // DKIM threads in one message each way, and a message lives only briefly between compose and
    // send, so its buffers die young instead of piling up until a full garbage collection.
    const composed: (ReturnType<PreparedCampaign['compose']> | undefined)[] = [];
    const composeThrough = (index: number) => {
      const end = Math.min(recipients.length, index + 1);
      for (let i = composed.length; i < end; i++) {
        const recipient = recipients[i] as ClaimedRecipient;
        const message =
          recipient.status !== 'active' || recipient.suppressed
            ? undefined
            : recipient.variant === null || recipient.variant === undefined
              ? content.compose(recipient)
              : preparedFor(campaign, recipient.variant).then((variant) => variant.compose(recipient));
        // Awaited (and its failure handled) by sendOne; this only keeps an early failure from counting as unhandled.
        message?.catch(() => {});
        composed.push(message);
      }
    };
    const refused: { email: string; messageId: string; error: unknown; final: boolean }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, recipients.length) }, async () => {
        while (next < recipients.length) {
          const index = next++;
          if (index >= composed.length - composeBlock)
            composeThrough(index - (index % composeBlock) + 2 * composeBlock - 1);
          const result = await sendOne(
            content,
            recipients[index] as ClaimedRecipient,
            composed[index],
            refused,
          );
          if (result) results.push(result);
        }
      }),
    );
    const recordedAt = clock.now();
    const announce = (await options.webhooks?.wants(campaign.workspace_id, 'message.sent'))
      ? (trx: Db, contactIds: string[]) =>
          recordWebhookEvents(
            trx,
            campaign.workspace_id,
            recordedAt,
            contactIds.map((contactId) => ({
              type: 'message.sent' as const,
              contactId,
              data: { campaign_id: campaign.id },
            })),
          )
      : undefined;
    await recordResults(db, campaign.id, results, recordedAt, announce);
    if (refused.length > 0 && options.onRefused) {
      // The outcome is recorded either way; a failure here loses only the bounce evidence, logged.
      await options
        .onRefused(campaign.workspace_id, refused)
        .catch((error: Error) =>
          logger.error(
            { campaign_id: campaign.id, err: error.message },
            'recording refused recipients failed',
          ),
        );
    }
    await pauseIfFailing(campaign.id);
    await checkGuardrails(campaign.workspace_id, campaign.id);
    return { handled: claimed.length, done: false };
  }

  /**
   * Send-time optimization, before the sending policy (so quiet hours and
   * caps still hold at the chosen time): recipients whose time is later are
   * left queued with their lease running until then, like quiet hours; when
   * claimed again at that time their time is now and they go.
   */
  async function applySendTimes(
    campaign: repo.CampaignRow,
    claimed: ClaimedRecipient[],
    now: Date,
  ): Promise<ClaimedRecipient[]> {
    if (!options.sendTimes || !campaign.send_time_optimization) return claimed;
    const active = claimed.filter((r) => r.status === 'active' && !r.suppressed).map((r) => r.contact_id);
    const times = await options.sendTimes.deliveryTimes(
      campaign.workspace_id,
      active,
      campaign.started_at ?? now,
      now,
    );
    const later = [...times]
      .filter(([, at]) => at.getTime() > now.getTime())
      .map(([contactId, until]) => ({ contactId, until }));
    if (later.length === 0) return claimed;
    await deferRecipients(db, campaign.id, later);
    const held = new Set(later.map((d) => d.contactId));
    return claimed.filter((r) => !held.has(r.contact_id));
  }

  /**
   * The claimed recipients the workspace's sending policy and throttles let
   * go now. Recipients over a frequency cap are skipped (pushed to
   * `results`); those in quiet hours or without throttle room are left
   * queued with their lease running to the end of the wait, when any worker
   * claims them again (the deferral is not counted as a send attempt).
   */
  async function applySendingPolicy(
    campaign: repo.CampaignRow,
    claimed: ClaimedRecipient[],
    now: Date,
    results: SendResult[],
  ): Promise<ClaimedRecipient[]> {
    if (!options.sendingPolicy && !options.throttle) return claimed;
    const active = claimed.filter((r) => r.status === 'active' && !r.suppressed);
    const held: Map<string, { reason: 'quiet_hours' | 'frequency_cap' | 'throttle'; until: Date }> =
      options.sendingPolicy
        ? await options.sendingPolicy.deferrals(
            campaign.workspace_id,
            active.map((r) => ({ id: r.contact_id, timezone: r.timezone })),
            now,
            { campaignId: campaign.id },
          )
        : new Map();
    if (options.throttle) {
      // Room is reserved only for recipients about to be sent.
      const free = active.filter((r) => !held.has(r.contact_id));
      const refused = await options.throttle.reserve(
        campaign,
        free.map((r) => ({ id: r.contact_id, email: r.email })),
        now,
      );
      for (const [contactId, until] of refused) held.set(contactId, { reason: 'throttle', until });
    }
    if (held.size === 0) return claimed;
    const waiting: { contactId: string; until: Date }[] = [];
    for (const [contactId, deferral] of held) {
      if (deferral.reason !== 'frequency_cap') waiting.push({ contactId, until: deferral.until });
      else
        results.push({
          contactId,
          outcome: 'skipped',
          error: 'frequency_cap: the contact had as many marketing emails as the workspace allows',
        });
    }
    await deferRecipients(db, campaign.id, waiting);
    return claimed.filter((r) => !held.has(r.contact_id));
  }

  /**
   * Batches of one campaign, back to back on `lanes` lanes, until the
   * campaign has nothing left for now, its rate limit is used up for this
   * second (the round then asks to be woken when the next window opens), or
   * the round's time is up, so due schedules and other campaigns get a turn.
   */
  async function runCampaign(campaign: repo.CampaignRow, roundEnds: number): Promise<number> {
    let exhausted = false;
    const lane = async () => {
      let handled = 0;
      while (!stopping) {
        const batch = await runBatch(campaign);
        handled += batch.handled;
        if (batch.exhausted) exhausted = true;
        if (batch.waitUntil) {
          if (!wakeAt || batch.waitUntil < wakeAt) wakeAt = batch.waitUntil;
          break;
        }
        if (batch.done || clock.now().getTime() >= roundEnds) break;
      }
      return handled;
    };
    // Settled, not all: a failing lane must not leave the other running past the round.
    const outcomes = await Promise.allSettled(Array.from({ length: lanes }, lane));
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    // Only now: a lane that ran out must not finish the campaign while another one still judges its
    // last batch (failure rate, guardrails), or that batch's pause would come too late.
    if (exhausted) await finishIfComplete(campaign);
    return outcomes.reduce((sum, o) => sum + (o.status === 'fulfilled' ? o.value : 0), 0);
  }

  /** A campaign with nobody left to claim or record is finished (an A/B campaign's test group: testing). */
  async function finishIfComplete(campaign: repo.CampaignRow): Promise<void> {
    if ((await repo.countQueued(db, campaign.id)) !== 0) return;
    // An A/B campaign whose test group is out waits for its test window instead (status testing).
    const finished = await finishSending(db, campaign.id, clock.now());
    // Only the worker whose transition took effect reports it, so the hook runs once per campaign.
    if (finished?.status === 'sent' && options.onFinished) {
      await options
        .onFinished(finished.campaign)
        .catch((error: Error) =>
          logger.error({ campaign_id: campaign.id, err: error.message }, 'after-send work failed'),
        );
    }
  }

  async function pauseIfFailing(campaignId: string): Promise<void> {
    const row = await db
      .selectFrom('campaigns')
      .select(['sent_count', 'failed_count', 'failure_threshold'])
      .where('id', '=', campaignId)
      .executeTakeFirst();
    if (!row) return;
    const outcomes = row.sent_count + row.failed_count;
    if (outcomes < minOutcomes || row.failed_count / outcomes <= row.failure_threshold) return;
    const share = Math.round((row.failed_count / outcomes) * 100);
    const paused = await repo.transition(db, campaignId, ['sending'], {
      status: 'paused',
      status_reason: `paused automatically: ${share}% of ${outcomes} recipients failed (threshold ${Math.round(row.failure_threshold * 100)}%); check the transport and resume`,
      updated_at: clock.now(),
    });
    if (paused)
      logger.warn({ campaign_id: campaignId, failed_share: share }, 'campaign paused: failure rate');
  }

  /**
   * The bounce and complaint guardrails: a sending campaign pauses itself
   * when its hard-bounce rate or its complaint rate passes its threshold,
   * once it has sent to `guardrail_min_sent` recipients. "Sent" counts every
   * recipient handed to the transport (accepted or refused at once): a
   * synchronous 550 is a hard bounce of a sent message. Checked after every
   * batch and whenever a report about the campaign arrives (`checkGuardrails`
   * on the sender), since asynchronous bounces come after their batch.
   */
  async function checkGuardrails(workspaceId: string, campaignId: string): Promise<boolean> {
    if (!options.bounceCounts) return false;
    const row = await db
      .selectFrom('campaigns')
      .select([
        'status',
        'sent_count',
        'failed_count',
        'hard_bounce_threshold',
        'complaint_threshold',
        'guardrail_min_sent',
      ])
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', campaignId)
      .executeTakeFirst();
    if (row?.status !== 'sending') return false;
    const sent = row.sent_count + row.failed_count;
    if (sent < row.guardrail_min_sent) return false;
    const counts = await options.bounceCounts(workspaceId, campaignId);
    const breach = [
      { rate: 'hard-bounce', count: counts.hardBounces, threshold: row.hard_bounce_threshold },
      { rate: 'complaint', count: counts.complaints, threshold: row.complaint_threshold },
    ].find((g) => g.count / sent > g.threshold);
    if (!breach) return false;
    const percent = (share: number) => `${Number((share * 100).toFixed(2))}%`;
    const paused = await repo.transition(db, campaignId, ['sending'], {
      status: 'paused',
      status_reason:
        `paused automatically: ${breach.rate} rate ${percent(breach.count / sent)} ` +
        `(${breach.count} of ${sent} sent) is over the threshold of ${percent(breach.threshold)}; ` +
        `clean the audience, then resume`,
      updated_at: clock.now(),
    });
    if (paused)
      logger.warn(
        { campaign_id: campaignId, rate: breach.rate, count: breach.count, sent },
        'campaign paused: guardrail',
      );
    return Boolean(paused);
  }

  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopping = false;
  /** The earliest moment a throttled campaign may claim again, set by the last round. */
  let wakeAt: Date | undefined;
  let current: Promise<unknown> = Promise.resolve();

  const sender = {
    /** Runs rounds until stopped: at once while there is work, every `pollIntervalMs` when idle. */
    start(pollIntervalMs: number) {
      if (running) return;
      running = true;
      stopping = false;
      const loop = () => {
        if (!running) return;
        current = sender
          .round()
          .catch((error: Error) => {
            logger.error({ err: error.message }, 'sending round failed');
            return 0;
          })
          .then((handled) => {
            if (!running) return;
            const untilWake = wakeAt ? wakeAt.getTime() - clock.now().getTime() : pollIntervalMs;
            timer = setTimeout(loop, handled > 0 ? 0 : Math.max(0, Math.min(pollIntervalMs, untilWake)));
          });
      };
      loop();
    },

    /** Stops after the batch in flight is recorded, so a graceful shutdown leaves nothing to re-send. */
    async stop(): Promise<void> {
      running = false;
      stopping = true;
      if (timer) clearTimeout(timer);
      await current;
    },

    /** Re-checks the bounce and complaint guardrails of one campaign (a report about it arrived). */
    checkGuardrails,

    /** Rounds until no campaign has work left. For tests. */
    async drain(): Promise<number> {
      let total = 0;
      for (;;) {
        const handled = await sender.round();
        if (handled === 0) return total;
        total += handled;
      }
    },

    /**
     * Sends the campaign's message to a few addresses now, personalized with
     * the matching contact's data when there is one. Test sends bypass the
     * ledger and the counters: they are not part of the campaign's delivery.
     */
    async sendTest(
      campaign: repo.CampaignRow,
      emails: string[],
      variants: TestVariant[] = [],
    ): Promise<{ email: string; variant?: string; delivered: boolean; error?: string }[]> {
      const audience = await includedAudience(db, campaign.id);
      // An A/B campaign sends every variant to each address, so each can be checked in a real inbox.
      const versions =
        variants.length === 0
          ? [{ name: undefined, content: await ports.prepare(campaign, audience) }]
          : await Promise.all(
              variants.map(async (v) => ({
                name: v.name,
                content: await ports.prepare({ ...campaign, ...v, name: campaign.name }, audience),
              })),
            );
      const known = new Map(
        (await recipientsByEmail(db, campaign.workspace_id, emails)).map((c) => [c.email_key, c]),
      );
      const results: { email: string; variant?: string; delivered: boolean; error?: string }[] = [];
      for (const email of emails)
        for (const { name: variant, content } of versions) {
          const contact = known.get(email.toLowerCase());
          const recipient: ClaimedRecipient = {
            contact_id: contact?.id ?? '00000000-0000-4000-8000-000000000000',
            message_id: `${randomUUID()}@${content.messageIdDomain}`,
            attempts: 1,
            email,
            external_id: contact?.external_id ?? null,
            status: 'active',
            attributes: contact?.attributes ?? {},
            tags: contact?.tags ?? [],
            timezone: contact?.timezone ?? null,
            locale: contact?.locale ?? null,
            // Test sends are not counted: no pixel, no tracked links.
            tracking_consent: false,
          };
          try {
            const message = await content.compose(recipient);
            await content.send({ ...message, messageId: recipient.message_id });
            results.push({ email, ...(variant ? { variant } : {}), delivered: true });
          } catch (error) {
            results.push({
              email,
              ...(variant ? { variant } : {}),
              delivered: false,
              error: error instanceof Error ? error.message : String(error),
            });
          }
        }
      return results;
    },

    /** One round over all sending campaigns; returns recipients handled. */
    async round(): Promise<number> {
      await options.campaigns.startDue();
      let handled = 0;
      wakeAt = undefined;
      const roundEnds = clock.now().getTime() + roundMs;
      for (const campaign of await repo.sendingCampaigns(db, 20)) {
        try {
          handled += await runCampaign(campaign, roundEnds);
        } catch (error) {
          logger.error({ campaign_id: campaign.id, err: (error as Error).message }, 'campaign batch failed');
        }
      }
      return handled;
    },
  };
  return sender;
}

export type CampaignSender = ReturnType<typeof createCampaignSender>;
