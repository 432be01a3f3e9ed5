import { checkBaseUrl, classifyStatus, field, request } from './http-client.js';
import { type OutgoingMessage, type SendResult, type Transport, TransportError } from './transport.js';

export interface MailgunOptions {
  domain: string;
  apiKey: string;
  /** https://api.mailgun.net (US, default) or https://api.eu.mailgun.net (EU). */
  baseUrl?: string | undefined;
  timeoutMs?: number | undefined;
}

/** Mailgun's MIME endpoint: POST /v3/<domain>/messages.mime, multipart `to` + `message`, Basic api:<key>. */
export function createMailgunTransport(options: MailgunOptions): Transport {
  const base = checkBaseUrl(options.baseUrl ?? 'https://api.mailgun.net');
  const url = `${base}/v3/${encodeURIComponent(options.domain)}/messages.mime`;
  const authorization = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;
  return {
    type: 'mailgun',
    async send(message: OutgoingMessage): Promise<SendResult> {
      const form = new FormData();
      for (const to of message.envelope.to) form.append('to', to);
      form.append('message', new Blob([message.raw], { type: 'message/rfc822' }), 'message.mime');
      const response = await request(
        url,
        { method: 'POST', headers: { authorization }, body: form },
        options.timeoutMs ?? 30_000,
      );
      const id = field(response.json, 'id');
      if (response.status === 200 && typeof id === 'string') return { providerMessageId: id };
      const text = String(field(response.json, 'message') ?? response.text.slice(0, 500));
      // 402: the account cannot send (payment); 404: the domain is not in this account.
      const kind =
        response.status === 402 || response.status === 404 ? 'connection' : classifyStatus(response.status);
      throw new TransportError(kind, text, response.status);
    },
    async close() {},
  };
}
