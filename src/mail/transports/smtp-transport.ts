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

/** Error codes nodemailer gives when it never got to deliver: network, TLS, greeting, login. */
const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EAUTH',
  'EPROTOCOL',
]);

/** An SMTP connection pool that sends the already-built raw message with its own envelope. */
export function createSmtpTransport(options: SmtpOptions): Transport {
  const timeout = options.timeoutMs ?? 30_000;
  const pool = createSmtpPool({
    connection: {
      host: options.host,
      port: options.port,
      secure: options.tls === 'implicit',
      requireTLS: options.tls === 'starttls',
      ignoreTLS: options.tls === 'none',
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      tls: { rejectUnauthorized: options.rejectUnauthorized ?? true },
      logger: false,
      debug: false,
    },
    auth: options.user ? { user: options.user, pass: options.password ?? '' } : undefined,
    maxConnections: options.maxConnections,
    maxMessages: options.maxMessages,
  });
  return {
    type: 'smtp',
    async send(message: OutgoingMessage): Promise<SendResult> {
      try {
        const info = await pool.send(message.envelope, message.raw);
        if (info.rejected.length > 0 && info.accepted.length === 0) {
          throw new TransportError('permanent', 'every recipient was rejected', 'EENVELOPE');
        }
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
  if (
    e.code === 'EAUTH' ||
    e.code === 'ETLS' ||
    (e.code && CONNECTION_CODES.has(e.code) && !e.responseCode)
  ) {
    return new TransportError('connection', reply, e.responseCode ?? e.code, error);
  }
  if (typeof e.responseCode === 'number') {
    if (e.responseCode >= 500) return new TransportError('permanent', reply, e.responseCode, error);
    if (e.responseCode >= 400) return new TransportError('temporary', reply, e.responseCode, error);
  }
  // Anything unexplained (a dropped socket mid-message) is retried rather than blamed on the recipient.
  return new TransportError('connection', reply, e.code, error);
}
