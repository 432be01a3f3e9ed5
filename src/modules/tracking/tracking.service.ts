import type { Logger } from 'pino';
import type { Db, HitKind, IpAnonymization } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { SecretKeyring } from '../../lib/secret-keys.js';
import { type TokenPayload, verifyToken } from '../../lib/signed-tokens.js';
import type { TemplateService } from '../templates/index.js';
import { recordWebhookEvents, type WebhookEventInput, type WebhookSubscriptions } from '../webhooks/index.js';
import { createBoundedCache } from './bounded-cache.js';
import {
  type ClassifiableHit,
  type ClassifierOptions,
  createSequenceClassifier,
  DEFAULT_CLASSIFIER_OPTIONS,
  type Label,
} from './classification.js';
import { createHitWriter, type HitWriterStats } from './hit-writer.js';
import { anonymizeIp } from './ip-address.js';
import {
  destinationUrl,
  prepareTracking,
  scanTemplate,
  type TemplateScan,
  type Tracker,
} from './link-tracking.js';
import * as repo from './tracking.repository.js';

export interface TrackingServiceDeps {
  db: Db;
  keyring: SecretKeyring;
  clock: Clock;
  logger: Logger;
  publicUrl: string;
  templates: Pick<TemplateService, 'getVersion' | 'versionSnippets'>;
  flushIntervalMs: number;
  batchSize: number;
  maxBuffered: number;
  classifier?: ClassifierOptions | undefined;
  /** The outbound webhooks' message.opened / message.clicked: only recorded for workspaces that listen. */
  webhooks?: Pick<WebhookSubscriptions, 'wants'> | undefined;
}

/** A hit as the endpoints see it, before classification and IP anonymization. */
interface PendingHit extends ClassifiableHit {
  workspaceId: string;
  campaignId: string | null;
  contactId: string;
  ip: string | null;
}

export interface HitMeta {
  userAgent: string | undefined;
  ip: string | undefined;
}

export type ClickOutcome =
  | { kind: 'redirect'; location: string; hitId: string }
  | { kind: 'honeypot' }
  | { kind: 'invalid' };

export type BeaconOutcome =
  | 'open_valid'
  | 'open_invalid'
  | 'open_limited'
  | 'click_redirect'
  | 'click_honeypot'
  | 'click_invalid'
  | 'click_limited';

export interface TrackingStats extends HitWriterStats {
  requests: Record<BeaconOutcome, number>;
}

export interface TrackingSettings {
  ip_anonymization: IpAnonymization;
}

const CACHE_TTL_MS = 60_000;
/**
 * Analytics adds hits by id order behind a watermark that trails real time by
 * a few seconds; a batch written later than this (the database was away)
 * marks its campaigns for a full recompute instead.
 */
const LATE_MS = 2_000;
/** Entries per generation of each cache (bounded-cache.ts): at most twice this many are kept. */
const CACHED_PER_GENERATION = 10_000;
/** `href` values of a snippet's links (single or double quoted). */
const SNIPPET_HREF = /<a\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;

/**
 * Open and click tracking: prepares the per-recipient link rewriter of a
 * template version, records hits from the public endpoints through the
 * buffered writer (classifying them and anonymizing IPs as they are written),
 * and re-classifies stored hits.
 */
/**
 * The workspace's IP anonymization, read with `db` (a caller's transaction), for other modules that
 * store an IP address (consent records): they apply it with anonymizeIp as tracking hits do.
 */
export async function ipAnonymizationOf(db: Db, workspaceId: string): Promise<IpAnonymization> {
  return (await repo.ipModes(db, [workspaceId])).get(workspaceId) ?? 'truncate';
}

export function createTrackingService(deps: TrackingServiceDeps) {
  const { db, keyring, clock, logger } = deps;
  const base = deps.publicUrl.replace(/\/+$/, '');
  const options = deps.classifier ?? DEFAULT_CLASSIFIER_OPTIONS;
  const classifier = createSequenceClassifier(options);

  const cache = <V>() => createBoundedCache<string, V>(CACHED_PER_GENERATION);
  const versions = cache<Promise<{ scan: TemplateScan; linkIds: Map<string, string> }>>();
  const links = cache<string>();
  const utms = cache<{ at: number; utm: repo.UtmRow | undefined }>();
  const targets = cache<{ at: number; target: (hitId: string | undefined) => string }>();
  const deliveredAt = cache<Date>();
  /** When each campaign was looked up, and when it finished sending once it is sent (final). */
  const campaignEnds = cache<{ at: number; finishedAt: number | undefined }>();
  const ipModeCache = cache<{ at: number; mode: IpAnonymization }>();

  /** Requests the public endpoints answered, by outcome; read by the metrics endpoint. */
  const requests: Record<BeaconOutcome, number> = {
    open_valid: 0,
    open_invalid: 0,
    open_limited: 0,
    click_redirect: 0,
    click_honeypot: 0,
    click_invalid: 0,
    click_limited: 0,
  };

  const writer = createHitWriter<PendingHit>({
    write: writeBatch,
    flushIntervalMs: deps.flushIntervalMs,
    batchSize: deps.batchSize,
    maxBuffered: deps.maxBuffered,
    onError: (error, waiting) =>
      logger.warn({ err: (error as Error).message, waiting }, 'writing tracking hits failed; will retry'),
  });

  async function ipModesFor(workspaceIds: string[]): Promise<Map<string, IpAnonymization>> {
    const now = clock.now().getTime();
    const result = new Map<string, IpAnonymization>();
    const missing: string[] = [];
    for (const id of workspaceIds) {
      const cached = ipModeCache.get(id);
      if (cached && now - cached.at < CACHE_TTL_MS) result.set(id, cached.mode);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const [id, mode] of await repo.ipModes(db, missing)) {
        result.set(id, mode);
        ipModeCache.set(id, { at: now, mode });
      }
    }
    return result;
  }

  /**
   * When each clicked message was delivered. A sent message's time never
   * changes, so found times are kept (bounded): a message's later clicks, in
   * later batches, need no lookup.
   */
  async function deliveryTimesFor(
    campaignKeys: Map<string, { workspaceId: string; campaignId: string; contactId: string }>,
    messageKeys: Map<string, { workspaceId: string; messageId: string }>,
  ): Promise<Map<string, Date>> {
    const times = new Map<string, Date>();
    const missingCampaign = [...campaignKeys].filter(([key]) => !known(key));
    const missingMessage = [...messageKeys].filter(([key]) => !known(key));
    function known(key: string): boolean {
      const at = deliveredAt.get(key);
      if (at) times.set(key, at);
      return at !== undefined;
    }
    if (missingCampaign.length === 0 && missingMessage.length === 0) return times;
    const found = await repo.deliveryTimes(
      db,
      missingCampaign.map(([, k]) => k),
      missingMessage.map(([, k]) => k),
    );
    for (const [key, at] of found) {
      times.set(key, at);
      deliveredAt.set(key, at);
    }
    return times;
  }

  /**
   * When the campaigns of a batch's clicks finished sending, for those that
   * are sent. Sent is final, so a finish time is kept; a campaign still
   * sending is asked again a minute later.
   */
  async function campaignsFinishedAt(campaigns: Map<string, string>): Promise<Map<string, number>> {
    const finished = new Map<string, number>();
    const now = clock.now().getTime();
    const ask: { workspaceId: string; campaignId: string }[] = [];
    for (const [campaignId, workspaceId] of campaigns) {
      const cached = campaignEnds.get(campaignId);
      if (cached?.finishedAt !== undefined) finished.set(campaignId, cached.finishedAt);
      else if (!cached || now - cached.at >= CACHE_TTL_MS) ask.push({ workspaceId, campaignId });
    }
    if (ask.length === 0) return finished;
    const found = await repo.sentCampaignsFinishedAt(db, ask);
    for (const { campaignId } of ask) {
      const finishedAt = found.get(campaignId)?.getTime();
      campaignEnds.set(campaignId, { at: now, finishedAt });
      if (finishedAt !== undefined) finished.set(campaignId, finishedAt);
    }
    return finished;
  }

  /** Classifies a batch in time order with its delivery times, then writes it in one insert. */
  async function writeBatch(batch: PendingHit[]): Promise<void> {
    const workspaceIds = new Set<string>();
    const clickedCampaigns = new Map<string, string>();
    let inOrder = true;
    for (let i = 0; i < batch.length; i++) {
      const h = batch[i] as PendingHit;
      workspaceIds.add(h.workspaceId);
      if (i > 0 && h.occurredAt.getTime() < (batch[i - 1] as PendingHit).occurredAt.getTime())
        inOrder = false;
      if (h.kind === 'click' && h.campaignId) clickedCampaigns.set(h.campaignId, h.workspaceId);
    }
    const finished = await campaignsFinishedAt(clickedCampaigns);
    const campaignKeys = new Map<string, { workspaceId: string; campaignId: string; contactId: string }>();
    const messageKeys = new Map<string, { workspaceId: string; messageId: string }>();
    for (const h of batch) {
      // Only clicks are judged by their time since delivery.
      if (h.kind !== 'click') continue;
      if (h.campaignId) {
        // A campaign sent more than the too-fast window before the click delivered all its messages
        // earlier still: the click cannot be too fast, and its delivery time is not needed. Most clicks
        // of a large campaign come after it finished sending.
        const end = finished.get(h.campaignId);
        if (end !== undefined && h.occurredAt.getTime() - end >= options.tooFastMs) continue;
        campaignKeys.set(`${h.campaignId}:${h.contactId}`, {
          workspaceId: h.workspaceId,
          campaignId: h.campaignId,
          contactId: h.contactId,
        });
      } else messageKeys.set(h.messageId, { workspaceId: h.workspaceId, messageId: h.messageId });
    }
    const [modes, delivered] = await Promise.all([
      ipModesFor([...workspaceIds]),
      deliveryTimesFor(campaignKeys, messageKeys),
    ]);
    // Queued in arrival order, a batch is in time order, except one put back after a failed write.
    const sorted = inOrder
      ? batch
      : [...batch].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
    const labels: Label[] = new Array(sorted.length);
    let positions: Map<string, number> | undefined;
    const late: repo.Relabel[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const hit = sorted[i] as PendingHit;
      const at = delivered.get(hit.campaignId ? `${hit.campaignId}:${hit.contactId}` : hit.messageId);
      const result = classifier.push(hit, at);
      labels[i] = result.label;
      for (const change of result.relabel) {
        positions ??= new Map(sorted.map((h, index) => [h.id, index]));
        const earlier = positions.get(change.id);
        if (earlier !== undefined) labels[earlier] = change.label;
        else
          late.push({
            id: change.id,
            workspaceId: hit.workspaceId,
            campaignId: hit.campaignId,
            ...change.label,
          });
      }
    }
    const rows: repo.HitRow[] = sorted.map((h, i) => {
      const label = labels[i] as Label;
      return {
        id: h.id,
        workspace_id: h.workspaceId,
        campaign_id: h.campaignId,
        contact_id: h.contactId,
        message_id: h.messageId,
        link_id: h.linkId,
        kind: h.kind,
        occurred_at: h.occurredAt,
        user_agent: h.userAgent,
        ip: anonymizeIp(h.ip, modes.get(h.workspaceId) ?? 'truncate'),
        classification: label.classification,
        reason: label.reason,
      };
    });
    await insertWithWebhookEvents(rows, [...workspaceIds]);
    if (late.length > 0) await repo.relabelHits(db, late, clock.now());
    const now = clock.now();
    const delayed = new Map<string, string>();
    for (const h of batch) {
      if (h.campaignId && now.getTime() - h.occurredAt.getTime() > LATE_MS)
        delayed.set(h.campaignId, h.workspaceId);
    }
    if (delayed.size > 0) await repo.markDirty(db, delayed, now);
  }

  /**
   * Inserts the batch; when some workspace of it listens for opens or clicks
   * (cached subscription sets), in one transaction with a webhook event per
   * stored hit, carrying its classification at write time (human, proxy,
   * machine...; a later burst or honeypot may relabel the stored hit).
   */
  async function insertWithWebhookEvents(rows: repo.HitRow[], workspaceIds: string[]): Promise<void> {
    const listening = new Set<string>();
    if (deps.webhooks) {
      for (const workspaceId of workspaceIds) {
        for (const kind of ['open', 'click'] as const) {
          const type = kind === 'open' ? 'message.opened' : 'message.clicked';
          if (await deps.webhooks.wants(workspaceId, type)) listening.add(`${workspaceId}:${kind}`);
        }
      }
    }
    if (listening.size === 0) {
      await repo.insertHits(db, rows);
      return;
    }
    const at = clock.now();
    await db.transaction().execute(async (trx) => {
      const stored = new Set((await repo.insertHitsReturning(trx, rows)).ids);
      const byWorkspace = new Map<string, WebhookEventInput[]>();
      for (const row of rows) {
        if (!stored.has(row.id) || !listening.has(`${row.workspace_id}:${row.kind}`)) continue;
        const events = byWorkspace.get(row.workspace_id) ?? [];
        events.push({
          type: row.kind === 'open' ? 'message.opened' : 'message.clicked',
          contactId: row.contact_id,
          data: {
            hit_id: row.id,
            campaign_id: row.campaign_id,
            message_id: row.message_id,
            link_id: row.link_id,
            occurred_at: row.occurred_at.toISOString(),
            classification: row.classification,
            reason: row.reason,
          },
        });
        byWorkspace.set(row.workspace_id, events);
      }
      for (const [workspaceId, events] of byWorkspace)
        await recordWebhookEvents(trx, workspaceId, at, events);
    });
  }

  function enqueue(
    kind: HitKind,
    ids: { workspaceId: string; messageId: string; contactId: string; campaignId?: string | undefined },
    linkId: string | null,
    meta: HitMeta,
  ): string {
    const now = clock.now();
    const id = uuidv7(now.getTime());
    writer.enqueue({
      id,
      kind,
      linkId,
      workspaceId: ids.workspaceId,
      messageId: ids.messageId,
      contactId: ids.contactId,
      campaignId: ids.campaignId ?? null,
      occurredAt: now,
      userAgent: meta.userAgent ? meta.userAgent.slice(0, 500) : null,
      ip: meta.ip ?? null,
    });
    return id;
  }

  /** The token's payload when it names the workspace, message and contact a hit needs (checked, not copied: once per request). */
  function tokenIds(kind: 'open' | 'click', token: string) {
    const payload = verifyToken(keyring, kind, token, clock.now());
    if (!payload?.workspaceId || !payload.messageId || !payload.contactId) return undefined;
    return payload as TokenPayload & { workspaceId: string; messageId: string; contactId: string };
  }

  async function linkUrl(workspaceId: string, linkId: string): Promise<string | undefined> {
    const key = `${workspaceId}:${linkId}`;
    const cached = links.get(key);
    if (cached !== undefined) return cached;
    const url = await repo.findLinkUrl(db, workspaceId, linkId);
    if (url !== undefined) links.set(key, url);
    return url;
  }

  async function utmOf(
    workspaceId: string,
    campaignId: string | undefined,
  ): Promise<repo.UtmRow | undefined> {
    if (!campaignId) return undefined;
    const key = `${workspaceId}:${campaignId}`;
    const now = clock.now().getTime();
    const cached = utms.get(key);
    if (cached && now - cached.at < CACHE_TTL_MS) return cached.utm;
    const utm = await repo.campaignUtm(db, workspaceId, campaignId);
    utms.set(key, { at: now, utm });
    return utm;
  }

  /**
   * Where a link of a campaign redirects, given the hit id: the stored URL
   * with the campaign's UTM parameters, worked out once per link and campaign
   * (parsing the URL is the costly part) and kept as long as the UTM cache.
   */
  function cachedTarget(
    workspaceId: string,
    linkId: string,
    campaignId: string | undefined,
  ): ((hitId: string | undefined) => string) | undefined {
    const cached = targets.get(`${workspaceId}:${linkId}:${campaignId ?? ''}`);
    return cached && clock.now().getTime() - cached.at < CACHE_TTL_MS ? cached.target : undefined;
  }

  async function linkTarget(
    workspaceId: string,
    linkId: string,
    campaignId: string | undefined,
  ): Promise<((hitId: string | undefined) => string) | undefined> {
    const key = `${workspaceId}:${linkId}:${campaignId ?? ''}`;
    const now = clock.now().getTime();
    const url = await linkUrl(workspaceId, linkId);
    if (url === undefined) return undefined;
    const utm = (await utmOf(workspaceId, campaignId)) ?? {};
    const withUtm = destinationUrl(url, utm);
    const target = (hitId: string | undefined) => (hitId ? destinationUrl(withUtm, {}, hitId) : withUtm);
    targets.set(key, { at: now, target });
    return target;
  }

  async function settings(workspaceId: string): Promise<TrackingSettings> {
    const modes = await repo.ipModes(db, [workspaceId]);
    const mode = modes.get(workspaceId);
    if (!mode) throw new DomainError('WORKSPACE_NOT_FOUND', `workspace ${workspaceId} does not exist`);
    return { ip_anonymization: mode };
  }

  return {
    /**
     * The link rewriter for one template version, for a campaign (or any
     * sender): links are found and registered once per version (cached);
     * `apply` then runs per recipient.
     */
    async prepare(input: {
      workspaceId: string;
      templateVersionId: string;
      trackOpens: boolean;
      trackClicks: boolean;
      honeypot?: boolean | undefined;
    }): Promise<Tracker> {
      const key = `${input.workspaceId}:${input.templateVersionId}`;
      let entry = versions.get(key);
      if (!entry) {
        entry = (async () => {
          const [version, snippets] = await Promise.all([
            deps.templates.getVersion(input.workspaceId, input.templateVersionId),
            deps.templates.versionSnippets(input.workspaceId, input.templateVersionId),
          ]);
          // Snippets render into both parts as stored, so their links are found too: in the HTML as
          // written, in the text part as the bare URLs the generated text shows for their links.
          const sources = Object.values(snippets);
          const hrefs = sources.flatMap((src) => [...src.matchAll(SNIPPET_HREF)].map((m) => m[1] ?? m[2]));
          const scan = scanTemplate(
            [version.compiled_html, ...sources].join('\n'),
            [version.compiled_text, ...hrefs].join('\n'),
            { publicUrl: base },
          );
          const rows = await repo.upsertLinks(
            db,
            input.workspaceId,
            input.templateVersionId,
            scan.urls,
            clock.now(),
          );
          return { scan, linkIds: new Map(rows.map((r) => [r.url, r.id])) };
        })();
        entry.catch(() => versions.delete(key));
        versions.set(key, entry);
      }
      const { scan, linkIds } = await entry;
      return prepareTracking({
        keyring,
        publicUrl: base,
        scan,
        linkIds,
        trackOpens: input.trackOpens,
        trackClicks: input.trackClicks,
        honeypot: input.honeypot,
      });
    },

    /** Records an open; false when the token is not a valid open token (nothing recorded). */
    open(token: string, meta: HitMeta, record = true): boolean {
      const ids = tokenIds('open', token);
      if (!ids) {
        requests.open_invalid++;
        return false;
      }
      requests.open_valid++;
      if (record) enqueue('open', ids, null, meta);
      return true;
    },

    /**
     * Records a click and returns where to send the person: the link's stored
     * URL (found by the signed link id in the token's workspace) plus UTM
     * parameters and `hid`. Never a URL taken from the request. A promise
     * only while the link's target is not cached in this process yet.
     */
    click(token: string, meta: HitMeta, record = true): ClickOutcome | Promise<ClickOutcome> {
      const ids = tokenIds('click', token);
      if (!ids) {
        requests.click_invalid++;
        return { kind: 'invalid' };
      }
      const linkId = ids.linkId;
      if (!linkId) {
        requests.click_honeypot++;
        if (record) enqueue('click', ids, null, meta);
        return { kind: 'honeypot' };
      }
      const redirect = (target: ((hitId: string | undefined) => string) | undefined): ClickOutcome => {
        if (target === undefined) {
          requests.click_invalid++;
          return { kind: 'invalid' };
        }
        requests.click_redirect++;
        const hitId = record ? enqueue('click', ids, linkId, meta) : undefined;
        return { kind: 'redirect', location: target(hitId), hitId: hitId ?? '' };
      };
      // Cached after the first click on the link: the common case answers without a promise.
      const cached = cachedTarget(ids.workspaceId, linkId, ids.campaignId);
      return cached ? redirect(cached) : linkTarget(ids.workspaceId, linkId, ids.campaignId).then(redirect);
    },

    /** Counts a request the endpoint refused for its rate limit (the service never saw its token). */
    countLimited(kind: 'open' | 'click'): void {
      requests[kind === 'open' ? 'open_limited' : 'click_limited']++;
    },

    /**
     * Runs the classification again over a campaign's stored hits, in arrival
     * order with a sliding window (bounded memory), and updates the hits
     * whose label changes; analytics is told through analytics_dirty.
     */
    async reclassify(
      workspaceId: string,
      campaignId: string,
    ): Promise<{ examined: number; changed: number }> {
      if (!(await repo.campaignExists(db, workspaceId, campaignId))) {
        throw new DomainError(
          'CAMPAIGN_NOT_FOUND',
          `campaign ${campaignId} does not exist in this workspace`,
        );
      }
      const fresh = createSequenceClassifier(options, { maxMessages: 1_000_000 });
      const keepMs = Math.max(options.hiddenWindowMs, options.burstWindowMs);
      const pending = new Map<string, { hit: repo.HitRow; label: Label }>();
      const changes: repo.Relabel[] = [];
      let examined = 0;
      let changed = 0;
      let newest = 0;
      const settle = async (all: boolean) => {
        for (const [id, entry] of pending) {
          if (!all && entry.hit.occurred_at.getTime() >= newest - keepMs) continue;
          pending.delete(id);
          if (
            entry.label.classification !== entry.hit.classification ||
            entry.label.reason !== entry.hit.reason
          ) {
            changes.push({ id, workspaceId, campaignId, ...entry.label });
          }
        }
        if (changes.length >= 1000 || (all && changes.length > 0)) {
          changed += await repo.relabelHits(db, changes.splice(0), clock.now());
        }
      };
      let after: string | undefined;
      for (;;) {
        const page = await repo.hitsPage(db, workspaceId, campaignId, after, 5000);
        if (page.length === 0) break;
        after = page[page.length - 1]?.id;
        const delivered = await repo.deliveryTimes(
          db,
          [...new Set(page.map((h) => h.contact_id))].map((contactId) => ({
            workspaceId,
            campaignId,
            contactId,
          })),
          [],
        );
        for (const hit of page) {
          examined++;
          const t = hit.occurred_at.getTime();
          if (t > newest) newest = t;
          const result = fresh.push(
            {
              id: hit.id,
              messageId: hit.message_id,
              kind: hit.kind,
              linkId: hit.link_id,
              occurredAt: hit.occurred_at,
              userAgent: hit.user_agent,
            },
            delivered.get(`${campaignId}:${hit.contact_id}`),
          );
          pending.set(hit.id, { hit, label: result.label });
          for (const change of result.relabel) {
            const target = pending.get(change.id);
            if (target) target.label = change.label;
          }
        }
        await settle(false);
      }
      await settle(true);
      return { examined, changed };
    },

    settings,

    async updateSettings(workspaceId: string, patch: Partial<TrackingSettings>): Promise<TrackingSettings> {
      if (patch.ip_anonymization) {
        await repo.setIpMode(db, workspaceId, patch.ip_anonymization);
        ipModeCache.delete(workspaceId);
      }
      return settings(workspaceId);
    },

    /** Writes every buffered hit now (tests, shutdown). */
    flush: () => writer.flush(),
    /** Stops the writer after writing every buffered hit. */
    close: () => writer.close(),
    stats: (): TrackingStats => ({ ...writer.stats(), requests: { ...requests } }),
  };
}

export type TrackingService = ReturnType<typeof createTrackingService>;
