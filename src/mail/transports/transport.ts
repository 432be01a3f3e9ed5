/**
 * What every transport offers the sending engine. Consumer-defined and kept
 * minimal: the engine hands over a finished message (built and signed
 * upstream) and learns either the provider's id for it or a classified error.
 */
export interface OutgoingMessage {
  /** The complete RFC 5322 message, headers and body, exactly as it should arrive. */
  raw: Buffer;
  /** SMTP envelope: MAIL FROM (the per-message Return-Path) and RCPT TO. */
  envelope: { from: string; to: string[] };
  /** The Message-ID header value; re-sends after a crash reuse it. */
  messageId: string;
}

export interface SendResult {
  /** The provider's id (SMTP queue id, SES MessageId, ...) for matching its events later. */
  providerMessageId: string;
}

export interface Transport {
  readonly type: TransportType;
  send(message: OutgoingMessage): Promise<SendResult>;
  /** Closes pooled connections; sends after close fail. */
  close(): Promise<void>;
}

export const TRANSPORT_TYPES = ['smtp', 'ses', 'mailgun', 'sendgrid', 'postmark', 'file'] as const;
export type TransportType = (typeof TRANSPORT_TYPES)[number];

/**
 * - permanent: the provider refused this message for good (SMTP 5xx, API
 *   "rejected"): the recipient failed hard.
 * - temporary: try again later (SMTP 4xx, throttling, provider 5xx): retry
 *   with backoff, then fail soft.
 * - connection: nothing was delivered because the transport itself is
 *   unusable right now (network, timeout, TLS, rejected credentials): retry
 *   without counting it against the recipient, never lose the message.
 */
export type TransportErrorKind = 'permanent' | 'temporary' | 'connection';

export class TransportError extends Error {
  readonly kind: TransportErrorKind;
  /** SMTP reply code, HTTP status or provider error code, when there is one. */
  readonly code: number | string | undefined;
  /**
   * The provider's own words. It can quote addresses, so it may go back to the
   * API caller who sent the message but must not be logged.
   */
  readonly providerMessage: string;

  constructor(kind: TransportErrorKind, providerMessage: string, code?: number | string, cause?: unknown) {
    super(`${kind} transport error${code === undefined ? '' : ` (${code})`}`, { cause });
    this.name = 'TransportError';
    this.kind = kind;
    this.code = code;
    this.providerMessage = providerMessage;
  }
}

export function isTransportError(error: unknown): error is TransportError {
  return error instanceof TransportError;
}
