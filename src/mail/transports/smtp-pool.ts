import {
  connectSmtp,
  type SmtpClient,
  type SmtpClientOptions,
  type SmtpEnvelope,
  type SmtpError,
  type SmtpSent,
} from './smtp-client.js';

/**
 * A pool of SMTP connections that sends pre-built messages over Herald's own
 * client (smtp-client.ts). Each connection carries one message at a time;
 * messages wait in one queue and go to whichever connection is idle.
 */
export interface SmtpPoolOptions {
  client: SmtpClientOptions;
  maxConnections: number;
  /** Messages per connection before it is closed and a fresh one opened. */
  maxMessages: number;
  /** A connection idle this long is closed (servers drop idle clients anyway). */
  idleTimeoutMs?: number | undefined;
}

export type { SmtpEnvelope, SmtpSent } from './smtp-client.js';

interface Job {
  envelope: SmtpEnvelope;
  raw: Buffer;
  resolve(info: SmtpSent): void;
  reject(error: Error): void;
  /** Put back once already: a job moves to another connection at most once. */
  requeued: boolean;
}

interface PoolConnection {
  client: SmtpClient | undefined;
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
    conn.client?.close();
    const job = conn.job;
    conn.job = undefined;
    if (job) job.reject(error ?? connectionError('the SMTP connection closed while sending'));
    if (then === 'pump') pump();
  }

  /** Closes politely (QUIT) a connection that is not needed any more. */
  function retire(conn: PoolConnection): void {
    conn.state = 'closed';
    clearTimeout(conn.idleTimer);
    connections.delete(conn);
    conn.client?.quit();
  }

  function open(): void {
    const conn: PoolConnection = { client: undefined, state: 'connecting', messages: 0 };
    connections.add(conn);
    // A send or reset in flight learns about a failure from its own promise; this catches idle connections.
    const onClose = (error: SmtpError | undefined) => {
      if (conn.state === 'idle') closeConnection(conn, error);
    };
    connectSmtp(options.client, onClose).then(
      (client) => {
        conn.client = client;
        if (conn.state !== 'connecting') return client.quit();
        ready(conn);
      },
      (error: Error) => {
        if (conn.state === 'connecting') failOpening(conn, error);
      },
    );
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
      if (conn.state === 'idle') retire(conn);
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
    const client = conn.client as SmtpClient;
    clearTimeout(conn.idleTimer);
    conn.state = 'busy';
    conn.job = job;
    const reused = conn.messages > 0;
    client.send(job.envelope, job.raw).then(
      (info) => {
        if (conn.job !== job) return;
        conn.job = undefined;
        conn.messages++;
        job.resolve(info);
        release(conn);
      },
      (error: SmtpError) => {
        if (conn.job !== job) return;
        conn.job = undefined;
        conn.messages++;
        const reply = error.responseCode;
        // A server that dropped a connection it had kept idle: the message never left, try another connection once.
        if (reused && !job.requeued && !error.bodySent && TRANSIENT.has(error.code) && reply === undefined) {
          job.requeued = true;
          queue.unshift(job);
          closeConnection(conn);
          return;
        }
        job.reject(error);
        if ((error.code === 'EENVELOPE' || error.code === 'EMESSAGE') && reply !== 421 && !client.closed) {
          // The server refused this message; the session is fine once reset.
          conn.state = 'resetting';
          client.reset().then(
            () => {
              if (conn.state === 'resetting') release(conn);
            },
            (resetError: Error) => {
              if (conn.state === 'resetting') closeConnection(conn, resetError);
            },
          );
          return;
        }
        closeConnection(conn, error);
      },
    );
  }

  function release(conn: PoolConnection): void {
    if (conn.state === 'closed') return;
    if (conn.client?.closed) {
      closeConnection(conn);
      return;
    }
    if (conn.messages >= options.maxMessages) {
      retire(conn);
      pump();
      return;
    }
    conn.state = 'idle';
    pump();
    if (conn.state === 'idle') startIdleTimer(conn);
  }

  return {
    send(envelope: SmtpEnvelope, raw: Buffer): Promise<SmtpSent> {
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
        if (conn.state === 'idle') retire(conn);
        else closeConnection(conn);
      }
    },
  };
}

function connectionError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNECTION' });
}
