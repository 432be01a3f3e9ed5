import {
  type BounceReason,
  classifyFailure,
  failureCodes as codes,
  type Severity,
} from './bounce-reasons.js';

/**
 * The bounce, complaint and delivery events of the sending providers'
 * webhooks (Amazon SES through SNS, SendGrid, Mailgun, Postmark), mapped to
 * one shape and classified like a bounce message: the provider's own
 * hard/soft call is kept as evidence, but the reason and severity come from
 * the same rules as every other source. A payload that is not the provider's
 * documented shape is refused with the path of what is wrong.
 */

export interface ProviderEvent {
  provider: 'ses' | 'sendgrid' | 'mailgun' | 'postmark';
  type: 'bounce' | 'delay' | 'complaint' | 'delivery';
  recipient: string;
  status: string | null;
  replyCode: number | null;
  diagnostic: string | null;
  reason: BounceReason | 'complaint' | null;
  severity: Severity | null;
  /** The Message-ID header of the sent message, with angle brackets, when the provider reports it. */
  messageId: string | null;
  /** The provider's own id of the sent message. */
  providerMessageId: string | null;
  occurredAt: Date | null;
  /** The provider's own words: bounce type, sub type, feedback type. */
  providerDetail: Record<string, string>;
}

export class ProviderPayloadError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'ProviderPayloadError';
  }
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ProviderPayloadError(path, 'expected an object');
  return value as Json;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new ProviderPayloadError(path, 'expected a string');
  return value;
}

function optionalText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function date(value: unknown): Date | null {
  if (typeof value === 'number') return new Date(value > 1e12 ? value : value * 1000);
  if (typeof value !== 'string') return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** Provider details without the absent ones. */
function detail(fields: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== null) out[key] = value;
  return out;
}

function angle(id: string | null): string | null {
  if (!id) return null;
  const trimmed = id.trim();
  return trimmed.startsWith('<') ? trimmed : `<${trimmed}>`;
}

function failure(
  base: Omit<ProviderEvent, 'reason' | 'severity' | 'type'> & { type: 'bounce' | 'delay' },
  permanent: boolean | undefined,
): ProviderEvent {
  const { reason, severity } = classifyFailure({
    status: base.status ?? undefined,
    replyCode: base.replyCode ?? undefined,
    diagnostic: base.diagnostic ?? undefined,
    permanent,
  });
  // The provider saying "temporary" wins over a text that sounds permanent: it will retry.
  const soft = base.type === 'delay' || permanent === false;
  return { ...base, reason, severity: soft ? 'soft' : severity };
}

/** The SES notification (or event publishing record) inside an SNS Notification's Message. */
export function sesEvents(message: unknown): ProviderEvent[] {
  const m = object(message, '/');
  const type = text(m.notificationType ?? m.eventType, '/notificationType');
  const mail = object(m.mail, '/mail');
  const common = (m.mail as Json).commonHeaders as Json | undefined;
  const headers = Array.isArray(mail.headers) ? (mail.headers as Json[]) : [];
  const headerId = headers.find((h) => String(h.name).toLowerCase() === 'message-id')?.value;
  const base = {
    provider: 'ses' as const,
    messageId: angle(optionalText(headerId) ?? optionalText(common?.messageId)),
    providerMessageId: optionalText(mail.messageId),
  };
  if (type === 'Bounce') {
    const bounce = object(m.bounce, '/bounce');
    const recipients = bounce.bouncedRecipients;
    if (!Array.isArray(recipients) || recipients.length === 0)
      throw new ProviderPayloadError('/bounce/bouncedRecipients', 'expected a non-empty array');
    const bounceType = text(bounce.bounceType, '/bounce/bounceType');
    return recipients.map((raw, i) => {
      const r = object(raw, `/bounce/bouncedRecipients/${i}`);
      const diagnostic = optionalText(r.diagnosticCode)?.replace(/^smtp;\s*/i, '') ?? null;
      const found = codes(diagnostic);
      return failure(
        {
          ...base,
          type: 'bounce',
          recipient: text(r.emailAddress, `/bounce/bouncedRecipients/${i}/emailAddress`),
          status: optionalText(r.status)?.match(/^[245]\.\d{1,3}\.\d{1,3}$/)?.[0] ?? found.status,
          replyCode: found.replyCode,
          diagnostic,
          occurredAt: date(bounce.timestamp),
          providerDetail: detail({
            bounce_type: bounceType,
            bounce_sub_type: optionalText(bounce.bounceSubType),
          }),
        },
        // SES: Permanent, Transient, or Undetermined (which says nothing).
        bounceType === 'Permanent' ? true : bounceType === 'Transient' ? false : undefined,
      );
    });
  }
  if (type === 'Complaint') {
    const complaint = object(m.complaint, '/complaint');
    const recipients = complaint.complainedRecipients;
    if (!Array.isArray(recipients) || recipients.length === 0)
      throw new ProviderPayloadError('/complaint/complainedRecipients', 'expected a non-empty array');
    return recipients.map((raw, i) => ({
      ...base,
      type: 'complaint' as const,
      recipient: text(
        object(raw, `/complaint/complainedRecipients/${i}`).emailAddress,
        `/complaint/complainedRecipients/${i}/emailAddress`,
      ),
      status: null,
      replyCode: null,
      diagnostic: null,
      reason: 'complaint' as const,
      severity: null,
      occurredAt: date(complaint.timestamp),
      providerDetail: detail({ feedback_type: optionalText(complaint.complaintFeedbackType) }),
    }));
  }
  if (type === 'Delivery') {
    const delivery = object(m.delivery, '/delivery');
    const recipients = Array.isArray(delivery.recipients) ? delivery.recipients : [];
    return recipients.map((recipient, i) => ({
      ...base,
      type: 'delivery' as const,
      recipient: text(recipient, `/delivery/recipients/${i}`),
      status: null,
      replyCode: codes(optionalText(delivery.smtpResponse)).replyCode,
      diagnostic: optionalText(delivery.smtpResponse),
      reason: null,
      severity: null,
      occurredAt: date(delivery.timestamp),
      providerDetail: {},
    }));
  }
  return []; // Send, Open, Click and the rest are not deliverability events.
}

/** SendGrid's Event Webhook body: an array of events. */
export function sendgridEvents(body: unknown): ProviderEvent[] {
  if (!Array.isArray(body)) throw new ProviderPayloadError('/', 'expected an array of events');
  const out: ProviderEvent[] = [];
  body.forEach((raw, i) => {
    const e = object(raw, `/${i}`);
    const event = text(e.event, `/${i}/event`);
    const base = {
      provider: 'sendgrid' as const,
      recipient: text(e.email, `/${i}/email`),
      messageId: angle(optionalText(e['smtp-id'])),
      providerMessageId: optionalText(e.sg_message_id),
      occurredAt: date(e.timestamp),
    };
    if (event === 'bounce' || event === 'deferred' || event === 'dropped') {
      const diagnostic = optionalText(e.reason) ?? optionalText(e.response);
      const found = codes(diagnostic);
      const status = optionalText(e.status)?.match(/^[245]\.\d{1,3}\.\d{1,3}$/)?.[0] ?? found.status;
      out.push(
        failure(
          {
            ...base,
            type: event === 'deferred' ? 'delay' : 'bounce',
            status,
            replyCode: found.replyCode,
            diagnostic,
            providerDetail: detail({
              event,
              type: optionalText(e.type),
              bounce_classification: optionalText(e.bounce_classification),
            }),
          },
          // "blocked" bounces are SendGrid's soft kind; dropped means SendGrid never sent it (its suppression).
          event === 'deferred' || e.type === 'blocked' ? false : event === 'bounce' ? true : undefined,
        ),
      );
    } else if (event === 'spamreport') {
      out.push({
        ...base,
        type: 'complaint',
        status: null,
        replyCode: null,
        diagnostic: null,
        reason: 'complaint',
        severity: null,
        providerDetail: { event },
      });
    } else if (event === 'delivered') {
      out.push({
        ...base,
        type: 'delivery',
        status: null,
        replyCode: codes(optionalText(e.response)).replyCode,
        diagnostic: optionalText(e.response),
        reason: null,
        severity: null,
        providerDetail: { event },
      });
    }
  });
  return out;
}

/** One Mailgun webhook (`event-data` of the signed body). */
export function mailgunEvents(eventData: unknown): ProviderEvent[] {
  const e = object(eventData, '/event-data');
  const event = text(e.event, '/event-data/event');
  const message = e.message as Json | undefined;
  const headers = message?.headers as Json | undefined;
  const base = {
    provider: 'mailgun' as const,
    recipient: text(e.recipient, '/event-data/recipient'),
    messageId: angle(optionalText(headers?.['message-id'])),
    providerMessageId: optionalText(headers?.['message-id']),
    occurredAt: date(e.timestamp),
  };
  if (event === 'failed') {
    const status = (e['delivery-status'] ?? {}) as Json;
    const diagnostic = [optionalText(status.message), optionalText(status.description)]
      .filter(Boolean)
      .join(' ')
      .trim();
    const found = codes(diagnostic);
    const severity = optionalText(e.severity);
    return [
      failure(
        {
          ...base,
          type: severity === 'temporary' ? 'delay' : 'bounce',
          status: optionalText(status['enhanced-code']) ?? found.status,
          replyCode: typeof status.code === 'number' ? status.code : found.replyCode,
          diagnostic: diagnostic || null,
          providerDetail: detail({ event, severity, reason: optionalText(e.reason) }),
        },
        severity === 'permanent' ? true : severity === 'temporary' ? false : undefined,
      ),
    ];
  }
  if (event === 'complained')
    return [
      {
        ...base,
        type: 'complaint',
        status: null,
        replyCode: null,
        diagnostic: null,
        reason: 'complaint',
        severity: null,
        providerDetail: { event },
      },
    ];
  if (event === 'delivered')
    return [
      {
        ...base,
        type: 'delivery',
        status: null,
        replyCode: null,
        diagnostic: null,
        reason: null,
        severity: null,
        providerDetail: { event },
      },
    ];
  return [];
}

/** Postmark's bounce types that are not delivery failures at all. */
const POSTMARK_IGNORED = new Set([
  'AutoResponder',
  'Subscribe',
  'Unsubscribe',
  'OpenRelayTest',
  'ChallengeVerification',
]);

/** One Postmark webhook (Bounce, SpamComplaint or Delivery record). */
export function postmarkEvents(body: unknown): ProviderEvent[] {
  const e = object(body, '/');
  const record = text(e.RecordType, '/RecordType');
  const base = {
    provider: 'postmark' as const,
    recipient: text(e.Email ?? e.Recipient, '/Email'),
    messageId: null,
    providerMessageId: optionalText(e.MessageID),
  };
  if (record === 'Bounce') {
    const type = text(e.Type, '/Type');
    if (POSTMARK_IGNORED.has(type)) return [];
    const diagnostic = optionalText(e.Details) ?? optionalText(e.Description);
    const found = codes(diagnostic);
    return [
      failure(
        {
          ...base,
          // Transient is Postmark's delay warning; a SoftBounce is a failure it gave up on, but soft.
          type: type === 'Transient' ? 'delay' : 'bounce',
          status: found.status,
          replyCode: found.replyCode,
          diagnostic,
          occurredAt: date(e.BouncedAt),
          providerDetail: { type },
        },
        type === 'HardBounce' || type === 'BadEmailAddress' || type === 'ManuallyDeactivated'
          ? true
          : type === 'SoftBounce' || type === 'Transient' || type === 'DnsError'
            ? false
            : undefined,
      ),
    ];
  }
  if (record === 'SpamComplaint')
    return [
      {
        ...base,
        type: 'complaint',
        status: null,
        replyCode: null,
        diagnostic: null,
        reason: 'complaint',
        severity: null,
        occurredAt: date(e.BouncedAt),
        providerDetail: { type: optionalText(e.Type) ?? 'SpamComplaint' },
      },
    ];
  if (record === 'Delivery')
    return [
      {
        ...base,
        type: 'delivery',
        status: null,
        replyCode: null,
        diagnostic: optionalText(e.Details),
        reason: null,
        severity: null,
        occurredAt: date(e.DeliveredAt),
        providerDetail: {},
      },
    ];
  return [];
}
