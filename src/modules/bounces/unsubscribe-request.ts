import { parseHeaderBlock } from './raw-message.js';

/**
 * Mail to the `mailto:` of a List-Unsubscribe header (`u-<token>@<domain>`,
 * RFC 2369) is an unsubscribe request, not a bounce or a complaint: what it
 * says is who it was delivered to. Only the message's own header block is
 * read, never an embedded message's, so a bounce or an abuse report quoting
 * a Herald email (whose List-Unsubscribe names the address) is not one.
 *
 * Where the address is looked for, in this order: the envelope recipient as
 * the receiving MTA records it (Delivered-To: Postfix's pipe with flag D,
 * Dovecot's LDA; X-Original-To: Postfix's flag O; Envelope-To: Exim;
 * X-Envelope-To), then the visible To and Cc.
 */
const RECIPIENT_FIELDS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'to', 'cc'];

/** `u-` and a base32 token (Herald's are 58 characters), at the start of an address. */
const UNSUBSCRIBE_ADDRESS = /(?:^|[\s<,;:"'(])u-([a-z2-7]{20,80})@[a-z0-9.-]+/gi;

/** Header blocks are small; a message without an end of headers in this much is not mail. */
const MAX_HEADER_BYTES = 64 * 1024;

/** The tokens of the `u-<token>@` addresses a message was delivered to, lower case, without repeats. */
export function unsubscribeAddressTokens(raw: Buffer | string): string[] {
  const text = (typeof raw === 'string' ? raw : raw.subarray(0, MAX_HEADER_BYTES).toString('latin1')).replace(
    /\r\n?/g,
    '\n',
  );
  const end = text.indexOf('\n\n');
  const fields = parseHeaderBlock(end >= 0 ? text.slice(0, end) : text.slice(0, MAX_HEADER_BYTES));
  const tokens: string[] = [];
  for (const name of RECIPIENT_FIELDS) {
    for (const field of fields) {
      if (field.name !== name) continue;
      for (const match of field.value.matchAll(UNSUBSCRIBE_ADDRESS)) {
        const token = (match[1] as string).toLowerCase();
        if (!tokens.includes(token)) tokens.push(token);
      }
    }
  }
  return tokens;
}
