/**
 * The parts of a built message that JSON mail APIs (SendGrid, Postmark) take
 * as fields, because they have no raw-MIME endpoint. The provider rebuilds
 * and signs the message itself, so headers it owns are left out.
 */
export interface MessageParts {
  from: { address: string; name: string | undefined; text: string };
  replyTo: string | undefined;
  subject: string;
  text: string | undefined;
  html: string | undefined;
  /** Remaining headers in order, unfolded, values as they appear in the message. */
  headers: { name: string; value: string }[];
  attachments: { filename: string; contentType: string; content: Buffer; contentId: string | undefined }[];
}

/** Headers the message's own structure or the provider determine. */
const OWNED_BY_PROVIDER = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'return-path',
  'dkim-signature',
  'received',
  'sender',
]);

export async function messageParts(raw: Buffer): Promise<MessageParts> {
  // Loaded on first use (about 30 MB): only the SendGrid and Postmark transports need a parser.
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
  const from = parsed.from?.value[0];
  if (!from?.address) throw new Error('message has no From address');
  const replyTo = parsed.replyTo?.value[0]?.address;
  const headers = parsed.headerLines
    .filter((h) => !OWNED_BY_PROVIDER.has(h.key))
    .map((h) => {
      const colon = h.line.indexOf(':');
      return {
        name: h.line.slice(0, colon).trim(),
        value: h.line
          .slice(colon + 1)
          .replace(/\r?\n[ \t]+/g, ' ')
          .trim(),
      };
    });
  return {
    from: { address: from.address, name: from.name || undefined, text: parsed.from?.text ?? from.address },
    replyTo,
    subject: parsed.subject ?? '',
    text: parsed.text,
    html: typeof parsed.html === 'string' ? parsed.html : undefined,
    headers,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? 'attachment',
      contentType: a.contentType,
      content: a.content,
      contentId: a.cid,
    })),
  };
}
