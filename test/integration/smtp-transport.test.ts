import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpTransport, type SmtpOptions, TransportError } from '../../src/mail/transports/index.js';

const raw = Buffer.from(
  'From: Shop <news@shop.example>\r\nTo: ann@example.com\r\nSubject: Hello\r\nMessage-ID: <m1@shop.example>\r\n\r\nHi Ann\r\n',
);
const message = {
  raw,
  envelope: { from: 'bounce+m1@shop.example', to: ['ann@example.com'] },
  messageId: '<m1@shop.example>',
};

interface Received {
  from: string;
  to: string[];
  data: Buffer;
  secure: boolean;
  user: string | undefined;
}

let pems: { private: string; cert: string };
const servers: SMTPServer[] = [];

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
        received.push({
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
});
