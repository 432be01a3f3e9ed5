import {
  type BounceReason,
  classifyFailure,
  failureCodes as codesOf,
  type Severity,
} from './bounce-reasons.js';
import { allParts, header, type MessagePart, parseHeaderBlock, parseMessage } from './raw-message.js';

/**
 * Reads a bounce or complaint report: standard delivery status notifications
 * (RFC 3464, as Postfix, Sendmail, Exchange and Microsoft 365, Gmail and
 * Amazon SES send them), abuse reports (ARF, RFC 5965), and the plain-text
 * failure notices of qmail, Yahoo and Exim. Auto-replies (out of office,
 * vacation) are recognised and never reported as bounces. Pure: no database,
 * no keys; the VERP address found is returned for the caller to verify.
 */

export type ReportKind = 'bounce' | 'delay' | 'complaint' | 'auto_reply' | 'unknown';
export type ReportFormat = 'dsn' | 'arf' | 'text' | 'auto_reply' | 'none';

export interface ReportedRecipient {
  /** bounce: delivery failed; delay: still trying (a warning, not a failure); complaint: marked as spam. */
  kind: 'bounce' | 'delay' | 'complaint';
  recipient: string | null;
  /** DSN Action (failed, delayed), or null when the report has none. */
  action: string | null;
  /** Enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string | null;
  /** SMTP reply code, e.g. 550. */
  replyCode: number | null;
  diagnostic: string | null;
  remoteMta: string | null;
  reason: BounceReason | 'complaint';
  /** hard or soft for bounces and delays (a delay is always soft); null for complaints. */
  severity: Severity | null;
  /** ARF Feedback-Type (abuse, fraud, virus, other...). */
  feedbackType: string | null;
}

export interface ParsedReport {
  kind: ReportKind;
  format: ReportFormat;
  recipients: ReportedRecipient[];
  /** Message-ID of the message that bounced or was reported, with angle brackets. */
  originalMessageId: string | null;
  /** The VERP return path (`b-<token>@<domain>`) the report was addressed to, or the original carried. */
  returnPath: string | null;
  reportingMta: string | null;
  /** The sender of an auto-reply. */
  from: string | null;
}

const ADDRESS = /<?([^\s<>"(),;:]+@[^\s<>"(),;:]+)>?/;
const VERP = /\bb-[A-Za-z0-9_=-]{8,}@[A-Za-z0-9.-]+[A-Za-z0-9]/;
const STATUS = /\b([245]\.\d{1,3}\.\d{1,3})\b/;
/** Where a plain-text notice starts quoting the original message. */
const COPY_SEPARATOR =
  /^\s*-{2,}.*(copy of|below this line|original message|message headers follow|undelivered message)|^\s*-{3,}\s*$/im;

export function parseReport(raw: Buffer | string): ParsedReport {
  const root = parseMessage(raw);
  const parts = allParts(root);
  const result: ParsedReport = {
    kind: 'unknown',
    format: 'none',
    recipients: [],
    originalMessageId: null,
    returnPath: null,
    reportingMta: null,
    from: null,
  };

  const feedback = parts.find((p) => p.contentType === 'message/feedback-report');
  const status = parts.find(
    (p) => p.contentType === 'message/delivery-status' || p.contentType === 'message/global-delivery-status',
  );
  if (feedback) readFeedback(feedback, result);
  else if (status) readDeliveryStatus(status, result);
  else if (looksLikeFailureNotice(root)) readTextNotice(root, result);
  else if (isAutoReply(root)) {
    result.kind = 'auto_reply';
    result.format = 'auto_reply';
    result.from = firstAddress(header(root, 'from'));
  }

  const original = originalHeaders(parts, root);
  result.originalMessageId =
    messageIdOf(original) ?? (result.format === 'text' ? quotedMessageId(textBody(root)) : null);
  result.returnPath = verpAddress(root, original);
  if (result.kind === 'unknown' && result.recipients.length > 0)
    result.kind = result.recipients[0]?.kind ?? 'unknown';
  return result;
}

function readDeliveryStatus(part: MessagePart, result: ParsedReport): void {
  result.format = 'dsn';
  const blocks = part.body
    .split(/\n[ \t]*\n/)
    .map((block) => parseHeaderBlock(block.trim()))
    .filter((fields) => fields.length > 0);
  for (const fields of blocks) {
    const get = (name: string) => fields.find((f) => f.name === name)?.value;
    if (get('reporting-mta')) result.reportingMta = typeValue(get('reporting-mta')) ?? null;
    const recipient = typeValue(get('final-recipient')) ?? typeValue(get('original-recipient'));
    if (!recipient && !get('action')) continue;
    const action = get('action')?.toLowerCase().split(/\s/)[0] ?? null;
    // Success notices (delivered, relayed, expanded) are not failures.
    if (action && action !== 'failed' && action !== 'delayed') continue;
    const diagnostic = typeValue(get('diagnostic-code')) ?? null;
    const fromDiagnostic = codesOf(diagnostic);
    let statusCode = get('status')?.match(STATUS)?.[1] ?? null;
    // x.0.0 says nothing; the diagnostic often carries the specific code.
    if ((!statusCode || /\.0\.0$/.test(statusCode)) && fromDiagnostic.status)
      statusCode = fromDiagnostic.status;
    result.recipients.push(
      failure({
        kind: action === 'delayed' ? 'delay' : 'bounce',
        recipient: cleanAddress(recipient),
        action,
        status: statusCode,
        replyCode: fromDiagnostic.replyCode,
        diagnostic,
        // `dns; mx.example.com. (192.0.2.1, the server for ...)` -> mx.example.com
        remoteMta: typeValue(get('remote-mta'))?.split(/\s/)[0]?.replace(/\.$/, '') ?? null,
        permanent: action === 'failed',
      }),
    );
  }
  result.kind = result.recipients.some((r) => r.kind === 'bounce')
    ? 'bounce'
    : result.recipients.length > 0
      ? 'delay'
      : 'unknown';
}

function readFeedback(part: MessagePart, result: ParsedReport): void {
  result.format = 'arf';
  result.kind = 'complaint';
  const fields = parseHeaderBlock(part.body.trim());
  const get = (name: string) => fields.find((f) => f.name === name)?.value;
  const feedbackType = get('feedback-type')?.toLowerCase() ?? 'abuse';
  const recipients = fields.filter((f) => f.name === 'original-rcpt-to').map((f) => cleanAddress(f.value));
  result.reportingMta = typeValue(get('reporting-mta')) ?? get('user-agent') ?? null;
  const complaint = (recipient: string | null): ReportedRecipient => ({
    kind: 'complaint',
    recipient,
    action: null,
    status: null,
    replyCode: null,
    diagnostic: null,
    remoteMta: null,
    reason: 'complaint',
    severity: null,
    feedbackType,
  });
  // Many providers redact the recipient; the original's Message-ID and return path still name the message.
  result.recipients = (recipients.length > 0 ? recipients : [null]).map(complaint);
}

function readTextNotice(root: MessagePart, result: ParsedReport): void {
  result.format = 'text';
  const text = textBody(root);
  const separator = text.search(COPY_SEPARATOR);
  const notice = separator === -1 ? text : text.slice(0, separator);
  const delay = /not yet been delivered|still undelivered|delayed|will (keep|continue) trying|warning/i.test(
    `${header(root, 'subject') ?? ''}\n${notice.slice(0, 600)}`,
  );
  const permanent = !delay && !/temporar/i.test(notice.slice(0, 600));
  const lines = notice.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // An address alone on its line (qmail and Yahoo: `<a@b>:`; Exim: indented `a@b`) starts a recipient.
    const m = /^\s{0,4}<?([^\s<>"]+@[^\s<>"]+?)>?:?\s*$/.exec(lines[i] as string);
    if (!m) continue;
    const detail: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j] as string;
      if (line.trim() === '' || /^\s{0,4}<?[^\s<>"]+@[^\s<>"]+?>?:?\s*$/.test(line)) break;
      detail.push(line.trim());
    }
    const diagnostic = detail.join(' ').trim() || null;
    const codes = codesOf(diagnostic);
    result.recipients.push(
      failure({
        kind: delay ? 'delay' : 'bounce',
        recipient: cleanAddress(m[1] as string),
        action: null,
        status: codes.status,
        replyCode: codes.replyCode,
        diagnostic,
        remoteMta: diagnostic?.match(/\bhost\s+([A-Za-z0-9.-]+\.[A-Za-z]{2,})/i)?.[1] ?? null,
        permanent,
      }),
    );
  }
  result.kind = result.recipients.length === 0 ? 'unknown' : delay ? 'delay' : 'bounce';
}

function failure(input: {
  kind: 'bounce' | 'delay';
  recipient: string | null;
  action: string | null;
  status: string | null;
  replyCode: number | null;
  diagnostic: string | null;
  remoteMta: string | null;
  permanent: boolean;
}): ReportedRecipient {
  const { reason, severity } = classifyFailure({
    status: input.status ?? undefined,
    replyCode: input.replyCode ?? undefined,
    diagnostic: input.diagnostic ?? undefined,
    permanent: input.permanent,
  });
  return {
    kind: input.kind,
    recipient: input.recipient,
    action: input.action,
    status: input.status,
    replyCode: input.replyCode,
    diagnostic: input.diagnostic,
    remoteMta: input.remoteMta,
    reason,
    // A delay is a warning: the server is still trying, so it never makes an address bad.
    severity: input.kind === 'delay' ? 'soft' : severity,
    feedbackType: null,
  };
}

/** `rfc822; a@b` -> `a@b`; `dns; mx.example.com` -> `mx.example.com`. */
function typeValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const semicolon = value.indexOf(';');
  const rest = (semicolon === -1 ? value : value.slice(semicolon + 1)).trim();
  return rest === '' ? undefined : rest;
}

function cleanAddress(value: string | undefined | null): string | null {
  if (!value) return null;
  return value.match(ADDRESS)?.[1] ?? (value.trim() || null);
}

function firstAddress(value: string | undefined): string | null {
  return value ? (value.match(ADDRESS)?.[1] ?? null) : null;
}

function looksLikeFailureNotice(root: MessagePart): boolean {
  const from = header(root, 'from') ?? '';
  const subject = header(root, 'subject') ?? '';
  const byFrom = /mailer-daemon|postmaster|mail delivery (subsystem|system)|mail administrator/i.test(from);
  const bySubject =
    /undeliver|delivery (status notification|failure|failed|has failed|problem)|failure notice|returned mail|mail delivery failed|could not be delivered|delayed mail|warning: message/i.test(
      subject,
    );
  const text = textBody(root).slice(0, 2000);
  const byText =
    /qmail-send program|unable to deliver your message|could not be delivered to one or more|has not yet been delivered|permanent error|following address(es)? failed/i.test(
      text,
    );
  return (byFrom || bySubject) && byText;
}

/** RFC 3834 auto-responses and the headers and subjects of common vacation responders. */
function isAutoReply(root: MessagePart): boolean {
  const auto = header(root, 'auto-submitted')?.toLowerCase();
  if (auto && !auto.startsWith('no')) return true;
  if (header(root, 'x-autoreply') || header(root, 'x-autorespond') || header(root, 'x-autoresponder'))
    return true;
  if (/^auto_?reply$/i.test(header(root, 'precedence') ?? '')) return true;
  const subject = header(root, 'subject') ?? '';
  return /^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|réponse automatique|respuesta automática|vacation|away from)/i.test(
    subject,
  );
}

function textBody(root: MessagePart): string {
  const texts: string[] = [];
  const visit = (part: MessagePart) => {
    // The quoted original is not part of the notice.
    if (part.contentType === 'message/rfc822' || part.contentType === 'text/rfc822-headers') return;
    if (part.children.length > 0) {
      for (const child of part.children) visit(child);
      return;
    }
    if (part.contentType === 'text/plain' || part.contentType === 'text/html')
      texts.push(part.contentType === 'text/html' ? part.body.replace(/<[^>]+>/g, ' ') : part.body);
  };
  visit(root);
  return texts.join('\n');
}

/** Headers of the message the report is about: an embedded message/rfc822 or text/rfc822-headers part. */
function originalHeaders(parts: MessagePart[], root: MessagePart): MessagePart | undefined {
  for (const part of parts) {
    if (part === root) continue;
    if (part.contentType === 'message/rfc822' || part.contentType === 'message/global')
      return part.children[0];
    if (part.contentType === 'text/rfc822-headers' || part.contentType === 'text/rfc822-header')
      return part.children[0];
  }
  return undefined;
}

function messageIdOf(part: MessagePart | undefined): string | null {
  const value = part ? header(part, 'message-id') : undefined;
  return value?.match(/<[^<>\s]+>/)?.[0] ?? null;
}

/** A Message-ID in the copy of the original that a plain-text notice quotes below its separator. */
function quotedMessageId(body: string): string | null {
  const separator = body.search(COPY_SEPARATOR);
  if (separator === -1) return null;
  return body.slice(separator).match(/^\s*message-id:\s*(<[^<>\s]+>)/im)?.[1] ?? null;
}

/** The VERP address: in the report's own recipient headers, else in the original's Return-Path. */
function verpAddress(root: MessagePart, original: MessagePart | undefined): string | null {
  const names = ['to', 'delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'return-path'];
  for (const name of names) {
    for (const field of root.headers.filter((h) => h.name === name)) {
      const found = field.value.match(VERP)?.[0];
      if (found) return found;
    }
  }
  const fromOriginal = original ? header(original, 'return-path')?.match(VERP)?.[0] : undefined;
  return fromOriginal ?? root.body.match(VERP)?.[0] ?? null;
}
