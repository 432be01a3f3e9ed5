import { checkBaseUrl, classifyStatus, field, request } from './http-client.js';
import { messageParts } from './message-parts.js';
import { type OutgoingMessage, type SendResult, type Transport, TransportError } from './transport.js';

export interface PostmarkOptions {
  serverToken: string;
  /** "outbound" (transactional) unless a broadcast stream is named. */
  messageStream?: string | undefined;
  baseUrl?: string | undefined;
  timeoutMs?: number | undefined;
}

/** Postmark ErrorCodes about this message or recipient: retrying cannot help. */
const PERMANENT_CODES = new Set([300, 406, 402, 403, 409, 411]);
/** ErrorCodes about the token, sender signature or account: nothing can be sent until it is fixed. */
const ACCOUNT_CODES = new Set([10, 400, 401, 405, 412, 413]);

/**
 * Postmark's POST /email (X-Postmark-Server-Token). Like SendGrid it takes
 * JSON fields, not raw MIME, so the built message's parts and headers are
 * mapped into them.
 */
export function createPostmarkTransport(options: PostmarkOptions): Transport {
  const url = `${checkBaseUrl(options.baseUrl ?? 'https://api.postmarkapp.com')}/email`;
  return {
    type: 'postmark',
    async send(message: OutgoingMessage): Promise<SendResult> {
      const parts = await messageParts(message.raw);
      const body = JSON.stringify({
        From: parts.from.text,
        To: message.envelope.to.join(', '),
        Subject: parts.subject,
        ...(parts.html !== undefined ? { HtmlBody: parts.html } : {}),
        ...(parts.text !== undefined ? { TextBody: parts.text } : {}),
        ...(parts.replyTo ? { ReplyTo: parts.replyTo } : {}),
        Headers: parts.headers.map((h) => ({ Name: h.name, Value: h.value })),
        MessageStream: options.messageStream ?? 'outbound',
        ...(parts.attachments.length > 0
          ? {
              Attachments: parts.attachments.map((a) => ({
                Name: a.filename,
                Content: a.content.toString('base64'),
                ContentType: a.contentType,
                ...(a.contentId ? { ContentID: `cid:${a.contentId}` } : {}),
              })),
            }
          : {}),
      });
      const response = await request(
        url,
        {
          method: 'POST',
          headers: {
            accept: 'application/json',
            'content-type': 'application/json',
            'x-postmark-server-token': options.serverToken,
          },
          body,
        },
        options.timeoutMs ?? 30_000,
      );
      const errorCode = field(response.json, 'ErrorCode');
      const messageId = field(response.json, 'MessageID');
      if (response.status === 200 && errorCode === 0 && typeof messageId === 'string') {
        return { providerMessageId: messageId };
      }
      const text = String(field(response.json, 'Message') ?? response.text.slice(0, 500));
      let kind = classifyStatus(response.status);
      if (typeof errorCode === 'number') {
        if (errorCode === 429 || errorCode === 100) kind = 'temporary';
        else if (ACCOUNT_CODES.has(errorCode)) kind = 'connection';
        else if (PERMANENT_CODES.has(errorCode)) kind = 'permanent';
      }
      throw new TransportError(kind, text, typeof errorCode === 'number' ? errorCode : response.status);
    },
    async close() {},
  };
}
