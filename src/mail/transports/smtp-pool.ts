import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

/**
 * A pool of SMTP connections that sends pre-built messages. nodemailer's
 * SMTPConnection speaks the protocol (greeting, EHLO, STARTTLS, AUTH, dot
 * stuffing, timeouts); the pool around it is Herald's own because
 * nodemailer's Mailer re-parses every raw message into a MIME tree and
 * streams it through several transforms, which cost about four times the CPU
 * of the SMTP conversation itself, per message.
 */
export interface SmtpPoolOptions {
  connection: SMTPConnection.Options;
  auth?: { user: string; pass: string } | undefined;
  maxConnections: number;
  /** Messages per connection before it is closed and a fresh one opened. */
  maxMessages: number;
  /** A connection idle this long is closed (servers drop idle clients anyway). */
  idleTimeoutMs?: number | undefined;
}

export interface SmtpEnvelope {
  from: string;
  to: string[];
}

interface Job {
  envelope: SmtpEnvelope;
  raw: Buffer;
  resolve(info: SMTPConnection.SentMessageInfo): void;
  reject(error: Error): void;
  /** Put back once already: a job moves to another connection at most once. */
  requeued: boolean;
}

interface PoolConnection {
  smtp: SMTPConnection;
  state: 'connecting' | 'idle' | 'busy' | 'resetting' | 'closed';
  messages: number;
  job?: Job | undefined;
  idleTimer?: NodeJS.Timeout | undefined;
}

/** Errors that mean the connection, not the message, failed. */
const TRANSIENT = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EPROTOCOL']);

export function createSmtpPool(options: SmtpPoolOptions) {
  const queue: Job[] = [];
  const connections = new Set<PoolConnection>();
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  let closed = false;

  function closeConnection(conn: PoolConnection, error?: Error, then: 'pump' | 'wait' = 'pump'): void {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    clearTimeout(conn.idleTimer);
    connections.delete(conn);
    conn.smtp.close();
    const job = conn.job;
    conn.job = undefined;
    if (job) job.reject(error ?? connectionError('the SMTP connection closed while sending'));
    if (then === 'pump') pump();
  }

  function open(): void {
    const smtp = new SMTPConnection(options.connection);
    const conn: PoolConnection = { smtp, state: 'connecting', messages: 0 };
    connections.add(conn);
    // A send in progress learns about failures through its callback; these catch the rest.
    smtp.on('error', (error: Error) => {
      if (conn.state === 'connecting') failOpening(conn, error);
      else if (conn.state !== 'busy') closeConnection(conn, error);
    });
    smtp.once('end', () => closeConnection(conn));
    smtp.connect((error) => {
      if (conn.state !== 'connecting') return;
      if (error) return failOpening(conn, error);
      if (!options.auth) return ready(conn);
      smtp.login(options.auth, (loginError) => {
        if (conn.state !== 'connecting') return;
        if (loginError) return failOpening(conn, loginError);
        ready(conn);
      });
    });
  }

  /**
   * A connection that could not be opened fails the waiting messages unless
   * an established connection is left to carry them (the server is down or
   * refuses us: the sender retries them later). No replacement is opened
   * here, so a dead server cannot cause a reconnect loop; the next send tries
   * again.
   */
  function failOpening(conn: PoolConnection, error: Error): void {
    closeConnection(conn, error, 'wait');
    const established = [...connections].some((c) => c.state !== 'connecting');
    if (!established) for (const job of queue.splice(0)) job.reject(error);
  }

  function ready(conn: PoolConnection): void {
    conn.state = 'idle';
    pump();
    if (conn.state === 'idle') startIdleTimer(conn);
  }

  function startIdleTimer(conn: PoolConnection): void {
    clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.state !== 'idle') return;
      conn.state = 'closed';
      connections.delete(conn);
      conn.smtp.quit();
    }, idleTimeoutMs);
    conn.idleTimer.unref();
  }

  function pump(): void {
    if (closed) return;
    for (const conn of connections) {
      if (queue.length === 0) return;
      if (conn.state === 'idle') run(conn, queue.shift() as Job);
    }
    let opening = 0;
    for (const conn of connections) if (conn.state === 'connecting') opening++;
    while (queue.length > opening && connections.size < options.maxConnections) {
      open();
      opening++;
    }
  }

  function run(conn: PoolConnection, job: Job): void {
    clearTimeout(conn.idleTimer);
    conn.state = 'busy';
    conn.job = job;
    const reused = conn.messages > 0;
    conn.smtp.send(job.envelope, job.raw, (error, info) => {
      if (conn.job !== job) return;
      conn.job = undefined;
      conn.messages++;
      if (!error) {
        job.resolve(info);
        return release(conn);
      }
      const code = (error as { code?: string }).code ?? '';
      const reply = (error as { responseCode?: number }).responseCode;
      // A server that dropped a connection it had kept idle: the message never left, try another connection once.
      if (reused && !job.requeued && TRANSIENT.has(code) && reply === undefined) {
        job.requeued = true;
        queue.unshift(job);
        return closeConnection(conn);
      }
      job.reject(error);
      if ((code === 'EENVELOPE' || code === 'EMESSAGE') && reply !== 421) {
        // The server refused this message; the session is fine once reset.
        conn.state = 'resetting';
        conn.smtp.reset((resetError) => {
          if (conn.state !== 'resetting') return;
          if (resetError) return closeConnection(conn, resetError);
          release(conn);
        });
        return;
      }
      closeConnection(conn, error);
    });
  }

  function release(conn: PoolConnection): void {
    if (conn.state === 'closed') return;
    if (conn.messages >= options.maxMessages) {
      conn.state = 'closed';
      connections.delete(conn);
      conn.smtp.quit();
      pump();
      return;
    }
    conn.state = 'idle';
    pump();
    if (conn.state === 'idle') startIdleTimer(conn);
  }

  return {
    send(envelope: SmtpEnvelope, raw: Buffer): Promise<SMTPConnection.SentMessageInfo> {
      if (closed) return Promise.reject(connectionError('the SMTP pool is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ envelope, raw, resolve, reject, requeued: false });
        pump();
      });
    },

    /** Closes every connection; messages still waiting fail as connection errors (they are retried later). */
    close(): void {
      closed = true;
      for (const job of queue.splice(0)) job.reject(connectionError('the SMTP pool is closed'));
      for (const conn of [...connections]) {
        if (conn.state === 'idle') {
          conn.state = 'closed';
          clearTimeout(conn.idleTimer);
          connections.delete(conn);
          conn.smtp.quit();
        } else {
          closeConnection(conn);
        }
      }
    },
  };
}

function connectionError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNECTION' });
}
