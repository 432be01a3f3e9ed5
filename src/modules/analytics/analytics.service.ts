import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { ConversionAttribution, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { requireEmail } from '../contacts/index.js';
import { recordWebhookEvent } from '../webhooks/index.js';
import * as repo from './analytics.repository.js';

export interface ConversionInput {
  click_id?: string | undefined;
  contact?:
    | { id?: string | undefined; email?: string | undefined; external_id?: string | undefined }
    | undefined;
  revenue?: string | number | undefined;
  currency?: string | undefined;
  event?: string | undefined;
  occurred_at?: string | undefined;
  idempotency_key?: string | undefined;
}

export interface Conversion {
  id: string;
  contact_id: string | null;
  campaign_id: string | null;
  click_id: string | null;
  link_id: string | null;
  attribution: ConversionAttribution;
  event: string | null;
  revenue: string | null;
  currency: string | null;
  idempotency_key: string | null;
  occurred_at: Date;
  created_at: Date;
}

export interface Counts {
  total: number;
  unique: number;
  human: number;
  human_unique: number;
}

export interface CampaignReport {
  campaign_id: string;
  name: string;
  status: string;
  started_at: Date | null;
  finished_at: Date | null;
  events_counted_until: Date | null;
  to_send: number;
  sent: number;
  failed: number;
  delivered: number | null;
  bounced: { hard: number; soft: number };
  complaints: number;
  opens: Counts;
  clicks: Counts;
  rates: { open_rate: number | null; click_rate: number | null; click_to_open_rate: number | null };
  unsubscribes: number;
  conversions: { count: number; revenue: { currency: string; amount: string; conversions: number }[] };
  links: {
    link_id: string;
    url: string | null;
    clicks: number;
    unique: number;
    human: number;
    human_unique: number;
  }[];
  providers: {
    provider: string;
    sent: number;
    failed: number;
    unique_opens: number;
    human_unique_opens: number;
    unique_clicks: number;
    human_unique_clicks: number;
  }[];
  series: {
    hour: Date;
    opens: number;
    human_opens: number;
    unique_opens: number;
    human_unique_opens: number;
    clicks: number;
    human_clicks: number;
    unique_clicks: number;
    human_unique_clicks: number;
  }[];
}

export interface AnalyticsServiceDeps {
  db: Db;
  clock: Clock;
  /** How long after a click a conversion is attributed to it. */
  attributionWindowHours: number;
}

const HOUR = 3_600_000;
/** The hourly series covers at most this many hours from the start of sending. */
export const SERIES_MAX_HOURS = 92 * 24;
/** A conversion may claim to have happened this far in the future (clock skew), no further. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
const REVENUE_PATTERN = /^-?\d{1,18}(\.\d{1,6})?$/;

let currencies: Set<string> | undefined;
function isCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies.has(code);
}

/** Minor-unit digits of a currency (2 for EUR, 0 for JPY, 3 for BHD). */
function minorDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

/** A stored decimal as text, with the currency's minor digits and no further trailing zeros: 10.5 EUR -> "10.50". */
export function formatAmount(value: string, currency: string): string {
  const negative = value.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? value.slice(1) : value).split('.');
  const digits = minorDigits(currency);
  let frac = fraction.replace(/0+$/, '');
  if (frac.length < digits) frac = frac.padEnd(digits, '0');
  const wholeTrimmed = whole.replace(/^0+(?=\d)/, '');
  const text = frac ? `${wholeTrimmed}.${frac}` : wholeTrimmed;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

function invalid(path: string, message: string): DomainError {
  return new DomainError('VALIDATION_FAILED', `${path.slice(1)}: ${message}`, [{ path, message }]);
}

function num(value: string | number | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? Math.round((numerator / denominator) * 1e6) / 1e6 : null;
}

/** What the conversion webhook events (created, updated, deleted) say about a conversion. */
function conversionEventData(row: repo.ConversionRow) {
  return {
    conversion_id: row.id,
    event: row.event,
    revenue: row.revenue,
    currency: row.currency,
    campaign_id: row.campaign_id,
    attribution: row.attribution,
    occurred_at: row.occurred_at.toISOString(),
  };
}

function toConversion(row: repo.ConversionRow): Conversion {
  return {
    id: row.id,
    contact_id: row.contact_id,
    campaign_id: row.campaign_id,
    click_id: row.click_id,
    link_id: row.link_id,
    attribution: row.attribution,
    event: row.event,
    revenue: row.revenue === null || row.currency === null ? null : formatAmount(row.revenue, row.currency),
    currency: row.currency,
    idempotency_key: row.idempotency_key,
    occurred_at: row.occurred_at,
    created_at: row.created_at,
  };
}

/**
 * Conversions (attributed to a click) and the reports read from the rollups
 * that `analytics.rollup.ts` maintains.
 */
export function createAnalyticsService(deps: AnalyticsServiceDeps) {
  const { db, clock } = deps;
  const windowMs = deps.attributionWindowHours * HOUR;

  async function campaignOrThrow(workspaceId: string, id: string): Promise<repo.ReportCampaign> {
    const campaign = await repo.findCampaign(db, workspaceId, id);
    if (!campaign)
      throw new DomainError('CAMPAIGN_NOT_FOUND', `campaign ${id} does not exist in this workspace`);
    return campaign;
  }

  /** Checks and normalizes the input; every problem is reported at once. */
  function normalize(input: ConversionInput) {
    const errors: { path: string; message: string }[] = [];
    let revenue: string | null = null;
    if (input.revenue !== undefined) {
      const text = typeof input.revenue === 'number' ? String(input.revenue) : input.revenue.trim();
      if (typeof input.revenue === 'number' && !Number.isFinite(input.revenue)) {
        errors.push({ path: '/revenue', message: 'must be a finite decimal number' });
      } else if (!REVENUE_PATTERN.test(text)) {
        errors.push({
          path: '/revenue',
          message: 'must be a decimal with at most 18 digits before and 6 after the point, e.g. "19.99"',
        });
      } else revenue = text;
    }
    let currency: string | null = null;
    if (input.currency !== undefined) {
      const code = input.currency.toUpperCase();
      if (!isCurrency(code))
        errors.push({ path: '/currency', message: 'must be an ISO 4217 code such as EUR or USD' });
      else currency = code;
    }
    if (input.revenue !== undefined && input.currency === undefined) {
      errors.push({ path: '/currency', message: 'is required with revenue' });
    }
    if (input.currency !== undefined && input.revenue === undefined) {
      errors.push({ path: '/revenue', message: 'currency was given without revenue' });
    }
    const now = clock.now();
    let occurredAt = now;
    if (input.occurred_at !== undefined) {
      occurredAt = new Date(input.occurred_at);
      if (Number.isNaN(occurredAt.getTime()))
        errors.push({ path: '/occurred_at', message: 'is not a date-time' });
      else if (occurredAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) {
        errors.push({ path: '/occurred_at', message: 'lies in the future' });
      }
    }
    let contact: { id: string } | { emailKey: string } | { externalId: string } | undefined;
    if (input.contact !== undefined) {
      const given = Object.entries(input.contact).filter(([, v]) => v !== undefined);
      if (given.length !== 1) {
        errors.push({ path: '/contact', message: 'give exactly one of id, email and external_id' });
      } else if (input.contact.id !== undefined) contact = { id: input.contact.id };
      else if (input.contact.email !== undefined) {
        // Throws INVALID_EMAIL with the path.
        contact = { emailKey: requireEmail(input.contact.email, '/contact/email').toLowerCase() };
      } else contact = { externalId: input.contact.external_id as string };
    }
    if (errors.length > 0) {
      throw new DomainError(
        'VALIDATION_FAILED',
        errors.map((e) => `${e.path.slice(1)} ${e.message}`).join('; '),
        errors,
      );
    }
    const hash = createHash('sha256')
      .update(
        JSON.stringify([
          input.click_id ?? null,
          contact ?? null,
          revenue === null ? null : formatAmount(revenue, currency ?? 'XXX'),
          currency,
          input.event ?? null,
          input.occurred_at === undefined ? null : occurredAt.toISOString(),
        ]),
      )
      .digest('hex');
    return { revenue, currency, occurredAt, contact, hash, now };
  }

  return {
    /**
     * Records a conversion and attributes it: to the click named by click_id
     * when it lies within the window before occurred_at, else to the contact's
     * last human click within the window, else to nothing (campaign null).
     * `created` is false when the idempotency key names an earlier conversion.
     */
    async recordConversion(
      workspaceId: string,
      input: ConversionInput,
    ): Promise<{ conversion: Conversion; created: boolean }> {
      const checked = normalize(input);
      if (input.idempotency_key !== undefined) {
        const earlier = await repo.findConversionByKey(db, workspaceId, input.idempotency_key);
        if (earlier) {
          if (earlier.request_hash !== checked.hash) {
            throw new DomainError(
              'IDEMPOTENCY_KEY_REUSED',
              'this idempotency_key was used for a different conversion; use a new key for a new conversion',
              [{ path: '/idempotency_key', message: 'already used with other data' }],
            );
          }
          return { conversion: toConversion(earlier), created: false };
        }
      }
      let contactId: string | null = null;
      if (checked.contact) {
        contactId = (await repo.findContactId(db, workspaceId, checked.contact)) ?? null;
        if (!contactId && 'id' in checked.contact) {
          throw new DomainError(
            'CONTACT_NOT_FOUND',
            `contact ${checked.contact.id} does not exist in this workspace`,
            [{ path: '/contact/id', message: 'no such contact' }],
          );
        }
      }
      const occurred = checked.occurredAt.getTime();
      const inWindow = (at: Date) => at.getTime() <= occurred && at.getTime() > occurred - windowMs;
      let attribution: ConversionAttribution = 'none';
      let click: repo.ClickRow | undefined;
      if (input.click_id !== undefined) {
        const named = await repo.findClick(db, workspaceId, input.click_id);
        if (!named) {
          throw new DomainError(
            'CLICK_NOT_FOUND',
            `click ${input.click_id} is not a click in this workspace`,
            [{ path: '/click_id', message: 'no such click' }],
          );
        }
        contactId ??= named.contact_id;
        if (inWindow(named.occurred_at)) {
          click = named;
          attribution = 'click_id';
        }
      }
      if (!click && contactId) {
        click = await repo.lastHumanClick(
          db,
          workspaceId,
          contactId,
          new Date(occurred - windowMs),
          checked.occurredAt,
        );
        if (click) attribution = 'last_click';
      }

      return db.transaction().execute(async (trx) => {
        const row = await repo.insertConversion(trx, {
          id: uuidv7(checked.now.getTime()),
          workspace_id: workspaceId,
          contact_id: contactId,
          campaign_id: click?.campaign_id ?? null,
          click_id: click?.id ?? null,
          link_id: click?.link_id ?? null,
          attribution,
          event: input.event ?? null,
          revenue: checked.revenue,
          currency: checked.currency,
          idempotency_key: input.idempotency_key ?? null,
          request_hash: checked.hash,
          occurred_at: checked.occurredAt,
          created_at: checked.now,
        });
        if (!row) {
          // A concurrent request with the same key won.
          const earlier = await repo.findConversionByKey(trx, workspaceId, input.idempotency_key as string);
          if (!earlier) throw new Error('idempotency conflict without a conversion');
          return { conversion: toConversion(earlier), created: false };
        }
        await recordWebhookEvent(trx, {
          workspaceId,
          type: 'conversion.created',
          contactId: row.contact_id,
          data: conversionEventData(row),
          at: checked.now,
        });
        if (row.campaign_id) {
          await repo.addConversionTotals(trx, {
            workspaceId,
            campaignId: row.campaign_id,
            currency: row.currency,
            revenue: row.revenue,
          });
        }
        return { conversion: toConversion(row), created: true };
      });
    },

    /**
     * Takes a conversion out of every figure (a cancelled order): the row goes,
     * and with it the campaign's count and revenue, the holdout and A/B metrics,
     * segments and automation reports, which all read the same rows. False
     * when it was gone already.
     */
    async removeConversion(workspaceId: string, conversionId: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const row = await repo.lockConversion(trx, workspaceId, conversionId);
        if (!row) return false;
        await repo.deleteConversion(trx, workspaceId, conversionId);
        // Integrations that counted the conversion.created event take it out again.
        await recordWebhookEvent(trx, {
          workspaceId,
          type: 'conversion.deleted',
          contactId: row.contact_id,
          data: conversionEventData(row),
          at: clock.now(),
        });
        if (row.campaign_id) {
          await repo.adjustConversionTotals(trx, {
            campaignId: row.campaign_id,
            currency: row.currency,
            conversions: -1,
            from: row.revenue ?? '0',
            to: '0',
          });
        }
        return true;
      });
    },

    /**
     * Sets a conversion's revenue (an order net of its refunds): the conversion
     * still counts once; its campaign's revenue changes by the difference.
     * Setting the same amount again changes nothing. False when the conversion
     * is gone or has no revenue (no currency to net in).
     */
    async setConversionRevenue(workspaceId: string, conversionId: string, revenue: string): Promise<boolean> {
      if (!REVENUE_PATTERN.test(revenue)) throw new Error(`not a revenue amount: ${revenue}`);
      return db.transaction().execute(async (trx) => {
        const row = await repo.lockConversion(trx, workspaceId, conversionId);
        if (!row || row.revenue === null) return false;
        const stored = await repo.setConversionRevenue(trx, workspaceId, conversionId, revenue);
        if (stored === undefined) return true;
        await recordWebhookEvent(trx, {
          workspaceId,
          type: 'conversion.updated',
          contactId: row.contact_id,
          data: { ...conversionEventData(row), revenue: stored, previous_revenue: row.revenue },
          at: clock.now(),
        });
        if (row.campaign_id) {
          await repo.adjustConversionTotals(trx, {
            campaignId: row.campaign_id,
            currency: row.currency,
            conversions: 0,
            from: row.revenue,
            to: revenue,
          });
        }
        return true;
      });
    },

    /** A campaign's report, read from the rollups only (a handful of indexed reads). */
    async report(workspaceId: string, campaignId: string): Promise<CampaignReport> {
      const campaign = await campaignOrThrow(workspaceId, campaignId);
      const [rollup, providers, links, hourly, conversions, unsubscribes, state] = await Promise.all([
        repo.campaignRollup(db, workspaceId, campaignId),
        repo.providerRollups(db, workspaceId, campaignId),
        repo.linkRollups(db, workspaceId, campaignId),
        repo.hourlyRollups(db, workspaceId, campaignId),
        repo.conversionRollups(db, workspaceId, campaignId),
        repo.campaignUnsubscribes(db, workspaceId, campaignId),
        repo.readState(db),
      ]);
      const opens: Counts = {
        total: num(rollup?.opens),
        unique: num(rollup?.unique_opens),
        human: num(rollup?.human_opens),
        human_unique: num(rollup?.human_unique_opens),
      };
      const clicks: Counts = {
        total: num(rollup?.clicks),
        unique: num(rollup?.unique_clicks),
        human: num(rollup?.human_clicks),
        human_unique: num(rollup?.human_unique_clicks),
      };
      const sent = campaign.sent_count;
      return {
        campaign_id: campaign.id,
        name: campaign.name,
        status: campaign.status,
        started_at: campaign.started_at,
        finished_at: campaign.finished_at,
        events_counted_until: state?.caught_up_to ?? null,
        to_send: campaign.to_send,
        sent,
        failed: campaign.failed_count,
        delivered: null,
        bounced: { hard: num(rollup?.bounced_hard), soft: num(rollup?.bounced_soft) },
        complaints: 0,
        opens,
        clicks,
        rates: {
          open_rate: ratio(opens.human_unique, sent),
          click_rate: ratio(clicks.human_unique, sent),
          click_to_open_rate: ratio(clicks.human_unique, opens.human_unique),
        },
        unsubscribes,
        conversions: {
          count: conversions.reduce((n, c) => n + num(c.conversions), 0),
          revenue: conversions
            .filter((c) => c.currency !== '')
            .map((c) => ({
              currency: c.currency,
              amount: formatAmount(c.revenue, c.currency),
              conversions: num(c.conversions),
            })),
        },
        links: links.map((l) => ({
          link_id: l.link_id,
          url: l.url ?? null,
          clicks: num(l.clicks),
          unique: num(l.unique_clicks),
          human: num(l.human_clicks),
          human_unique: num(l.human_unique_clicks),
        })),
        providers: providers.map((p) => ({
          provider: p.provider,
          sent: num(p.sent),
          failed: num(p.failed),
          unique_opens: num(p.unique_opens),
          human_unique_opens: num(p.human_unique_opens),
          unique_clicks: num(p.unique_clicks),
          human_unique_clicks: num(p.human_unique_clicks),
        })),
        series: series(campaign.started_at, hourly),
      };
    },

    /** Workspace totals over [from, to). */
    async overview(workspaceId: string, range: { from?: string | undefined; to?: string | undefined }) {
      const to = range.to === undefined ? clock.now() : new Date(range.to);
      const from = range.from === undefined ? new Date(to.getTime() - 30 * 24 * HOUR) : new Date(range.from);
      if (Number.isNaN(from.getTime())) throw invalid('/from', 'is not a date-time');
      if (Number.isNaN(to.getTime())) throw invalid('/to', 'is not a date-time');
      if (from.getTime() >= to.getTime()) throw invalid('/from', 'must be before to');
      if (to.getTime() - from.getTime() > 366 * 24 * HOUR)
        throw invalid('/from', 'the range may span at most 366 days');
      const [engagement, sends, campaigns, unsubscribes, conversions] = await Promise.all([
        repo.overviewEngagement(db, workspaceId, from, to),
        repo.overviewSends(db, workspaceId, from, to),
        repo.overviewCampaigns(db, workspaceId, from, to, 100),
        repo.overviewUnsubscribes(db, workspaceId, from, to),
        repo.overviewConversions(db, workspaceId, from, to),
      ]);
      return {
        from,
        to,
        campaigns_started: num(sends.campaigns),
        sent: num(sends.sent),
        failed: num(sends.failed),
        opens: {
          total: num(engagement.opens),
          unique: num(engagement.unique_opens),
          human: num(engagement.human_opens),
          human_unique: num(engagement.human_unique_opens),
        },
        clicks: {
          total: num(engagement.clicks),
          unique: num(engagement.unique_clicks),
          human: num(engagement.human_clicks),
          human_unique: num(engagement.human_unique_clicks),
        },
        unsubscribes,
        conversions: {
          count: conversions.reduce((n, c) => n + num(c.conversions), 0),
          attributed: conversions.reduce((n, c) => n + num(c.attributed), 0),
          revenue: conversions
            .filter((c) => c.currency !== '')
            .map((c) => ({
              currency: c.currency,
              amount: formatAmount(c.revenue, c.currency),
              conversions: num(c.conversions),
            })),
        },
        campaigns: campaigns.map((c) => ({
          id: c.id,
          name: c.name,
          status: c.status,
          started_at: c.started_at,
          sent: c.sent_count,
          failed: c.failed_count,
          human_unique_opens: num(c.human_unique_opens),
          human_unique_clicks: num(c.human_unique_clicks),
          open_rate: ratio(num(c.human_unique_opens), c.sent_count),
          click_rate: ratio(num(c.human_unique_clicks), c.sent_count),
        })),
      };
    },

    /**
     * The campaign's raw hits as CSV, in id (time) order, read page by page as
     * the client consumes them, so memory does not grow with the campaign.
     */
    async eventsCsv(
      workspaceId: string,
      campaignId: string,
      options: { pageSize?: number; onEnd?: (result: { count: number; complete: boolean }) => void } = {},
    ): Promise<{ filename: string; stream: Readable }> {
      await campaignOrThrow(workspaceId, campaignId);
      const pageSize = options.pageSize ?? 5000;
      let count = 0;
      let complete = false;
      async function* chunks(): AsyncGenerator<Buffer> {
        yield Buffer.from(stringify([EVENT_COLUMNS as unknown as string[]]));
        let after: string | null = null;
        for (;;) {
          const page = await repo.eventsPage(db, workspaceId, campaignId, after, pageSize);
          if (page.length === 0) break;
          count += page.length;
          yield Buffer.from(
            stringify(
              page.map((e) => [
                e.id,
                e.occurred_at.toISOString(),
                e.kind,
                e.classification,
                e.reason ?? '',
                e.contact_id,
                e.email ?? '',
                e.link_id ?? '',
                e.url ?? '',
                e.user_agent ?? '',
                e.ip ?? '',
                e.reclassified_at ? e.reclassified_at.toISOString() : '',
              ]),
            ),
          );
          if (page.length < pageSize) break;
          after = page[page.length - 1]?.id ?? null;
        }
        complete = true;
      }
      const stream = Readable.from(chunks(), { objectMode: false });
      stream.once('close', () => options.onEnd?.({ count, complete: complete && !stream.errored }));
      return { filename: `campaign-${campaignId}-events.csv`, stream };
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;

export const EVENT_COLUMNS = [
  'id',
  'occurred_at',
  'kind',
  'classification',
  'reason',
  'contact_id',
  'email',
  'link_id',
  'url',
  'user_agent',
  'ip',
  'reclassified_at',
] as const;

type HourlyRow = Awaited<ReturnType<typeof repo.hourlyRollups>>[number];

/** Hourly buckets from the hour sending started to the last hour with hits, zero-filled, at most SERIES_MAX_HOURS. */
function series(startedAt: Date | null, rows: HourlyRow[]): CampaignReport['series'] {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (!first || !last) return [];
  const start = Math.min(
    startedAt ? Math.floor(startedAt.getTime() / HOUR) * HOUR : first.hour.getTime(),
    first.hour.getTime(),
  );
  const end = Math.min(last.hour.getTime(), start + (SERIES_MAX_HOURS - 1) * HOUR);
  const byHour = new Map(rows.map((r) => [r.hour.getTime(), r]));
  const out: CampaignReport['series'] = [];
  for (let at = start; at <= end; at += HOUR) {
    const r = byHour.get(at);
    out.push({
      hour: new Date(at),
      opens: num(r?.opens),
      human_opens: num(r?.human_opens),
      unique_opens: num(r?.unique_opens),
      human_unique_opens: num(r?.human_unique_opens),
      clicks: num(r?.clicks),
      human_clicks: num(r?.human_clicks),
      unique_clicks: num(r?.unique_clicks),
      human_unique_clicks: num(r?.human_unique_clicks),
    });
  }
  return out;
}
