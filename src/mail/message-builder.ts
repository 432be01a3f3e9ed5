import type { SecretKeyring } from '../lib/secret-keys.js';
import { createAddressToken, createReturnPathToken, createToken } from '../lib/signed-tokens.js';
import {
  encodedWords,
  formatAddress,
  headerSafe,
  mimePart,
  rfc5322Date,
  unstructuredHeader,
} from './mime.js';

/**
 * Builds RFC 5322 messages. Marketing messages carry one-click unsubscribe
 * (RFC 8058), List-Id (RFC 2919) and Feedback-ID; transactional messages carry
 * none of these. Every message gets a VERP return path carrying a signed
 * message token, so a bounce names the message it belongs to.
 */
export interface Address {
  name?: string | undefined;
  email: string;
}

export interface MarketingHeaders {
  /** `https://.../u/<token>`: the one-click POST target and the GET confirmation page. */
  unsubscribeUrl: string;
  unsubscribeMailto: string;
  list?: { id: string; name: string; workspaceId: string } | undefined;
  /** `campaign:list:workspace:sender`, ids only: mailbox providers show it in their reports. */
  feedbackId: string;
}

export interface MessageInput {
  /** UUID; also the Message-ID's local part, so a re-send after a crash keeps the same Message-ID. */
  id: string;
  /** The sending domain: Message-ID's right-hand side and the List-Id namespace. */
  domain: string;
  date: Date;
  from: Address;
  replyTo?: Address | undefined;
  to: Address;
  subject: string;
  html?: string | undefined;
  text?: string | undefined;
  /** Envelope sender (Return-Path), e.g. from `returnPathAddress`. */
  returnPath: string;
  marketing?: MarketingHeaders | undefined;
}

export interface BuiltMessage {
  raw: Buffer;
  envelope: { from: string; to: string[] };
  /** The Message-ID header value, with angle brackets. */
  messageId: string;
}

export function buildMessage(input: MessageInput): BuiltMessage {
  const messageId = `<${input.id}@${input.domain}>`;
  const envelope = { from: input.returnPath, to: [input.to.email] };
  let head =
    `From: ${formatAddress(input.from)}\r\n` +
    `To: ${formatAddress(input.to)}\r\n` +
    (input.replyTo ? `Reply-To: ${formatAddress(input.replyTo)}\r\n` : '') +
    `${unstructuredHeader('Subject', input.subject)}\r\n` +
    `Date: ${rfc5322Date(input.date)}\r\n` +
    `Message-ID: ${messageId}\r\n`;
  const marketing = input.marketing;
  if (marketing) {
    head +=
      `List-Unsubscribe: <${headerSafe(marketing.unsubscribeUrl)}>,\r\n <mailto:${headerSafe(marketing.unsubscribeMailto)}>\r\n` +
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n' +
      (marketing.list ? `List-ID: ${listIdHeader(marketing.list, input.domain)}\r\n` : '') +
      `Feedback-ID: ${headerSafe(marketing.feedbackId)}\r\n`;
  }
  head += 'MIME-Version: 1.0\r\n';

  // Bare LF would travel as CRLF over SMTP and break the DKIM body hash: CRLF from the start.
  const text = input.text === undefined ? undefined : crlf(input.text);
  const html = input.html === undefined ? undefined : crlf(input.html);
  let message: string;
  if (text !== undefined && html !== undefined) {
    // "=_" never occurs in quoted-printable or base64 content, so the boundary cannot collide with a part.
    const boundary = `=_herald_${input.id.replace(/-/g, '')}`;
    message =
      `${head}Content-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\n${mimePart('text/plain', text)}\r\n` +
      `--${boundary}\r\n${mimePart('text/html', html)}\r\n` +
      `--${boundary}--\r\n`;
  } else {
    message = `${head}${mimePart(html !== undefined ? 'text/html' : 'text/plain', html ?? text ?? '')}`;
  }
  // Everything above is ASCII: non-ASCII text was encoded.
  return { raw: Buffer.from(message, 'latin1'), envelope, messageId };
}

/** `b-<token>@<bounce domain>`: 60 characters of local part at most. */
export function returnPathAddress(keyring: SecretKeyring, messageId: string, bounceDomain: string): string {
  return `b-${createReturnPathToken(keyring, messageId)}@${bounceDomain}`;
}

export interface UnsubscribeLinkInput {
  publicUrl: string;
  domain: string;
  workspaceId: string;
  messageId: string;
  contactId: string;
  campaignId?: string | undefined;
  listId?: string | undefined;
}

/**
 * The two List-Unsubscribe targets. The URL token is self-contained (contact,
 * campaign, list); the mailto local part only has room for the message id
 * (`u-<token>`, since `unsubscribe+<token>` would pass the 64-character limit).
 */
export function unsubscribeLinks(keyring: SecretKeyring, input: UnsubscribeLinkInput) {
  const token = createToken(keyring, 'unsubscribe', {
    workspaceId: input.workspaceId,
    contactId: input.contactId,
    ...(input.campaignId ? { campaignId: input.campaignId } : {}),
    ...(input.listId ? { listId: input.listId } : {}),
  });
  return {
    url: `${input.publicUrl.replace(/\/+$/, '')}/u/${token}`,
    mailto: `u-${createAddressToken(keyring, 'unsubscribe', input.messageId)}@${input.domain}`,
  };
}

/** `campaign:list:workspace:sender`; absent parts are left empty. */
export function feedbackId(parts: {
  campaignId?: string | undefined;
  listId?: string | undefined;
  workspaceId: string;
  senderId: string;
}): string {
  return [parts.campaignId ?? '', parts.listId ?? '', parts.workspaceId, parts.senderId].join(':');
}

function listIdHeader(list: { id: string; name: string; workspaceId: string }, domain: string): string {
  // A quoted phrase: strip what would end it or break the line.
  const name = headerSafe(list.name.replace(/[\\"\r\n]/g, '')).slice(0, 100);
  const phrase = /^[\x20-\x7e]*$/.test(name) ? `"${name}"` : encodedWords(name).join(' ');
  return `${phrase} <${list.id}.${list.workspaceId}.${domain}>`;
}

function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
