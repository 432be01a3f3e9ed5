import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpTransport, type SmtpOptions, TransportError } from '../../src/mail/transports/index.js';
import { startRawSmtpServer } from '../helpers/raw-smtp-server.js';

const raw = Buffer.from(
  'From: Shop <news@shop.example>\r\nTo: ann@example.com\r\nSubject: Hello\r\nMessage-ID: <m1@shop.example>\r\n\r\nHi Ann\r\n',
);
const message = {
  raw,
  envelope: { from: 'bounce+m1@shop.example', to: ['ann@example.com'] },
  messageId: '<m1@shop.example>',
};

interface Received {
  session: string;
  from: string;
  to: string[];
  data: Buffer;
  secure: boolean;
  user: string | undefined;
}

let pems: { private: string; cert: string };
const servers: SMTPServer[] = [];
const rawServers: { close(): Promise<void> }[] = [];

async function startRaw(script: Parameters<typeof startRawSmtpServer>[0] = {}) {
  const server = await startRawSmtpServer(script);
  rawServers.push(server);
  return server;
}

const to = (address: string) => ({ ...message, envelope: { ...message.envelope, to: [address] } });

async function startServer(extra: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    key: pems.private,
    cert: pems.cert,
    authMethods: ['PLAIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === 'herald' && auth.password === 's3cret') return callback(null, { user: 'herald' });
      return callback(new Error('Invalid username or password'));
    },
    onMailFrom(address, _session, callback) {
      const code = address.address.startsWith('hard') ? 553 : address.address.startsWith('soft') ? 450 : 0;
      if (!code) return callback();
      return callback(Object.assign(new Error('Sender refused'), { responseCode: code }));
    },
    onRcptTo(address, _session, callback) {
      const code = address.address.startsWith('hard') ? 550 : address.address.startsWith('soft') ? 451 : 0;
      if (!code) return callback();
      const error = Object.assign(new Error(code === 550 ? 'No such user' : 'Try again later'), {
        responseCode: code,
      });
      return callback(error);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        // A recipient named body-hard@ or body-soft@ gets the message refused after its data.
        const refusal = session.envelope.rcptTo
          .map((r) => r.address.match(/^body-(hard|soft)@/)?.[1])
          .find(Boolean);
        if (refusal) {
          const code = refusal === 'hard' ? 554 : 452;
          return callback(Object.assign(new Error('Message refused'), { responseCode: code }));
        }
        received.push({
          session: session.id,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user as string | undefined,
        });
        callback(null, `Ok: queued as Q${received.length}` as unknown as undefined);
      });
    },
    logger: false,
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.server.address() as AddressInfo).port, received, server };
}

function options(port: number, extra: Partial<SmtpOptions> = {}): SmtpOptions {
  return {
    host: '127.0.0.1',
    port,
    tls: 'starttls',
    user: 'herald',
    password: 's3cret',
    maxConnections: 2,
    maxMessages: 100,
    rejectUnauthorized: false,
    timeoutMs: 5_000,
    ...extra,
  };
}

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

beforeAll(async () => {
  pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))));
  await Promise.all(rawServers.map((s) => s.close()));
});

describe('smtp transport', () => {
  it('sends the raw message with its envelope over STARTTLS with AUTH PLAIN', async () => {
    const { port, received } = await startServer();
    const transport = createSmtpTransport(options(port));
    const result = await transport.send(message);
    await transport.close();
    expect(result.providerMessageId).toBe('Q1');
    expect(received).toHaveLength(1);
    const got = received[0] as Received;
    expect(got.secure).toBe(true);
    expect(got.user).toBe('herald');
    expect(got.from).toBe('bounce+m1@shop.example');
    expect(got.to).toEqual(['ann@example.com']);
    expect(got.data.toString()).toBe(raw.toString());
  });

  it('classifies a 550 recipient as permanent and a 451 as temporary', async () => {
    const { port, received } = await startServer();
    const transport = createSmtpTransport(options(port));
    const hard = await failure(
      transport.send({ ...message, envelope: { ...message.envelope, to: ['hard@example.com'] } }),
    );
    expect(hard.kind).toBe('permanent');
    expect(hard.code).toBe(550);
    expect(hard.providerMessage).toContain('No such user');
    const soft = await failure(
      transport.send({ ...message, envelope: { ...message.envelope, to: ['soft@example.com'] } }),
    );
    expect(soft.kind).toBe('temporary');
    expect(soft.code).toBe(451);
    await transport.close();
    expect(received).toHaveLength(0);
  });

  it('refuses to send in plain text when STARTTLS is required but not offered', async () => {
    const { port, received } = await startServer({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
    const transport = createSmtpTransport(options(port));
    expect((await failure(transport.send(message))).kind).toBe('connection');
    await transport.close();
    expect(received).toHaveLength(0);

    const plain = createSmtpTransport(options(port, { tls: 'none' }));
    await plain.send(message);
    await plain.close();
    expect(received[0]?.secure).toBe(false);
  });

  it('reports rejected credentials and an unreachable server as connection errors', async () => {
    const { port } = await startServer();
    const wrong = createSmtpTransport(options(port, { password: 'nope' }));
    expect((await failure(wrong.send(message))).kind).toBe('connection');
    await wrong.close();

    const { port: deadPort, server } = await startServer();
    await new Promise((resolve) => server.close(() => resolve(undefined)));
    const down = createSmtpTransport(options(deadPort));
    const error = await failure(down.send(message));
    expect(error.kind).toBe('connection');
    await down.close();
  });

  it('keeps a connection after a refused recipient, and opens a fresh one after max_messages', async () => {
    const sessions = new Set<string>();
    const { port, received } = await startServer({
      onConnect(session, callback) {
        sessions.add(session.id);
        callback();
      },
    });
    const transport = createSmtpTransport(options(port, { maxConnections: 1, maxMessages: 3 }));
    const to = (address: string) => ({ ...message, envelope: { ...message.envelope, to: [address] } });
    await transport.send(to('a@example.com'));
    expect((await failure(transport.send(to('hard@example.com')))).kind).toBe('permanent');
    await transport.send(to('b@example.com'));
    // The refused recipient counted as the connection's second message; the fourth needs a new connection.
    await transport.send(to('c@example.com'));
    await transport.close();
    expect(received.map((r) => r.to[0])).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(sessions.size).toBe(2);
  });

  it('sends many messages at once over its connections, each exactly once', async () => {
    const { port, received } = await startServer();
    const transport = createSmtpTransport(options(port, { maxConnections: 3, maxMessages: 7 }));
    const addresses = Array.from({ length: 40 }, (_, i) => `r${i}@example.com`);
    await Promise.all(
      addresses.map((address) =>
        transport.send({ ...message, envelope: { ...message.envelope, to: [address] } }),
      ),
    );
    await transport.close();
    expect(received.map((r) => r.to[0]).sort()).toEqual([...addresses].sort());
  });

  it('re-sends over a new connection when the server dropped an idle one, losing nothing', async () => {
    const { port, received, server } = await startServer();
    const transport = createSmtpTransport(options(port, { maxConnections: 1 }));
    await transport.send(message);
    // The server closes every open session, as servers do with idle clients.
    for (const connection of (server as unknown as { connections: Set<{ close(): void }> }).connections)
      connection.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await transport.send({ ...message, envelope: { ...message.envelope, to: ['again@example.com'] } });
    await transport.close();
    expect(received.map((r) => r.to[0])).toEqual(['ann@example.com', 'again@example.com']);
  });

  it('fails every waiting message as a connection error when the server is down, without a reconnect loop', async () => {
    const { port, server } = await startServer();
    await new Promise((resolve) => server.close(() => resolve(undefined)));
    const transport = createSmtpTransport(options(port, { maxConnections: 2 }));
    const errors = await Promise.all(Array.from({ length: 10 }, () => failure(transport.send(message))));
    expect(errors.every((e) => e.kind === 'connection')).toBe(true);
    await transport.close();
  });

  it('classifies 4xx and 5xx on MAIL FROM, DATA and after the data as temporary and permanent', async () => {
    const { port, received } = await startServer();
    const transport = createSmtpTransport(options(port, { maxConnections: 1 }));
    const from = (address: string) => ({ ...message, envelope: { ...message.envelope, from: address } });
    const cases: [Promise<unknown>, string, number][] = [
      [transport.send(from('hard@shop.example')), 'permanent', 553],
      [transport.send(from('soft@shop.example')), 'temporary', 450],
      [transport.send(to('body-hard@example.com')), 'permanent', 554],
      [transport.send(to('body-soft@example.com')), 'temporary', 452],
    ];
    for (const [sending, kind, code] of cases) {
      const error = await failure(sending);
      expect([error.kind, error.code]).toEqual([kind, code]);
    }
    // Each refusal was reset, and the same connection still delivers.
    await transport.send(message);
    await transport.close();
    expect(received.map((r) => r.to)).toEqual([['ann@example.com']]);

    // smtp-server always answers DATA with 354 once a recipient is accepted; this one does not.
    for (const [reply, kind] of [
      [554, 'permanent'],
      [451, 'temporary'],
    ] as const) {
      const raw = await startRaw({ reply: (c) => (c === 'DATA' ? `${reply} 5.3.0 not now` : undefined) });
      const dataRefused = createSmtpTransport(options(raw.port, { tls: 'none', user: undefined }));
      const error = await failure(dataRefused.send(message));
      expect([error.kind, error.code]).toEqual([kind, reply]);
      await dataRefused.close();
    }
  });

  it('delivers to the accepted recipients when others are refused', async () => {
    const { port, received } = await startServer();
    const transport = createSmtpTransport(options(port));
    const result = await transport.send({
      ...message,
      envelope: { ...message.envelope, to: ['ann@example.com', 'hard@example.com'] },
    });
    await transport.close();
    expect(result.providerMessageId).toBe('Q1');
    expect(received.map((r) => r.to)).toEqual([['ann@example.com']]);
  });

  it("refuses a message over the server's SIZE limit as permanent without sending it", async () => {
    const { port, received } = await startServer({ size: 200 });
    const transport = createSmtpTransport(options(port));
    const error = await failure(
      transport.send({ ...message, raw: Buffer.concat([raw, Buffer.alloc(300, 'x')]) }),
    );
    expect([error.kind, error.code]).toEqual(['permanent', 'EMESSAGE']);
    await transport.send(message);
    await transport.close();
    expect(received).toHaveLength(1);
  });

  it('treats a 421 or 554 greeting, a greeting that never comes and a refused TLS certificate as connection errors', async () => {
    for (const greeting of ['421 4.3.2 too busy', '554 5.3.2 no service for you']) {
      const raw = await startRaw({ greeting });
      const transport = createSmtpTransport(options(raw.port, { tls: 'none', user: undefined }));
      const error = await failure(transport.send(message));
      expect(error.kind).toBe('connection');
      await transport.close();
    }
    const silent = await startRaw({ greeting: null });
    const waiting = createSmtpTransport(options(silent.port, { timeoutMs: 200 }));
    const timeout = await failure(waiting.send(message));
    expect([timeout.kind, timeout.code]).toEqual(['connection', 'ETIMEDOUT']);
    await waiting.close();

    const { port } = await startServer();
    const verifying = createSmtpTransport(options(port, { rejectUnauthorized: true }));
    const tls = await failure(verifying.send(message));
    expect([tls.kind, tls.code]).toEqual(['connection', 'ETLS']);
    await verifying.close();
  });

  it('sends over implicit TLS with AUTH LOGIN', async () => {
    const { port, received } = await startServer({ secure: true, authMethods: ['LOGIN'] });
    const transport = createSmtpTransport(options(port, { tls: 'implicit' }));
    await transport.send(message);
    await transport.close();
    expect(received[0]?.secure).toBe(true);
    expect(received[0]?.user).toBe('herald');
  });

  it('reports a server hanging up during the data as a connection error and does not send the message again', async () => {
    // The second message of every session is cut off during its data.
    const raw = await startRaw({ closeDuringData: (session) => session.messages.length === 1 });
    const transport = createSmtpTransport(
      options(raw.port, { tls: 'none', user: undefined, maxConnections: 1 }),
    );
    await transport.send(to('first@example.com'));
    const error = await failure(transport.send(to('cut@example.com')));
    expect([error.kind, error.code]).toEqual(['connection', 'ECONNECTION']);
    await transport.send(to('third@example.com'));
    await transport.close();
    // The cut message started once: it was not moved to another connection, where it might have arrived twice.
    expect(raw.sessions.map((s) => s.dataStarted)).toEqual([2, 1]);
    expect(raw.sessions.flatMap((s) => s.commands.filter((c) => c.startsWith('RCPT')))).toEqual([
      'RCPT TO:<first@example.com>',
      'RCPT TO:<cut@example.com>',
      'RCPT TO:<third@example.com>',
    ]);
  });

  it('closes the connection after a 421 in a transaction (temporary) and carries on over a new one', async () => {
    let refused = 0;
    const raw = await startRaw({
      reply: (c) => (c.startsWith('RCPT') && refused++ === 0 ? '421 4.4.5 try later' : undefined),
    });
    const transport = createSmtpTransport(
      options(raw.port, { tls: 'none', user: undefined, maxConnections: 1 }),
    );
    const error = await failure(transport.send(message));
    expect([error.kind, error.code]).toEqual(['temporary', 421]);
    await transport.send(message);
    await transport.close();
    expect(raw.sessions.map((s) => s.messages.length)).toEqual([0, 1]);
  });

  it('never puts more than max_messages on one connection while sending many at once', async () => {
    const { port, received } = await startServer();
    const transport = createSmtpTransport(options(port, { maxConnections: 3, maxMessages: 4 }));
    const addresses = Array.from({ length: 30 }, (_, i) => `m${i}@example.com`);
    await Promise.all(addresses.map((address) => transport.send(to(address))));
    await transport.close();
    expect(received.map((r) => r.to[0]).sort()).toEqual([...addresses].sort());
    const perSession = new Map<string, number>();
    for (const r of received) perSession.set(r.session, (perSession.get(r.session) ?? 0) + 1);
    expect(Math.max(...perSession.values())).toBeLessThanOrEqual(4);
    expect(perSession.size).toBeGreaterThanOrEqual(8);
  });
});
