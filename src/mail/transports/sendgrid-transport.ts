import { checkBaseUrl, classifyStatus, field, request } from './http-client.js';
import { messageParts } from './message-parts.js';
import { type OutgoingMessage, type SendResult, type Transport, TransportError } from './transport.js';

export interface SendGridOptions {
  apiKey: string;
  baseUrl?: string | undefined;
  timeoutMs?: number | undefined;
}

/** Headers SendGrid refuses in `headers` beyond those the parts already carry. */
const RESERVED = new Set(['x-sg-id', 'x-sg-eid']);

/**
 * SendGrid v3 Mail Send (POST /v3/mail/send, Bearer key). It has no raw-MIME
 * endpoint, so the built message is mapped into its JSON: envelope
 * recipients as personalizations, parts as content (text/plain first, as it
 * requires), the remaining headers (List-Unsubscribe, Message-ID, ...) as
 * headers. SendGrid signs with its own DKIM.
 */
export function createSendGridTransport(options: SendGridOptions): Transport {
  const url = `${checkBaseUrl(options.baseUrl ?? 'https://api.sendgrid.com')}/v3/mail/send`;
  return {
    type: 'sendgrid',
    async send(message: OutgoingMessage): Promise<SendResult> {
      const parts = await messageParts(message.raw);
      const content = [
        ...(parts.text !== undefined ? [{ type: 'text/plain', value: parts.text }] : []),
        ...(parts.html !== undefined ? [{ type: 'text/html', value: parts.html }] : []),
      ];
      const headers = Object.fromEntries(
        parts.headers.filter((h) => !RESERVED.has(h.name.toLowerCase())).map((h) => [h.name, h.value]),
      );
      const body = JSON.stringify({
        personalizations: [{ to: message.envelope.to.map((email) => ({ email })) }],
        from: { email: parts.from.address, ...(parts.from.name ? { name: parts.from.name } : {}) },
        ...(parts.replyTo ? { reply_to: { email: parts.replyTo } } : {}),
        subject: parts.subject,
        content,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(parts.attachments.length > 0
          ? {
              attachments: parts.attachments.map((a) => ({
                content: a.content.toString('base64'),
                filename: a.filename,
                type: a.contentType,
                disposition: a.contentId ? 'inline' : 'attachment',
                ...(a.contentId ? { content_id: a.contentId } : {}),
              })),
            }
          : {}),
      });
      const response = await request(
        url,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
          body,
        },
        options.timeoutMs ?? 30_000,
      );
      if (response.status === 202 || response.status === 200) {
        return { providerMessageId: response.headers.get('x-message-id') ?? message.messageId };
      }
      const errors = field(response.json, 'errors');
      const first = Array.isArray(errors) ? errors[0] : undefined;
      const text = String(field(first, 'message') ?? response.text.slice(0, 500));
      throw new TransportError(classifyStatus(response.status), text, response.status);
    },
    async close() {},
  };
}
