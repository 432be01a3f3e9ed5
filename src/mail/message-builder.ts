import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { SecretKeyring } from '../lib/secret-keys.js';
import { createAddressToken, createReturnPathToken, createToken } from '../lib/signed-tokens.js';

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

export function buildMessage(input: MessageInput): Promise<BuiltMessage> {
  const messageId = `<${input.id}@${input.domain}>`;
  const headers: Record<string, { prepared: true; value: string }> = {};
  const marketing = input.marketing;
  if (marketing) {
    headers['List-Unsubscribe'] = prepared(
      `<${marketing.unsubscribeUrl}>, <mailto:${marketing.unsubscribeMailto}>`,
    );
    headers['List-Unsubscribe-Post'] = prepared('List-Unsubscribe=One-Click');
    if (marketing.list) headers['List-Id'] = prepared(listIdHeader(marketing.list, input.domain));
    headers['Feedback-ID'] = prepared(marketing.feedbackId);
  }
  const envelope = { from: input.returnPath, to: [input.to.email] };
  const composer = new MailComposer({
    from: toNodemailer(input.from),
    to: toNodemailer(input.to),
    ...(input.replyTo ? { replyTo: toNodemailer(input.replyTo) } : {}),
    subject: input.subject,
    // Bare LF would travel as CRLF over SMTP and break the DKIM body hash: send CRLF from the start.
    ...(input.text !== undefined ? { text: crlf(input.text) } : {}),
    ...(input.html !== undefined ? { html: crlf(input.html) } : {}),
    messageId,
    date: input.date,
    headers,
    envelope,
  });
  const node = composer.compile();
  return new Promise((resolve, reject) => {
    node.build((error, raw) => (error ? reject(error) : resolve({ raw, envelope, messageId })));
  });
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
  const name = list.name.replace(/[\\"\r\n]/g, '').slice(0, 100);
  const phrase = /^[\x20-\x7e]*$/.test(name) ? `"${name}"` : encodedWord(name);
  return `${phrase} <${list.id}.${list.workspaceId}.${domain}>`;
}

function encodedWord(text: string): string {
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

function prepared(value: string) {
  return { prepared: true as const, value };
}

function toNodemailer(address: Address) {
  return address.name ? { name: address.name, address: address.email } : address.email;
}

function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
