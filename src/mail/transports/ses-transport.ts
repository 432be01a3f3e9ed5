import { checkBaseUrl, classifyStatus, field, request } from './http-client.js';
import { amzDate, signV4 } from './sigv4.js';
import { type OutgoingMessage, type SendResult, type Transport, TransportError } from './transport.js';

export interface SesOptions {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Defaults to https://email.<region>.amazonaws.com. */
  endpoint?: string | undefined;
  configurationSetName?: string | undefined;
  timeoutMs?: number | undefined;
  now?: () => Date;
}

/** SES errors that mean the account or its setup is at fault, not this recipient. */
const ACCOUNT_ERRORS = new Set([
  'AccountSuspendedException',
  'SendingPausedException',
  'MailFromDomainNotVerifiedException',
  'NotFoundException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'AccessDeniedException',
  'ExpiredTokenException',
]);
const THROTTLING = new Set([
  'TooManyRequestsException',
  'Throttling',
  'ThrottlingException',
  'LimitExceededException',
]);

/** Amazon SES v2 SendEmail with the raw MIME message (Content.Raw.Data), signed with SigV4. */
export function createSesTransport(options: SesOptions): Transport {
  const endpoint = checkBaseUrl(options.endpoint ?? `https://email.${options.region}.amazonaws.com`);
  const url = new URL(`${endpoint}/v2/email/outbound-emails`);
  const now = options.now ?? (() => new Date());
  return {
    type: 'ses',
    async send(message: OutgoingMessage): Promise<SendResult> {
      const body = JSON.stringify({
        FromEmailAddress: message.envelope.from,
        Destination: { ToAddresses: message.envelope.to },
        Content: { Raw: { Data: message.raw.toString('base64') } },
        ...(options.configurationSetName ? { ConfigurationSetName: options.configurationSetName } : {}),
      });
      const date = amzDate(now());
      const headers = { 'content-type': 'application/json', host: url.host, 'x-amz-date': date };
      const { authorization } = signV4(
        { method: 'POST', path: url.pathname, headers, body },
        {
          accessKeyId: options.accessKeyId,
          secretAccessKey: options.secretAccessKey,
          region: options.region,
          service: 'ses',
        },
        date,
      );
      const response = await request(
        url.toString(),
        { method: 'POST', headers: { ...headers, authorization }, body },
        options.timeoutMs ?? 30_000,
      );
      const messageId = field(response.json, 'MessageId');
      if (response.status === 200 && typeof messageId === 'string') return { providerMessageId: messageId };
      throw sesError(response.status, response.headers, response.json, response.text);
    },
    async close() {},
  };
}

function sesError(status: number, headers: Headers, json: unknown, text: string): TransportError {
  // restJson errors name their type in x-amzn-ErrorType ("Type:namespace") or in the body.
  const rawType =
    headers.get('x-amzn-errortype') ?? String(field(json, '__type') ?? field(json, 'code') ?? '');
  const type = rawType.split(':')[0]?.split('#').pop() ?? '';
  const message = String(field(json, 'message') ?? field(json, 'Message') ?? text.slice(0, 500));
  let kind = classifyStatus(status);
  if (THROTTLING.has(type)) kind = 'temporary';
  else if (ACCOUNT_ERRORS.has(type)) kind = 'connection';
  else if (type === 'MessageRejected') kind = 'permanent';
  return new TransportError(kind, message, type || status);
}
