import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import {
  mailgunEvents,
  type ProviderEvent,
  ProviderPayloadError,
  postmarkEvents,
  sendgridEvents,
  sesEvents,
} from '../bounces/provider-events.js';
import {
  SNS_CERT_URL,
  verifyBasicAuth,
  verifyMailgunSignature,
  verifySendgridSignature,
  verifySnsSignature,
} from '../bounces/provider-signatures.js';
import type { AppliedReport, DeliverabilityService, WebhookCredentials } from './deliverability.service.js';

/**
 * The provider webhooks: `/webhooks/{provider}/{workspaceId}`. The workspace in
 * the URL says whose settings check the request; nothing in the request is
 * trusted before its signature (or Basic credentials) checks out. Order: the
 * workspace exists -> the provider is configured -> the signature -> the
 * payload -> apply. Every refusal changes nothing.
 */

/** Where Amazon SNS sends subscription confirmations from. */
export const SNS_SUBSCRIBE_URL = /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

export interface WebhookIntakeDeps {
  deliverability: Pick<DeliverabilityService, 'webhookCredentials' | 'applyEvents'>;
  clock: Clock;
  /** GET a URL and return its body (certificate, subscription confirmation); throws on failure. */
  fetchText: (url: string) => Promise<string>;
  snsCertUrl?: RegExp | undefined;
  snsSubscribeUrl?: RegExp | undefined;
  mailgunMaxAgeMs: number;
  /** How far a SendGrid request's signed timestamp may be from now. */
  sendgridMaxAgeMs: number;
  /** How far an SNS message's signed Timestamp (its publication) may be from now. */
  snsMaxAgeMs: number;
}

export interface WebhookOutcome {
  /** What happened: applied, replay_ignored, subscription_confirmed, ignored. */
  outcome: 'applied' | 'replay_ignored' | 'subscription_confirmed' | 'ignored';
  results: AppliedReport[];
}

function badPayload(message: string, path = '/'): DomainError {
  return new DomainError('WEBHOOK_PAYLOAD_INVALID', message, [{ path, message }]);
}

function badSignature(what: string): DomainError {
  return new DomainError('WEBHOOK_SIGNATURE_INVALID', what);
}

function notConfigured(provider: string, setting: string): DomainError {
  return new DomainError(
    'WEBHOOK_NOT_CONFIGURED',
    `the ${provider} webhook is not configured for this workspace: set ${setting} with PATCH /v1/deliverability/settings`,
  );
}

/**
 * Refuses a signed time too far from now (either way): the signature covers
 * it, so an old request cannot be made fresh, and a captured one replays only
 * within the window (where the dedup keys make it change nothing). Checked
 * before the signature, so a stale request costs no certificate fetch.
 */
function refuseStale(what: string, at: number, now: Date, maxAgeMs: number, setting: string): void {
  const off = Math.round((now.getTime() - at) / 1000);
  if (Math.abs(now.getTime() - at) <= maxAgeMs) return;
  throw new DomainError(
    'WEBHOOK_SIGNATURE_INVALID',
    `${what} is ${Math.abs(off)} s ${off >= 0 ? 'old' : 'in the future'}, outside the ${maxAgeMs / 1000} s window (${setting}): ` +
      'an old request is refused as a possible replay; if this is a live request, check the server clock',
  );
}

function json(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw badPayload(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

function mapped(map: () => ProviderEvent[]): ProviderEvent[] {
  try {
    return map();
  } catch (error) {
    if (error instanceof ProviderPayloadError) throw badPayload(error.message, error.path);
    throw error;
  }
}

export function createWebhookIntake(deps: WebhookIntakeDeps) {
  const { deliverability, clock } = deps;
  const certUrl = deps.snsCertUrl ?? SNS_CERT_URL;
  const subscribeUrl = deps.snsSubscribeUrl ?? SNS_SUBSCRIBE_URL;
  // Certificates by URL: SNS signs with few, long-lived certificates.
  const certificates = new Map<string, Promise<string>>();
  const fetchCertificate = (url: string) => {
    let cached = certificates.get(url);
    if (!cached) {
      cached = deps.fetchText(url);
      // A failed fetch is not remembered: the next message tries again.
      cached.catch(() => certificates.delete(url));
      if (certificates.size > 50) certificates.clear();
      certificates.set(url, cached);
    }
    return cached;
  };

  async function credentials(workspaceId: string): Promise<WebhookCredentials> {
    const found = await deliverability.webhookCredentials(workspaceId);
    if (!found)
      throw new DomainError('WORKSPACE_NOT_FOUND', `no workspace ${workspaceId}: check the webhook URL`);
    return found;
  }

  async function apply(
    workspaceId: string,
    events: ProviderEvent[],
    source: 'ses' | 'sendgrid' | 'mailgun' | 'postmark',
    replay?: { token: string; provider: string; windowMs: number },
  ): Promise<WebhookOutcome> {
    const { replayed, results } = await deliverability.applyEvents(workspaceId, events, source, replay);
    if (replayed) return { outcome: 'replay_ignored', results: [] };
    return { outcome: results.length > 0 ? 'applied' : 'ignored', results };
  }

  return {
    async ses(workspaceId: string, raw: Buffer): Promise<WebhookOutcome> {
      const creds = await credentials(workspaceId);
      if (creds.sesTopicArns.length === 0) throw notConfigured('Amazon SES (SNS)', 'ses_topic_arns');
      const body = json(raw);
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw badPayload('expected an SNS message (a JSON object with Type, Message, Signature...)');
      const message = body as Record<string, unknown>;
      const publishedAt = typeof message.Timestamp === 'string' ? Date.parse(message.Timestamp) : Number.NaN;
      if (Number.isFinite(publishedAt))
        refuseStale(
          'the SNS Timestamp',
          publishedAt,
          clock.now(),
          deps.snsMaxAgeMs,
          'HERALD_SNS_WEBHOOK_MAX_AGE_SECONDS',
        );
      if (!(await verifySnsSignature(message, fetchCertificate, certUrl)))
        throw badSignature(
          'the SNS signature does not verify against the signing certificate at SigningCertURL',
        );
      if (!Number.isFinite(publishedAt))
        throw badPayload('Timestamp must be an ISO 8601 time (when SNS published the message)', '/Timestamp');
      if (typeof message.TopicArn !== 'string' || !creds.sesTopicArns.includes(message.TopicArn))
        throw new DomainError(
          'FORBIDDEN',
          'the SNS topic is not in this workspace ses_topic_arns: add its ARN with PATCH /v1/deliverability/settings',
        );
      if (message.Type === 'SubscriptionConfirmation') {
        const url = message.SubscribeURL;
        if (typeof url !== 'string' || !subscribeUrl.test(url))
          throw badPayload('SubscribeURL is not an Amazon SNS address', '/SubscribeURL');
        await deps.fetchText(url);
        return { outcome: 'subscription_confirmed', results: [] };
      }
      if (message.Type !== 'Notification') return { outcome: 'ignored', results: [] };
      if (typeof message.Message !== 'string') throw badPayload('Message must be a string', '/Message');
      let inner: unknown;
      try {
        inner = JSON.parse(message.Message);
      } catch {
        throw badPayload('Message is not a JSON SES notification', '/Message');
      }
      return apply(
        workspaceId,
        mapped(() => sesEvents(inner)),
        'ses',
      );
    },

    async sendgrid(
      workspaceId: string,
      headers: { signature: string | undefined; timestamp: string | undefined },
      raw: Buffer,
    ): Promise<WebhookOutcome> {
      const creds = await credentials(workspaceId);
      if (!creds.sendgridPublicKey) throw notConfigured('SendGrid', 'sendgrid_public_key');
      // Seconds since the epoch; anything else cannot have been signed by SendGrid and fails the signature.
      if (headers.timestamp && /^\d{1,12}$/.test(headers.timestamp))
        refuseStale(
          'the signed timestamp (X-Twilio-Email-Event-Webhook-Timestamp)',
          Number(headers.timestamp) * 1000,
          clock.now(),
          deps.sendgridMaxAgeMs,
          'HERALD_SENDGRID_WEBHOOK_MAX_AGE_SECONDS',
        );
      if (
        !headers.timestamp ||
        !/^\d{1,12}$/.test(headers.timestamp) ||
        !headers.signature ||
        !headers.timestamp ||
        !verifySendgridSignature({
          publicKey: creds.sendgridPublicKey,
          signature: headers.signature,
          timestamp: headers.timestamp,
          rawBody: raw,
        })
      )
        throw badSignature(
          'the X-Twilio-Email-Event-Webhook-Signature does not verify with the sendgrid_public_key over timestamp and body',
        );
      const body = json(raw);
      return apply(
        workspaceId,
        mapped(() => sendgridEvents(body)),
        'sendgrid',
      );
    },

    async mailgun(workspaceId: string, raw: Buffer): Promise<WebhookOutcome> {
      const creds = await credentials(workspaceId);
      if (!creds.mailgunSigningKey) throw notConfigured('Mailgun', 'mailgun_signing_key');
      const body = json(raw) as Record<string, unknown> | null;
      const signature = (typeof body === 'object' && body !== null ? body.signature : undefined) as
        | Record<string, unknown>
        | undefined;
      const field = (name: string) =>
        typeof signature?.[name] === 'string' ? (signature[name] as string) : '';
      if (
        !verifyMailgunSignature({
          signingKey: creds.mailgunSigningKey,
          timestamp: field('timestamp'),
          token: field('token'),
          signature: field('signature'),
          now: clock.now(),
          maxAgeMs: deps.mailgunMaxAgeMs,
        })
      )
        throw badSignature(
          'the Mailgun signature (HMAC of timestamp and token with mailgun_signing_key) does not verify, or the timestamp is outside the window',
        );
      const events = mapped(() => mailgunEvents((body as Record<string, unknown>)['event-data']));
      return apply(workspaceId, events, 'mailgun', {
        provider: 'mailgun',
        token: field('token'),
        windowMs: deps.mailgunMaxAgeMs,
      });
    },

    async postmark(
      workspaceId: string,
      authorization: string | undefined,
      raw: Buffer,
    ): Promise<WebhookOutcome> {
      const creds = await credentials(workspaceId);
      if (!creds.postmark) throw notConfigured('Postmark', 'postmark_username and postmark_password');
      if (!verifyBasicAuth(authorization, creds.postmark.username, creds.postmark.password))
        throw badSignature('the HTTP Basic credentials do not match postmark_username and postmark_password');
      const body = json(raw);
      return apply(
        workspaceId,
        mapped(() => postmarkEvents(body)),
        'postmark',
      );
    },
  };
}

export type WebhookIntake = ReturnType<typeof createWebhookIntake>;
