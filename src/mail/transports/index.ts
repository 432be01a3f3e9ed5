import { createFileTransport } from './file-transport.js';
import { createMailgunTransport, type MailgunOptions } from './mailgun-transport.js';
import { createPostmarkTransport, type PostmarkOptions } from './postmark-transport.js';
import { createSendGridTransport, type SendGridOptions } from './sendgrid-transport.js';
import { createSesTransport, type SesOptions } from './ses-transport.js';
import { createSmtpTransport, type SmtpOptions } from './smtp-transport.js';
import type { Transport } from './transport.js';

export { createFileTransport } from './file-transport.js';
export { createMailgunTransport, type MailgunOptions } from './mailgun-transport.js';
export { createPostmarkTransport, type PostmarkOptions } from './postmark-transport.js';
export {
  createRateLimiter,
  type RateLimiter,
  RateLimiterClosedError,
  type RateLimits,
  realTimers,
  type Timers,
} from './rate-limiter.js';
export { createSendGridTransport, type SendGridOptions } from './sendgrid-transport.js';
export { createSesTransport, type SesOptions } from './ses-transport.js';
export { createSmtpTransport, type SmtpOptions } from './smtp-transport.js';
export {
  isTransportError,
  type OutgoingMessage,
  type SendResult,
  TRANSPORT_TYPES,
  type Transport,
  TransportError,
  type TransportErrorKind,
  type TransportType,
} from './transport.js';

export type TransportSpec =
  | ({ type: 'smtp' } & SmtpOptions)
  | ({ type: 'ses' } & SesOptions)
  | ({ type: 'mailgun' } & MailgunOptions)
  | ({ type: 'sendgrid' } & SendGridOptions)
  | ({ type: 'postmark' } & PostmarkOptions)
  | { type: 'file'; folder: string };

export function createTransport(spec: TransportSpec): Transport {
  switch (spec.type) {
    case 'smtp':
      return createSmtpTransport(spec);
    case 'ses':
      return createSesTransport(spec);
    case 'mailgun':
      return createMailgunTransport(spec);
    case 'sendgrid':
      return createSendGridTransport(spec);
    case 'postmark':
      return createPostmarkTransport(spec);
    case 'file':
      return createFileTransport(spec);
  }
}
