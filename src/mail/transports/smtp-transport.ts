import { createSmtpPool } from './smtp-pool.js';
import { type OutgoingMessage, type SendResult, type Transport, TransportError } from './transport.js';

export interface SmtpOptions {
  host: string;
  port: number;
  /**
   * implicit: TLS from the first byte (port 465). starttls: STARTTLS is
   * required, the connection fails if the server does not offer it (default).
   * none: plain text, only when explicitly configured (a local relay).
   */
  tls: 'implicit' | 'starttls' | 'none';
  user?: string | undefined;
  password?: string | undefined;
  maxConnections: number;
  /** Messages per connection before the pool opens a fresh one. */
  maxMessages: number;
  /** Only for test servers with self-signed certificates. */
  rejectUnauthorized?: boolean | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Error codes of failures before a message's transaction: network, TLS,
 * greeting, EHLO, login. Whatever the server replied there, it refused the
 * connection, not the recipient.
 */
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ETLS', 'EAUTH', 'EPROTOCOL']);

/** An SMTP connection pool that sends the already-built raw message with its own envelope. */
export function createSmtpTransport(options: SmtpOptions): Transport {
  const timeout = options.timeoutMs ?? 30_000;
  const pool = createSmtpPool({
    client: {
      host: options.host,
      port: options.port,
      tls: options.tls,
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      auth: options.user ? { user: options.user, pass: options.password ?? '' } : undefined,
      connectionTimeoutMs: timeout,
      greetingTimeoutMs: timeout,
      socketTimeoutMs: timeout,
    },
    maxConnections: options.maxConnections,
    maxMessages: options.maxMessages,
  });
  return {
    type: 'smtp',
    async send(message: OutgoingMessage): Promise<SendResult> {
      try {
        // Every recipient refused is an error; some refused (reported in info.rejected) is still a delivery.
        const info = await pool.send(message.envelope, message.raw);
        return { providerMessageId: queueId(info.response) ?? message.messageId };
      } catch (error) {
        throw classify(error);
      }
    },
    async close() {
      pool.close();
    },
  };
}

/** The queue id from a 250 reply such as "250 2.0.0 Ok: queued as 4Bq1x" or "250 OK id=1tZ...". */
function queueId(response: string | undefined): string | undefined {
  const match = response?.match(/queued as ([\w.@-]+)|id=([\w.@-]+)/i);
  return match?.[1] ?? match?.[2];
}

function classify(error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
  const reply = e.response ?? e.message ?? 'SMTP error';
  if (e.code && CONNECTION_CODES.has(e.code)) {
    return new TransportError('connection', reply, e.responseCode ?? e.code, error);
  }
  if (typeof e.responseCode === 'number') {
    if (e.responseCode >= 500) return new TransportError('permanent', reply, e.responseCode, error);
    if (e.responseCode >= 400) return new TransportError('temporary', reply, e.responseCode, error);
  }
  // Refused before sending (an invalid address, over the server's SIZE): sending it again cannot help.
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')
    return new TransportError('permanent', reply, e.code, error);
  // Anything unexplained (a dropped socket mid-message) is retried rather than blamed on the recipient.
  return new TransportError('connection', reply, e.code, error);
}
