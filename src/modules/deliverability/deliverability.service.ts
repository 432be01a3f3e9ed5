import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { BounceSource, ContactStatus, Db, ImapTlsMode, SuppressionReason } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { isUuid, uuidv7 } from '../../lib/ids.js';
import type { SecretKeyring } from '../../lib/secret-keys.js';
import { verifyReturnPathToken } from '../../lib/signed-tokens.js';
import { isTransportError } from '../../mail/transports/index.js';
import { classifyFailure, failureCodes } from '../bounces/bounce-reasons.js';
import type { ParsedReport } from '../bounces/index.js';
import type { ProviderEvent } from '../bounces/provider-events.js';
import type { ConsentLedger, ConsentOrigin } from '../consent/index.js';
import { type ContactService, normalizeEmail } from '../contacts/index.js';
import { recordWebhookEvent, type WebhookEventType } from '../webhooks/index.js';
import * as repo from './deliverability.repository.js';
import { buildHealthWindows, HEALTH_THRESHOLDS } from './health-report.js';
import {
  type MailtoUnsubscribePort,
  type UnsubscribeMailResult,
  unsubscribeByMail,
} from './unsubscribe-mail.js';

/**
 * Bounces, complaints and the suppression list. Every source (an MTA pipe,
 * provider webhooks, synchronous SMTP replies, later an IMAP poller) hands its
 * reports to `applyReport` / `applyEvents`, which tie each to its message and
 * contact, store it once (dedup key) and apply the policies in the same
 * transaction:
 * - hard bounce: contact `bounced`, address suppressed;
 * - soft bounce: address suppressed after N soft bounces within M days;
 * - complaint: contact `complained` (no marketing at all), address suppressed;
 * - delays, deliveries: recorded, never counted; auto-replies: ignored.
 * Status changes go to the consent ledger with the bounce event as evidence.
 */

export type ReportType = 'bounce' | 'complaint' | 'delivery' | 'delay';

/** One recipient's outcome, whatever the source. */
export interface BounceReport {
  type: ReportType;
  recipient: string | null;
  severity: 'hard' | 'soft' | null;
  reason: string | null;
  status: string | null;
  replyCode: number | null;
  diagnostic: string | null;
  remoteMta: string | null;
  /** The Message-ID header of the message the report is about. */
  messageId: string | null;
  /** The VERP address (`b-<token>@domain`) the report came back to. */
  returnPath: string | null;
  occurredAt: Date | null;
  evidence: Record<string, unknown>;
  /** The same report always gives the same key (provider event id, digest of the raw report...). */
  dedupKey: string;
}

export type MatchedBy = 'verp' | 'message_id' | 'recipient' | 'none';

export interface AppliedReport {
  /** null when the report could not be tied to a workspace, so nothing was stored. */
  event_id: string | null;
  duplicate: boolean;
  type: ReportType;
  severity: 'hard' | 'soft' | null;
  reason: string | null;
  matched_by: MatchedBy;
  contact_id: string | null;
  campaign_id: string | null;
  message_ref: string | null;
  /** What the policies did: contact_bounced, contact_complained, suppressed. */
  effects: string[];
}

export interface Suppression {
  email: string;
  reason: SuppressionReason;
  source: string;
  bounce_event_id: string | null;
  note: string | null;
  created_at: Date;
}

/** What a new campaign takes for the guardrail settings it does not set. */
export interface GuardrailDefaults {
  hard_bounce_threshold: number;
  complaint_threshold: number;
  guardrail_min_sent: number;
}

export interface DeliverabilitySettings extends GuardrailDefaults {
  soft_bounce_threshold: number;
  soft_bounce_window_days: number;
  ses_topic_arns: string[];
  sendgrid_public_key: string | null;
  mailgun_signing_key_set: boolean;
  postmark_username: string | null;
  postmark_password_set: boolean;
  /** The bounce mailbox read over IMAP; its password only as `imap_password_set`. */
  imap_enabled: boolean;
  imap_host: string | null;
  imap_port: number | null;
  imap_tls: ImapTlsMode;
  imap_user: string | null;
  imap_password_set: boolean;
  imap_mailbox: string;
  imap_processed_folder: string;
  imap_unparsed_folder: string;
}

/** What the poller connects with: the password decrypted. */
export interface ImapMailboxConfig {
  workspaceId: string;
  host: string;
  port: number;
  tls: ImapTlsMode;
  user: string;
  password: string;
  mailbox: string;
  processedFolder: string;
  unparsedFolder: string;
}

export const IMAP_DEFAULTS = {
  tls: 'tls' as ImapTlsMode,
  mailbox: 'INBOX',
  processedFolder: 'Herald/Processed',
  unparsedFolder: 'Herald/Unparsed',
};

/** The encrypted secrets of a workspace's deliverability settings, by kind (also their encryption context). */
type SecretKind = 'imap' | 'mailgun' | 'postmark';

const SECRET_COLUMNS: Record<SecretKind, 'imap_password' | 'mailgun_signing_key' | 'postmark_password'> = {
  imap: 'imap_password',
  mailgun: 'mailgun_signing_key',
  postmark: 'postmark_password',
};

/**
 * Field encryption with the workspace's data keys; values in the older
 * master-key format still decrypt. Implemented by the data-keys module.
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export interface SettingsPatch {
  soft_bounce_threshold?: number | undefined;
  soft_bounce_window_days?: number | undefined;
  /** Guardrail defaults for new campaigns; null: back to Herald's. */
  hard_bounce_threshold?: number | null | undefined;
  complaint_threshold?: number | null | undefined;
  guardrail_min_sent?: number | null | undefined;
  ses_topic_arns?: string[] | undefined;
  sendgrid_public_key?: string | null | undefined;
  mailgun_signing_key?: string | null | undefined;
  postmark_username?: string | null | undefined;
  postmark_password?: string | null | undefined;
  imap_enabled?: boolean | undefined;
  imap_host?: string | null | undefined;
  imap_port?: number | null | undefined;
  imap_tls?: ImapTlsMode | undefined;
  imap_user?: string | null | undefined;
  imap_password?: string | null | undefined;
  imap_mailbox?: string | undefined;
  imap_processed_folder?: string | undefined;
  imap_unparsed_folder?: string | undefined;
}

/** The secrets a webhook route checks requests with, decrypted. */
export interface WebhookCredentials {
  sesTopicArns: string[];
  sendgridPublicKey: string | null;
  mailgunSigningKey: string | null;
  postmark: { username: string; password: string } | null;
}

export const DEFAULT_SOFT_BOUNCE_THRESHOLD = 3;
export const DEFAULT_SOFT_BOUNCE_WINDOW_DAYS = 7;
/**
 * Herald's guardrails (the campaigns columns' defaults, migration 0022):
 * complaints 0.3% (the Gmail/Yahoo bulk-sender limit), hard bounces 5% (ESPs
 * suspend senders around 5-10%), judged after 500 recipients.
 */
export const DEFAULT_GUARDRAILS: GuardrailDefaults = {
  hard_bounce_threshold: 0.05,
  complaint_threshold: 0.003,
  guardrail_min_sent: 500,
};
const DIAGNOSTIC_MAX = 1000;
const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;
/** A stronger reason replaces a weaker one on the list; never the other way round. */
const REPLACES: Record<SuppressionReason, SuppressionReason[]> = {
  complaint: ['soft_bounce', 'hard_bounce', 'sunset'],
  hard_bounce: ['soft_bounce', 'sunset'],
  soft_bounce: [],
  manual: [],
  sunset: [],
  erased: [],
};

export interface DeliverabilityServiceDeps {
  db: Db;
  clock: Clock;
  keyring: SecretKeyring;
  /**
   * Encrypts the webhook and mailbox secrets with the workspace's data key (the
   * data-keys module's WorkspaceCipher); never called inside a transaction.
   */
  cipher: SecretCipher;
  contacts: Pick<ContactService, 'changeStatus'>;
  consent: Pick<ConsentLedger, 'append'>;
  /**
   * Called after a new hard bounce or complaint about a campaign is stored
   * (after its transaction): the campaign sender re-checks its guardrails, so
   * a late report pauses a still-sending campaign without waiting for a batch.
   */
  onCampaignReport?: ((workspaceId: string, campaignId: string) => Promise<unknown>) | undefined;
  /**
   * Unsubscribes a message's recipient as its one-click link would (the
   * public pages): what mail to a List-Unsubscribe `mailto:` address does.
   * Without it such mail is ignored.
   */
  unsubscribes?: MailtoUnsubscribePort | undefined;
}

export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

export function digest(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 32);
}

/** One BounceReport per recipient of a parsed bounce message; auto-replies and unreadable reports give none. */
export function reportsFromParsed(parsed: ParsedReport, rawDigest: string): BounceReport[] {
  if (parsed.kind === 'auto_reply' || parsed.kind === 'unknown') return [];
  return parsed.recipients.map((r, index) => ({
    type: r.kind,
    recipient: r.recipient,
    severity: r.kind === 'complaint' ? null : r.severity,
    reason: r.reason,
    status: r.status,
    replyCode: r.replyCode,
    diagnostic: r.diagnostic,
    remoteMta: r.remoteMta,
    messageId: parsed.originalMessageId,
    returnPath: parsed.returnPath,
    occurredAt: null,
    evidence: {
      format: parsed.format,
      report_digest: rawDigest,
      ...(r.action ? { action: r.action } : {}),
      ...(r.feedbackType ? { feedback_type: r.feedbackType } : {}),
      ...(parsed.reportingMta ? { reporting_mta: parsed.reportingMta } : {}),
    },
    // The same report piped twice is the same bytes: one event per recipient line.
    dedupKey: `raw:${rawDigest}:${index}`,
  }));
}

/** A provider webhook event as a BounceReport; the dedup key covers what makes one event differ from another. */
export function reportFromProviderEvent(event: ProviderEvent): BounceReport {
  const key = digest(
    JSON.stringify([
      event.provider,
      event.type,
      event.recipient.toLowerCase(),
      event.providerMessageId,
      event.messageId,
      event.occurredAt?.toISOString() ?? null,
      event.status,
      event.diagnostic,
      event.providerDetail,
    ]),
  );
  return {
    type: event.type,
    recipient: event.recipient,
    severity: event.type === 'complaint' || event.type === 'delivery' ? null : event.severity,
    reason: event.reason,
    status: event.status,
    replyCode: event.replyCode,
    diagnostic: event.diagnostic,
    remoteMta: null,
    messageId: event.messageId,
    returnPath: null,
    occurredAt: event.occurredAt,
    evidence: {
      ...(event.providerMessageId ? { provider_message_id: event.providerMessageId } : {}),
      ...event.providerDetail,
    },
    dedupKey: `${event.provider}:${key}`,
  };
}

export function createDeliverabilityService(deps: DeliverabilityServiceDeps) {
  const { db, clock, keyring, cipher } = deps;

  const secretContext = (kind: string, workspaceId: string) => `deliverability:${kind}:${workspaceId}`;

  async function policy(workspaceId: string, trx: Db = db) {
    const row = await repo.findSettings(trx, workspaceId);
    return {
      threshold: row?.soft_bounce_threshold ?? DEFAULT_SOFT_BOUNCE_THRESHOLD,
      windowDays: row?.soft_bounce_window_days ?? DEFAULT_SOFT_BOUNCE_WINDOW_DAYS,
    };
  }

  /** Ties a report to a message and contact: VERP token, then Message-ID, then the address. */
  async function match(trx: Db, workspaceId: string | undefined, report: BounceReport) {
    const verpToken = report.returnPath?.match(/^b-([^@]+)@/i)?.[1];
    const fromToken = verpToken ? verifyReturnPathToken(keyring, verpToken) : undefined;
    if (fromToken) {
      // A token of another workspace's message is not this workspace's business: fall through.
      const sent = await repo.findSentMessage(trx, fromToken, workspaceId);
      if (sent) return { by: 'verp' as const, workspaceId: sent.workspace_id, sent };
    }
    const local = report.messageId?.match(/^<?([^@<>\s]+)@[^>]+>?$/)?.[1];
    if (workspaceId && local && isUuid(local)) {
      const sent = await repo.findSentMessage(trx, local, workspaceId);
      if (
        sent &&
        sent.message_id.toLowerCase() === `<${report.messageId?.replace(/^<|>$/g, '')}>`.toLowerCase()
      )
        return { by: 'message_id' as const, workspaceId, sent };
    }
    if (workspaceId && report.recipient) {
      const contactId = await repo.findContactIdByEmail(trx, workspaceId, emailKey(report.recipient));
      if (contactId) return { by: 'recipient' as const, workspaceId, contactId };
    }
    return { by: 'none' as const, workspaceId };
  }

  async function suppress(
    trx: Db,
    workspaceId: string,
    email: string,
    reason: SuppressionReason,
    origin: { source: string; eventId?: string | null; note?: string | null; by?: string | null },
  ): Promise<boolean> {
    return repo.upsertSuppression(
      trx,
      {
        workspace_id: workspaceId,
        email_key: emailKey(email),
        email: email.trim(),
        reason,
        source: origin.source,
        bounce_event_id: origin.eventId ?? null,
        note: origin.note ?? null,
        created_by: origin.by ?? null,
        created_at: clock.now(),
      },
      REPLACES[reason],
    );
  }

  async function applyOne(
    workspaceId: string | undefined,
    report: BounceReport,
    source: BounceSource,
    outer?: Db,
  ): Promise<AppliedReport> {
    const found = await match(outer ?? db, workspaceId, report);
    const sent = 'sent' in found ? found.sent : undefined;
    const contactId = sent?.contact_id ?? ('contactId' in found ? (found.contactId ?? null) : null);
    const base: AppliedReport = {
      event_id: null,
      duplicate: false,
      type: report.type,
      severity: report.severity,
      reason: report.reason,
      matched_by: found.by,
      contact_id: contactId,
      campaign_id: sent?.campaign_id ?? null,
      message_ref: sent?.message_ref ?? null,
      effects: [],
    };
    // Herald sends to the contact's address: that is what to suppress, even when the
    // report names a forwarding target.
    const address = sent?.email ?? report.recipient;
    const ws = found.workspaceId;
    if (!ws || !address) return base;

    // Inside the caller's transaction when given one (a webhook's replay token commits with its events).
    const inTransaction = <T>(work: (trx: Db) => Promise<T>) =>
      outer ? work(outer) : db.transaction().execute(work);
    return inTransaction(async (trx) => {
      const now = clock.now();
      const eventId = await repo.insertEvent(trx, {
        id: uuidv7(now.getTime()),
        workspace_id: ws,
        contact_id: contactId,
        campaign_id: sent?.campaign_id ?? null,
        message_ref: sent?.message_ref ?? null,
        message_id: sent?.message_id ?? report.messageId?.slice(0, 998) ?? null,
        recipient: (report.recipient ?? address).slice(0, 320),
        recipient_key: emailKey(address),
        type: report.type,
        severity: report.severity,
        reason: report.reason,
        status_code: report.status,
        reply_code: report.replyCode,
        diagnostic: report.diagnostic?.slice(0, DIAGNOSTIC_MAX) ?? null,
        remote_mta: report.remoteMta?.slice(0, 255) ?? null,
        source,
        matched_by: found.by,
        evidence: JSON.stringify(report.evidence),
        dedup_key: report.dedupKey,
        occurred_at: report.occurredAt,
        received_at: now,
      });
      if (!eventId) {
        const earlier = await repo.findEventByDedupKey(trx, ws, report.dedupKey);
        return { ...base, event_id: earlier?.id ?? null, duplicate: true };
      }
      const webhookType: WebhookEventType | undefined =
        report.type === 'bounce'
          ? 'message.bounced'
          : report.type === 'complaint'
            ? 'message.complained'
            : report.type === 'delivery'
              ? 'message.delivered'
              : undefined;
      if (webhookType) {
        await recordWebhookEvent(trx, {
          workspaceId: ws,
          type: webhookType,
          contactId,
          data: {
            bounce_event_id: eventId,
            campaign_id: sent?.campaign_id ?? null,
            message_ref: sent?.message_ref ?? null,
            ...(report.type === 'bounce' ? { severity: report.severity, reason: report.reason } : {}),
            source,
          },
          at: now,
        });
      }
      const effects: string[] = [];
      const origin: ConsentOrigin = { source: 'system', sourceId: eventId };
      const evidence = { via: 'bounce_event', bounce_event_id: eventId, source, reason: report.reason };
      const setStatus = async (to: ContactStatus, from: ContactStatus[]) =>
        contactId
          ? deps.contacts.changeStatus(ws, contactId, { to, from, detail: evidence }, origin, trx)
          : undefined;

      if (report.type === 'bounce' && report.severity === 'hard') {
        if (await setStatus('bounced', ['active', 'unsubscribed'])) effects.push('contact_bounced');
        if (await suppress(trx, ws, address, 'hard_bounce', { source, eventId })) effects.push('suppressed');
      } else if (report.type === 'bounce' && report.severity === 'soft') {
        const { threshold, windowDays } = await policy(ws, trx);
        const since = new Date(now.getTime() - windowDays * 86_400_000);
        const count = await repo.countSoftBounces(trx, ws, emailKey(address), since);
        if (count >= threshold && (await suppress(trx, ws, address, 'soft_bounce', { source, eventId })))
          effects.push('suppressed');
      } else if (report.type === 'complaint') {
        if (await setStatus('complained', ['active', 'unsubscribed', 'bounced'])) {
          effects.push('contact_complained');
          if (contactId) {
            // A complaint unsubscribes from all marketing email (the consent record below says so).
            await recordWebhookEvent(trx, {
              workspaceId: ws,
              type: 'contact.unsubscribed',
              contactId,
              data: { scope: 'all', reason: 'complaint', bounce_event_id: eventId },
              at: now,
            });
            await deps.consent.append(
              ws,
              origin,
              [{ contactId, action: 'unsubscribe', detail: { ...evidence, scope: 'all' } }],
              trx,
            );
          }
        }
        if (await suppress(trx, ws, address, 'complaint', { source, eventId })) effects.push('suppressed');
      }
      if (effects.length > 0) await repo.setEventEffect(trx, ws, eventId, effects.join('+'));
      return { ...base, event_id: eventId, effects };
    });
  }

  function toSuppression(row: repo.SuppressionRow): Suppression {
    return {
      email: row.email,
      reason: row.reason,
      source: row.source,
      bounce_event_id: row.bounce_event_id,
      note: row.note,
      created_at: row.created_at,
    };
  }

  function toGuardrails(row: repo.SettingsRow | undefined): GuardrailDefaults {
    return {
      hard_bounce_threshold: row?.hard_bounce_threshold ?? DEFAULT_GUARDRAILS.hard_bounce_threshold,
      complaint_threshold: row?.complaint_threshold ?? DEFAULT_GUARDRAILS.complaint_threshold,
      guardrail_min_sent: row?.guardrail_min_sent ?? DEFAULT_GUARDRAILS.guardrail_min_sent,
    };
  }

  function toSettings(row: repo.SettingsRow | undefined): DeliverabilitySettings {
    return {
      ...toGuardrails(row),
      soft_bounce_threshold: row?.soft_bounce_threshold ?? DEFAULT_SOFT_BOUNCE_THRESHOLD,
      soft_bounce_window_days: row?.soft_bounce_window_days ?? DEFAULT_SOFT_BOUNCE_WINDOW_DAYS,
      ses_topic_arns: row?.ses_topic_arns ?? [],
      sendgrid_public_key: row?.sendgrid_public_key ?? null,
      mailgun_signing_key_set: Boolean(row?.mailgun_signing_key),
      postmark_username: row?.postmark_username ?? null,
      postmark_password_set: Boolean(row?.postmark_password),
      imap_enabled: row?.imap_enabled ?? false,
      imap_host: row?.imap_host ?? null,
      imap_port: row?.imap_port ?? null,
      imap_tls: row?.imap_tls ?? IMAP_DEFAULTS.tls,
      imap_user: row?.imap_user ?? null,
      imap_password_set: Boolean(row?.imap_password),
      imap_mailbox: row?.imap_mailbox ?? IMAP_DEFAULTS.mailbox,
      imap_processed_folder: row?.imap_processed_folder ?? IMAP_DEFAULTS.processedFolder,
      imap_unparsed_folder: row?.imap_unparsed_folder ?? IMAP_DEFAULTS.unparsedFolder,
    };
  }

  function defaultPort(tls: ImapTlsMode): number {
    return tls === 'tls' ? 993 : 143;
  }

  /** The IMAP columns after a patch; enabling needs a host, a user and a password (now or stored). */
  function imapColumns(
    patch: SettingsPatch,
    current: repo.SettingsRow | undefined,
    secret: (
      kind: string,
      value: string | null | undefined,
      stored: string | null | undefined,
    ) => string | null,
  ) {
    const pick = <T>(value: T | undefined, stored: T) => (value === undefined ? stored : value);
    const columns = {
      imap_enabled: pick(patch.imap_enabled, current?.imap_enabled ?? false),
      imap_host: pick(patch.imap_host, current?.imap_host ?? null),
      imap_port: pick(patch.imap_port, current?.imap_port ?? null),
      imap_tls: pick(patch.imap_tls, current?.imap_tls ?? IMAP_DEFAULTS.tls),
      imap_user: pick(patch.imap_user, current?.imap_user ?? null),
      imap_password: secret('imap', patch.imap_password, current?.imap_password),
      imap_mailbox: pick(patch.imap_mailbox, current?.imap_mailbox ?? IMAP_DEFAULTS.mailbox),
      imap_processed_folder: pick(
        patch.imap_processed_folder,
        current?.imap_processed_folder ?? IMAP_DEFAULTS.processedFolder,
      ),
      imap_unparsed_folder: pick(
        patch.imap_unparsed_folder,
        current?.imap_unparsed_folder ?? IMAP_DEFAULTS.unparsedFolder,
      ),
    };
    if (columns.imap_enabled) {
      const missing = [
        ...(columns.imap_host ? [] : ['imap_host']),
        ...(columns.imap_user ? [] : ['imap_user']),
        ...(columns.imap_password ? [] : ['imap_password']),
      ];
      if (missing.length > 0)
        throw new DomainError(
          'VALIDATION_FAILED',
          `the IMAP mailbox cannot be enabled without ${missing.join(', ')}`,
          missing.map((m) => ({ path: `/${m}`, message: 'required when imap_enabled is true' })),
        );
    }
    // The password would cross the network in plain text: only a server on this machine may go without TLS.
    if (columns.imap_tls === 'none' && columns.imap_host && !LOOPBACK.test(columns.imap_host))
      throw new DomainError(
        'VALIDATION_FAILED',
        'imap_tls none (plain text) is only allowed for a server on loopback (127.0.0.1, ::1, localhost): use tls or starttls',
        [{ path: '/imap_tls', message: 'none needs a loopback imap_host' }],
      );
    // Messages are moved out of the mailbox: reading it into itself would loop.
    const folders = [columns.imap_mailbox, columns.imap_processed_folder, columns.imap_unparsed_folder];
    if (new Set(folders.map((f) => f.toLowerCase())).size !== folders.length)
      throw new DomainError(
        'VALIDATION_FAILED',
        'the IMAP mailbox, processed folder and unparsed folder must be three different folders',
        [
          {
            path: '/imap_processed_folder',
            message: 'must differ from imap_mailbox and imap_unparsed_folder',
          },
        ],
      );
    return columns;
  }

  function checkedEmail(input: string, path: string): string {
    const checked = normalizeEmail(input);
    if (!checked.ok)
      throw new DomainError('INVALID_EMAIL', `${checked.reason}`, [{ path, message: checked.reason }]);
    return checked.email;
  }

  /** The guardrail hook for the campaigns fresh hard bounces or complaints are about; failures only logged by the caller. */
  async function afterApplied(workspaceId: string | undefined, results: AppliedReport[]): Promise<void> {
    if (!deps.onCampaignReport || !workspaceId) return;
    const campaigns = new Set<string>();
    for (const r of results) {
      const counts = r.type === 'complaint' || (r.type === 'bounce' && r.severity === 'hard');
      if (counts && !r.duplicate && r.event_id && r.campaign_id) campaigns.add(r.campaign_id);
    }
    for (const campaignId of campaigns) await deps.onCampaignReport(workspaceId, campaignId);
  }

  return {
    /**
     * Applies a parsed bounce message (DSN, ARF, text notice). `workspaceId`
     * undefined: a shared bounce mailbox, where only a verified VERP token can
     * name the workspace.
     */
    async applyReport(
      workspaceId: string | undefined,
      parsed: ParsedReport,
      source: BounceSource,
      options: { rawDigest?: string | undefined } = {},
    ): Promise<AppliedReport[]> {
      const out: AppliedReport[] = [];
      // Pass the digest of the raw bytes when there are any; the parsed report stands in for them otherwise.
      const key = options.rawDigest ?? digest(JSON.stringify(parsed));
      for (const report of reportsFromParsed(parsed, key))
        out.push(await applyOne(workspaceId, report, source));
      // A shared mailbox names no workspace: the campaign's own batch checks catch those.
      await afterApplied(workspaceId, out);
      return out;
    },

    /**
     * Applies provider webhook events. With `replay`, the token is remembered in
     * the first event's transaction; a token seen before makes the whole request
     * a no-op (every result `duplicate`).
     */
    async applyEvents(
      workspaceId: string,
      events: ProviderEvent[],
      source: BounceSource,
      replay?: { token: string; provider: string; windowMs: number },
    ): Promise<{ replayed: boolean; results: AppliedReport[] }> {
      if (!replay) {
        const results: AppliedReport[] = [];
        for (const event of events)
          results.push(await applyOne(workspaceId, reportFromProviderEvent(event), source));
        await afterApplied(workspaceId, results);
        return { replayed: false, results };
      }
      // The token and the events commit together: a request that failed half-way is not taken for a replay.
      const applied = await db.transaction().execute(async (trx) => {
        const fresh = await repo.rememberToken(
          trx,
          { workspace_id: workspaceId, provider: replay.provider, token: replay.token, seen_at: clock.now() },
          new Date(clock.now().getTime() - 2 * replay.windowMs),
        );
        if (!fresh) return { replayed: true, results: [] };
        const results: AppliedReport[] = [];
        for (const event of events)
          results.push(await applyOne(workspaceId, reportFromProviderEvent(event), source, trx));
        return { replayed: false, results };
      });
      await afterApplied(workspaceId, applied.results);
      return applied;
    },

    /** Applies one ready-made report (synchronous SMTP replies, future sources). */
    async applyBounce(
      workspaceId: string | undefined,
      report: BounceReport,
      source: BounceSource,
    ): Promise<AppliedReport> {
      const applied = await applyOne(workspaceId, report, source);
      await afterApplied(workspaceId, [applied]);
      return applied;
    },

    /** A campaign's hard bounces and complaints so far, by recipient (the sender's guardrails). */
    campaignBounceCounts(workspaceId: string, campaignId: string) {
      return repo.campaignBounceCounts(db, workspaceId, campaignId);
    },

    /**
     * Sent, bounces and complaints per mailbox provider for the last 7 and 30
     * days, with rates and a status per rate (thresholds in health-report.ts).
     */
    async health(workspaceId: string) {
      const now = clock.now();
      const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
      const rows = await repo.healthCounts(db, workspaceId, {
        shortSince: daysAgo(7),
        longSince: daysAgo(30),
        // Inclusive of this instant: a send recorded at `now` counts.
        until: new Date(now.getTime() + 1),
      });
      return {
        generated_at: now,
        thresholds: HEALTH_THRESHOLDS,
        windows: buildHealthWindows(rows, [
          { days: 7, since: daysAgo(7), pick: 'short' },
          { days: 30, since: daysAgo(30), pick: 'long' },
        ]),
      };
    },

    /**
     * A message delivered to a List-Unsubscribe `mailto:` address
     * (`u-<token>@...`): the unsubscribe it asks for, or undefined when it was
     * not sent to one (a bounce or complaint report, or not for Herald).
     * Every inbound path asks this first, before the bounce reader.
     */
    async unsubscribeByMail(workspaceId: string, raw: Buffer): Promise<UnsubscribeMailResult | undefined> {
      return unsubscribeByMail({ db, keyring, unsubscribes: deps.unsubscribes }, workspaceId, raw);
    },

    /**
     * Synchronous SMTP refusals at send time (campaign sender, messages): a
     * 5xx reply (or a 4xx on the last attempt) goes through the same policies as
     * a DSN. Anything else is no report about the address and is ignored.
     */
    async recordRefusals(workspaceId: string, refusals: SendRefusal[]): Promise<AppliedReport[]> {
      const out: AppliedReport[] = [];
      for (const refusal of refusals) {
        const report = refusalReport(refusal);
        if (report) out.push(await applyOne(workspaceId, report, 'smtp'));
      }
      return out;
    },

    /** The subset of `emails` (any letter case) on the suppression list, as lowercase keys. */
    async suppressedAmong(workspaceId: string, emails: string[], trx: Db = db): Promise<Set<string>> {
      return repo.suppressedKeys(trx, workspaceId, [...new Set(emails.map(emailKey))]);
    },

    /** Whether mail of this kind may not go to `email`; sunset entries hold back marketing only. */
    async isSuppressed(
      workspaceId: string,
      email: string,
      trx: Db = db,
      kind: 'marketing' | 'transactional' = 'marketing',
    ): Promise<boolean> {
      return (await repo.suppressedKeys(trx, workspaceId, [emailKey(email)], kind)).size > 0;
    },

    /**
     * The entry that keeps mail of this kind from `email`, or undefined when it
     * may go: every reason stops marketing email, every reason but `sunset`
     * the rest (transactional messages, double opt-in confirmations).
     */
    async suppressionFor(
      workspaceId: string,
      email: string,
      kind: 'marketing' | 'transactional' = 'marketing',
      trx: Db = db,
    ): Promise<Suppression | undefined> {
      const row = await repo.findSuppression(trx, workspaceId, emailKey(email));
      if (!row || (kind === 'transactional' && row.reason === 'sunset')) return undefined;
      return toSuppression(row);
    },

    /**
     * Removes the address's `sunset` entry (no other reason) because the
     * contact engaged again (confirmed a subscription by its link), recorded
     * in suppression_removals like a removal through the API. True when one
     * was removed.
     */
    async liftSunset(workspaceId: string, email: string, reason: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const removed = await repo.deleteSuppression(trx, workspaceId, emailKey(email), 'sunset');
        if (!removed) return false;
        await repo.insertRemoval(trx, {
          id: uuidv7(clock.now().getTime()),
          workspace_id: workspaceId,
          email_key: removed.email_key,
          previous_reason: removed.reason,
          suppressed_at: removed.created_at,
          reason,
          removed_by: null,
          removed_at: clock.now(),
        });
        return true;
      });
    },

    async listSuppressions(
      workspaceId: string,
      query: {
        reason?: SuppressionReason | undefined;
        email?: string | undefined;
        cursor?: string | undefined;
        limit: number;
      },
    ): Promise<Page<Suppression>> {
      const after = decodeCursor(query.cursor, (v) => v.length > 0 && v.length <= 320);
      const rows = await repo.listSuppressions(db, workspaceId, { ...query, after });
      const data = rows.slice(0, query.limit);
      const last = data.at(-1);
      return {
        data: data.map(toSuppression),
        next_cursor: rows.length > query.limit && last ? encodeCursor(last.email_key) : null,
      };
    },

    async addSuppression(
      workspaceId: string,
      input: { email: string; reason?: SuppressionReason | undefined; note?: string | undefined },
      by: { source: string; id?: string | null },
    ): Promise<{ suppression: Suppression; created: boolean }> {
      const email = checkedEmail(input.email, '/email');
      return db.transaction().execute(async (trx) => {
        const created = await suppress(trx, workspaceId, email, input.reason ?? 'manual', {
          source: by.source,
          note: input.note ?? null,
          by: by.id ?? null,
        });
        const row = await repo.findSuppression(trx, workspaceId, emailKey(email));
        if (!row) throw new Error('suppression vanished after insert');
        return { suppression: toSuppression(row), created };
      });
    },

    /**
     * CSV import: a header row naming `email` (required), `reason` and `note`
     * (optional; reason defaults to manual). All rows are checked first: any
     * bad row refuses the file with its line number and nothing is stored.
     */
    async importSuppressions(
      workspaceId: string,
      csv: Buffer,
      by: { source: string; id?: string | null },
    ): Promise<{ rows: number; added: number; already_suppressed: number }> {
      let records: Record<string, string>[];
      try {
        records = parse(csv, {
          columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
          bom: true,
          skip_empty_lines: true,
          trim: true,
        });
      } catch (error) {
        throw new DomainError('INVALID_CSV', `the file is not valid CSV: ${(error as Error).message}`);
      }
      const first = records[0];
      if (first && !('email' in first))
        throw new DomainError(
          'INVALID_CSV',
          'the header row must name an email column (and optionally reason, note)',
        );
      const problems: { path: string; message: string; line: number }[] = [];
      const now = clock.now();
      const rows = new Map<string, Parameters<typeof repo.insertSuppressions>[1][number]>();
      records.forEach((record, index) => {
        const line = index + 2;
        const checked = normalizeEmail(record.email ?? '');
        const reason = (record.reason || 'manual') as SuppressionReason;
        if (!checked.ok) problems.push({ path: `/${line}/email`, message: checked.reason, line });
        else if (!(reason in REPLACES))
          problems.push({
            path: `/${line}/reason`,
            message: 'reason must be hard_bounce, soft_bounce, complaint, manual or sunset',
            line,
          });
        // The first row naming an address wins; later ones are counted as already there.
        else if (!rows.has(emailKey(checked.email)))
          rows.set(emailKey(checked.email), {
            workspace_id: workspaceId,
            email_key: emailKey(checked.email),
            email: checked.email,
            reason,
            source: by.source,
            bounce_event_id: null,
            note: record.note ? record.note.slice(0, 1000) : null,
            created_by: by.id ?? null,
            created_at: now,
          });
      });
      if (problems.length > 0)
        throw new DomainError(
          'VALIDATION_FAILED',
          `${problems.length} row(s) are not valid, nothing was imported: fix them and send the file again`,
          problems.slice(0, 100),
        );
      const all = [...rows.values()];
      const added = await db.transaction().execute(async (trx) => {
        let n = 0;
        for (let i = 0; i < all.length; i += 1000)
          n += await repo.insertSuppressions(trx, all.slice(i, i + 1000));
        return n;
      });
      return { rows: records.length, added, already_suppressed: records.length - added };
    },

    /** The whole list as CSV (email, reason, source, note, created_at), by address. */
    async exportSuppressions(workspaceId: string): Promise<string> {
      const lines: string[] = [stringify([['email', 'reason', 'source', 'note', 'created_at']])];
      let after: string | undefined;
      for (;;) {
        const rows = await repo.listSuppressions(db, workspaceId, { after, limit: 5000 });
        const page = rows.slice(0, 5000);
        // A cell starting with = + - @ would run as a formula in a spreadsheet.
        const cell = (v: string | null) => (v && /^[=+\-@\t\r]/.test(v) ? `'${v}` : (v ?? ''));
        lines.push(
          stringify(
            page.map((r) => [cell(r.email), r.reason, r.source, cell(r.note), r.created_at.toISOString()]),
          ),
        );
        if (rows.length <= 5000) break;
        after = page.at(-1)?.email_key;
      }
      return lines.join('');
    },

    /** Removes the address from the list; the removal, its reason and who did it are recorded. */
    async removeSuppression(
      workspaceId: string,
      email: string,
      reason: string,
      by: { id?: string | null },
    ): Promise<Suppression> {
      return db.transaction().execute(async (trx) => {
        const removed = await repo.deleteSuppression(trx, workspaceId, emailKey(email));
        if (!removed)
          throw new DomainError(
            'SUPPRESSION_NOT_FOUND',
            `${email} is not on this workspace's suppression list`,
          );
        await repo.insertRemoval(trx, {
          id: uuidv7(clock.now().getTime()),
          workspace_id: workspaceId,
          email_key: removed.email_key,
          previous_reason: removed.reason,
          suppressed_at: removed.created_at,
          reason,
          removed_by: by.id ?? null,
          removed_at: clock.now(),
        });
        return toSuppression(removed);
      });
    },

    async listEvents(
      workspaceId: string,
      query: { contactId?: string | undefined; cursor?: string | undefined; limit: number },
    ) {
      const after = decodeCursor(query.cursor);
      const rows = await repo.listEvents(db, workspaceId, {
        contactId: query.contactId,
        after,
        limit: query.limit,
      });
      const data = rows.slice(0, query.limit);
      const last = data.at(-1);
      return {
        data: data.map((r) => ({
          id: r.id,
          contact_id: r.contact_id,
          campaign_id: r.campaign_id,
          message_ref: r.message_ref,
          message_id: r.message_id,
          recipient: r.recipient,
          type: r.type,
          severity: r.severity,
          reason: r.reason,
          status_code: r.status_code,
          reply_code: r.reply_code,
          diagnostic: r.diagnostic,
          remote_mta: r.remote_mta,
          source: r.source,
          matched_by: r.matched_by,
          effect: r.effect,
          occurred_at: r.occurred_at,
          received_at: r.received_at,
        })),
        next_cursor: rows.length > query.limit && last ? encodeCursor(last.id) : null,
      };
    },

    async getSettings(workspaceId: string): Promise<DeliverabilitySettings> {
      return toSettings(await repo.findSettings(db, workspaceId));
    },

    /**
     * The guardrails a new campaign takes when it sets none of its own: the
     * workspace's (deliverability settings), else Herald's. Read by the
     * campaigns service before its creating transaction opens.
     */
    async guardrailDefaults(workspaceId: string): Promise<GuardrailDefaults> {
      return toGuardrails(await repo.findSettings(db, workspaceId));
    },

    async updateSettings(workspaceId: string, patch: SettingsPatch): Promise<DeliverabilitySettings> {
      // Sealed before the transaction: the cipher may load the workspace's data key.
      const seal = async (kind: SecretKind, value: string | null | undefined) =>
        typeof value === 'string'
          ? cipher.encrypt(workspaceId, secretContext(kind, workspaceId), value)
          : null;
      const sealed: Record<SecretKind, string | null> = {
        mailgun: await seal('mailgun', patch.mailgun_signing_key),
        postmark: await seal('postmark', patch.postmark_password),
        imap: await seal('imap', patch.imap_password),
      };
      return db.transaction().execute(async (trx) => {
        const current = await repo.findSettings(trx, workspaceId);
        const secret = (kind: string, value: string | null | undefined, stored: string | null | undefined) =>
          value === undefined ? (stored ?? null) : value === null ? null : sealed[kind as SecretKind];
        const row = await repo.upsertSettings(trx, {
          workspace_id: workspaceId,
          soft_bounce_threshold:
            patch.soft_bounce_threshold ?? current?.soft_bounce_threshold ?? DEFAULT_SOFT_BOUNCE_THRESHOLD,
          soft_bounce_window_days:
            patch.soft_bounce_window_days ??
            current?.soft_bounce_window_days ??
            DEFAULT_SOFT_BOUNCE_WINDOW_DAYS,
          hard_bounce_threshold:
            patch.hard_bounce_threshold === undefined
              ? (current?.hard_bounce_threshold ?? null)
              : patch.hard_bounce_threshold,
          complaint_threshold:
            patch.complaint_threshold === undefined
              ? (current?.complaint_threshold ?? null)
              : patch.complaint_threshold,
          guardrail_min_sent:
            patch.guardrail_min_sent === undefined
              ? (current?.guardrail_min_sent ?? null)
              : patch.guardrail_min_sent,
          ses_topic_arns: patch.ses_topic_arns ?? current?.ses_topic_arns ?? [],
          sendgrid_public_key:
            patch.sendgrid_public_key === undefined
              ? (current?.sendgrid_public_key ?? null)
              : patch.sendgrid_public_key,
          mailgun_signing_key: secret('mailgun', patch.mailgun_signing_key, current?.mailgun_signing_key),
          postmark_username:
            patch.postmark_username === undefined
              ? (current?.postmark_username ?? null)
              : patch.postmark_username,
          postmark_password: secret('postmark', patch.postmark_password, current?.postmark_password),
          ...imapColumns(patch, current, secret),
          updated_at: clock.now(),
        });
        return toSettings(row);
      });
    },

    /** Every enabled bounce mailbox, with its password decrypted: what the IMAP poller connects to. */
    async imapMailboxes(workspaceId?: string): Promise<ImapMailboxConfig[]> {
      const rows = await repo.listImapEnabled(db, workspaceId);
      const mailboxes: ImapMailboxConfig[] = [];
      for (const row of rows) {
        if (!row.imap_host || !row.imap_user || !row.imap_password) continue;
        mailboxes.push({
          workspaceId: row.workspace_id,
          host: row.imap_host,
          port: row.imap_port ?? defaultPort(row.imap_tls),
          tls: row.imap_tls,
          user: row.imap_user,
          password: await cipher.decrypt(
            row.workspace_id,
            secretContext('imap', row.workspace_id),
            row.imap_password,
          ),
          mailbox: row.imap_mailbox,
          processedFolder: row.imap_processed_folder,
          unparsedFolder: row.imap_unparsed_folder,
        });
      }
      return mailboxes;
    },

    /** Undefined for a workspace that does not exist. */
    async webhookCredentials(workspaceId: string): Promise<WebhookCredentials | undefined> {
      if (!isUuid(workspaceId) || !(await repo.workspaceExists(db, workspaceId))) return undefined;
      const row = await repo.findSettings(db, workspaceId);
      return {
        sesTopicArns: row?.ses_topic_arns ?? [],
        sendgridPublicKey: row?.sendgrid_public_key ?? null,
        mailgunSigningKey: row?.mailgun_signing_key
          ? await cipher.decrypt(workspaceId, secretContext('mailgun', workspaceId), row.mailgun_signing_key)
          : null,
        postmark:
          row?.postmark_username && row.postmark_password
            ? {
                username: row.postmark_username,
                password: await cipher.decrypt(
                  workspaceId,
                  secretContext('postmark', workspaceId),
                  row.postmark_password,
                ),
              }
            : null,
      };
    },

    /**
     * The webhook and mailbox secrets, for `herald keys rotate-data` (an
     * EncryptedValueSource of data-keys/): one settings row per workspace, so
     * the secret's kind serves as its id.
     */
    encryptedValues: {
      name: 'deliverability_settings.secrets',
      async page(workspaceId: string, afterId: string | null, limit: number) {
        const row = await repo.findSettings(db, workspaceId);
        const values: { id: SecretKind; value: string | null | undefined }[] = [
          { id: 'imap', value: row?.imap_password },
          { id: 'mailgun', value: row?.mailgun_signing_key },
          { id: 'postmark', value: row?.postmark_password },
        ];
        return values
          .filter((entry) => entry.value && (afterId === null || entry.id > afterId))
          .slice(0, limit)
          .map((entry) => ({
            id: entry.id,
            purpose: secretContext(entry.id, workspaceId),
            value: entry.value as string,
          }));
      },
      async replace(workspaceId: string, id: string, previous: string, next: string) {
        const column = SECRET_COLUMNS[id as SecretKind];
        if (!column) return false;
        return repo.replaceSettingSecret(db, workspaceId, column, previous, next);
      },
    },
  };
}

export type DeliverabilityService = ReturnType<typeof createDeliverabilityService>;

/** A recipient the receiving server refused while Herald was sending (the SMTP reply itself). */
export interface SendRefusal {
  email: string;
  /** The Message-ID header of the refused message. */
  messageId: string;
  error: unknown;
  /** A 5xx reply, or a 4xx one after the last attempt. */
  final: boolean;
}

/**
 * The bounce report a synchronous SMTP refusal amounts to, or undefined for
 * anything that is not the receiving server's reply about the recipient (a
 * dropped connection, an HTTP provider's API error, a render failure): only
 * those are about the address. 5xx -> classified like a DSN (hard for an
 * unknown user or host), 4xx on its last attempt -> soft.
 */
export function refusalReport(refusal: SendRefusal): BounceReport | undefined {
  if (!isTransportError(refusal.error) || !refusal.final) return undefined;
  const { code, providerMessage } = refusal.error;
  if (typeof code !== 'number' || code < 400 || code > 599) return undefined;
  // HTTP providers report HTTP statuses: their messages do not start with an SMTP reply code.
  if (!new RegExp(`^${code}[\\s-]`).test(providerMessage.trim())) return undefined;
  const permanent = code >= 500;
  const status = failureCodes(providerMessage).status ?? null;
  const { reason, severity } = classifyFailure({
    status: status ?? undefined,
    replyCode: code,
    diagnostic: providerMessage,
    permanent,
  });
  return {
    type: 'bounce',
    recipient: refusal.email,
    severity: permanent ? severity : 'soft',
    reason,
    status,
    replyCode: code,
    diagnostic: providerMessage,
    remoteMta: null,
    messageId: refusal.messageId.startsWith('<') ? refusal.messageId : `<${refusal.messageId}>`,
    returnPath: null,
    occurredAt: null,
    evidence: { sync: true },
    // One refusal per message and reply code, however often the sender records it.
    dedupKey: `sync:${digest(`${refusal.messageId}:${code}`)}`,
  };
}
