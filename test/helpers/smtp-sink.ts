import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CapturedMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface SmtpSink {
  host: string;
  port: number;
  messages: CapturedMessage[];
  /** Recipients (RCPT TO) refused with this reply, e.g. '550 5.1.1 no such user'. */
  reject: Map<string, { code: number; message: string }>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 that keeps every message it accepts. No TLS
 * and no authentication: tests that need those configure their own server.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: CapturedMessage[] = [];
  const reject = new Map<string, { code: number; message: string }>();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 50 * 1024 * 1024,
    onRcptTo(address, _session, callback) {
      const refusal = reject.get(address.address.toLowerCase());
      if (!refusal) return callback();
      const error = new Error(refusal.message) as Error & { responseCode: number };
      error.responseCode = refusal.code;
      return callback(error);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  // A client that dies mid-session (tests kill workers) resets its connection; a real server shrugs that off.
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET') throw error;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    messages,
    reject,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
