import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectSmtp,
  type SmtpClient,
  type SmtpClientOptions,
  SmtpError,
} from '../../src/mail/transports/smtp-client.js';
import { type RawScript, startRawSmtpServer } from '../helpers/raw-smtp-server.js';

/**
 * Herald's SMTP client against real servers on 127.0.0.1: smtp-server (which
 * un-stuffs and keeps exactly what arrived) and, for what a well-behaved
 * server never does, the scripted raw server.
 */

interface Received {
  session: string;
  from: string;
  to: string[];
  data: Buffer;
  secure: boolean;
  user: string | undefined;
  bodyType: string | undefined;
  smtpUtf8: boolean;
}

let pems: { private: string; cert: string };
const closers: (() => Promise<unknown>)[] = [];

async function startServer(extra: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const mailCommands: Record<string, unknown>[] = [];
  const server = new SMTPServer({
    key: pems.private,
    cert: pems.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === 'herald' && auth.password === 's3cret') return callback(null, { user: 'herald' });
      return callback(new Error('Invalid username or password'));
    },
    onMailFrom(address, _session, callback) {
      mailCommands.push(address.args as Record<string, unknown>);
      callback();
    },
    onRcptTo(address, _session, callback) {
      const code = address.address.startsWith('hard') ? 550 : address.address.startsWith('soft') ? 451 : 0;
      if (!code) return callback();
      return callback(
        Object.assign(new Error(code === 550 ? 'No such user' : 'Try later'), { responseCode: code }),
      );
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const envelope = session.envelope as typeof session.envelope & {
          bodyType?: string;
          smtpUtf8?: boolean;
        };
        received.push({
          session: session.id,
          from: envelope.mailFrom ? envelope.mailFrom.address : '',
          to: envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user as string | undefined,
          bodyType: envelope.bodyType,
          smtpUtf8: envelope.smtpUtf8 === true,
        });
        callback(null, `Ok: queued as Q${received.length}` as unknown as undefined);
      });
    },
    logger: false,
    ...extra,
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve(undefined))));
  return { port: (server.server.address() as AddressInfo).port, received, mailCommands };
}

async function startRaw(script: RawScript = {}) {
  const raw = await startRawSmtpServer(script);
  closers.push(raw.close);
  return raw;
}

function options(port: number, extra: Partial<SmtpClientOptions> = {}): SmtpClientOptions {
  return {
    host: '127.0.0.1',
    port,
    tls: 'none',
    connectionTimeoutMs: 5_000,
    greetingTimeoutMs: 5_000,
    socketTimeoutMs: 5_000,
    ...extra,
  };
}

const clients: SmtpClient[] = [];
async function connect(port: number, extra: Partial<SmtpClientOptions> = {}) {
  const client = await connectSmtp(options(port, extra));
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SmtpError);
  return error as SmtpError;
}

const envelope = { from: 'bounce@shop.example', to: ['ann@example.com'] };
const message = Buffer.from(
  'From: news@shop.example\r\nTo: ann@example.com\r\nSubject: Hi\r\n\r\nHello Ann\r\n',
);

/** What the server must keep of `raw`: line breaks as CRLF, and one at the end. */
function asReceived(raw: Buffer): Buffer {
  const text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  return Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'latin1');
}

beforeAll(async () => {
  pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
});
afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(closers.map((close) => close()));
});

describe('smtp client: delivery', () => {
  for (const pipelining of [true, false]) {
    it(`delivers every body byte for byte ${pipelining ? 'with' : 'without'} PIPELINING`, async () => {
      const { port, received } = await startServer({
        disabledCommands: ['STARTTLS', 'AUTH'],
        hidePIPELINING: !pipelining,
      });
      const client = await connect(port);
      expect(client.extensions.pipelining).toBe(pipelining);
      const bodies = [
        message,
        Buffer.from(
          'Subject: dots\r\n\r\n.a line starting with a dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n',
        ),
        Buffer.from('Subject: bare LF\n\nline one\nline two\n.\nend\n'),
        Buffer.from('Subject: bare CR\r\rline one\r.dot\rend\r'),
        Buffer.from('Subject: mixed\r\n\r\na\nb\rc\r\n.\n.\r.'),
        Buffer.from('Subject: no final line break\r\n\r\nthe end'),
        Buffer.from(
          'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, Zoë! 你好\r\n',
        ),
      ];
      for (const body of bodies) {
        const sent = await client.send(envelope, body);
        expect(sent.accepted).toEqual(['ann@example.com']);
        expect(sent.rejected).toEqual([]);
        expect(sent.response).toMatch(/^250 Ok: queued as Q\d+$/);
      }
      expect(received.map((r) => r.data.toString('latin1'))).toEqual(
        bodies.map((b) => asReceived(b).toString('latin1')),
      );
      // One session carried them all, and only the 8-bit body asked for BODY=8BITMIME.
      expect(new Set(received.map((r) => r.session)).size).toBe(1);
      expect(received.map((r) => r.bodyType)).toEqual([...Array(6).fill('7bit'), '8bitmime']);
      client.quit();
    });
  }

  it('delivers a 10 MB message intact', async () => {
    const { port, received } = await startServer({ disabledCommands: ['STARTTLS', 'AUTH'] });
    const client = await connect(port);
    const line = (i: number) => `${i % 7 === 0 ? '.' : ''}line ${i} ${'x'.repeat(60)}\r\n`;
    const parts = ['Subject: big\r\n\r\n'];
    for (let i = 0, size = 0; size < 10 * 1024 * 1024; i++) {
      parts.push(line(i));
      size += line(i).length;
    }
    const big = Buffer.from(parts.join(''));
    await client.send(envelope, big);
    expect(received[0]?.data.equals(big)).toBe(true);
  });

  it('writes MAIL FROM, every RCPT TO and DATA at once with PIPELINING, one at a time without', async () => {
    const withPipelining = await startRaw({ extensions: ['PIPELINING', 'SIZE 0'] });
    const to = ['a@example.com', 'b@example.com'];
    await (await connect(withPipelining.port)).send({ from: 'bounce@shop.example', to }, message);
    const session = withPipelining.sessions[0];
    expect(session?.reads).toContainEqual([
      `MAIL FROM:<bounce@shop.example> SIZE=${message.length}`,
      'RCPT TO:<a@example.com>',
      'RCPT TO:<b@example.com>',
      'DATA',
    ]);
    expect(session?.messages[0]?.equals(message)).toBe(true);

    const without = await startRaw({ extensions: ['8BITMIME'] });
    await (await connect(without.port)).send({ from: 'bounce@shop.example', to }, message);
    const commands = without.sessions[0]?.reads.filter((read) => read.length > 0);
    expect(commands?.every((read) => read.length === 1)).toBe(true);
    expect(without.sessions[0]?.commands.slice(1, 5)).toEqual([
      'MAIL FROM:<bounce@shop.example>',
      'RCPT TO:<a@example.com>',
      'RCPT TO:<b@example.com>',
      'DATA',
    ]);
  });

  it('says HELO to a server that refuses EHLO, unless STARTTLS is required', async () => {
    const raw = await startRaw({
      reply: (command) => (command.startsWith('EHLO') ? '502 5.5.2 no EHLO here' : undefined),
    });
    const client = await connect(raw.port);
    await client.send(envelope, message);
    expect(raw.sessions[0]?.commands[1]).toMatch(/^HELO /);
    expect(raw.sessions[0]?.messages).toHaveLength(1);

    const error = await failure(connect(raw.port, { tls: 'starttls' }));
    expect(error.code).toBe('ETLS');
    expect(error.responseCode).toBe(502);
  });

  it('sends SMTPUTF8 for an international address, and refuses one to a server without it', async () => {
    const { port, received } = await startServer({ disabledCommands: ['STARTTLS', 'AUTH'] });
    const client = await connect(port);
    await client.send({ from: 'bounce@shop.example', to: ['zoë@exämple.com'] }, message);
    expect(received[0]?.smtpUtf8).toBe(true);
    expect(received[0]?.to).toEqual(['zoë@exämple.com']);

    const plain = await startServer({ disabledCommands: ['STARTTLS', 'AUTH'], hideSMTPUTF8: true });
    const old = await connect(plain.port);
    const error = await failure(old.send({ from: 'bounce@shop.example', to: ['zoë@exämple.com'] }, message));
    expect(error.code).toBe('EENVELOPE');
    expect(plain.mailCommands).toHaveLength(0);
  });

  it('refuses a message over the server SIZE limit before sending it, and sends SIZE= otherwise', async () => {
    const { port, received, mailCommands } = await startServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      size: 1000,
    });
    const client = await connect(port);
    expect(client.extensions.size).toBe(1000);
    const error = await failure(client.send(envelope, Buffer.alloc(2000, 'a')));
    expect(error.code).toBe('EMESSAGE');
    expect(error.message).toContain('1000');
    expect(mailCommands).toHaveLength(0);
    await client.send(envelope, message);
    expect(mailCommands).toEqual([{ SIZE: String(message.length) }]);
    expect(received).toHaveLength(1);
  });
});

describe('smtp client: TLS and login', () => {
  it('upgrades with STARTTLS to a self-signed certificate when told not to verify it, and refuses it otherwise', async () => {
    const { port, received } = await startServer({ authOptional: true });
    const client = await connect(port, { tls: 'starttls', rejectUnauthorized: false });
    await client.send(envelope, message);
    expect(received[0]?.secure).toBe(true);

    const error = await failure(connect(port, { tls: 'starttls', rejectUnauthorized: true }));
    expect(error.code).toBe('ETLS');
    expect(error.message).toMatch(/self[- ]signed/i);
  });

  it('fails clearly when STARTTLS is required but not offered', async () => {
    const { port, mailCommands } = await startServer({ disabledCommands: ['STARTTLS'], authOptional: true });
    const error = await failure(connect(port, { tls: 'starttls' }));
    expect(error.code).toBe('ETLS');
    expect(error.message).toContain('does not offer STARTTLS');
    expect(mailCommands).toHaveLength(0);
  });

  it('speaks TLS from the first byte (implicit TLS, port 465 style)', async () => {
    const { port, received } = await startServer({ secure: true, authOptional: true });
    const client = await connect(port, { tls: 'implicit', rejectUnauthorized: false });
    expect(client.extensions.startTls).toBe(false);
    await client.send(envelope, message);
    expect(received[0]?.secure).toBe(true);
  });

  for (const mechanism of ['PLAIN', 'LOGIN']) {
    it(`logs in with AUTH ${mechanism}; a refused login names the server's reply, never the password`, async () => {
      const { port, received } = await startServer({ authMethods: [mechanism] });
      const tls = { tls: 'starttls' as const, rejectUnauthorized: false };
      const client = await connect(port, { ...tls, auth: { user: 'herald', pass: 's3cret' } });
      await client.send(envelope, message);
      expect(received[0]?.user).toBe('herald');

      const error = await failure(
        connect(port, { ...tls, auth: { user: 'herald', pass: 'wrong-password' } }),
      );
      expect(error.code).toBe('EAUTH');
      expect(error.responseCode).toBe(535);
      expect(error.message).toContain('Invalid username or password');
      expect(error.message).not.toContain('wrong-password');
      expect(error.message).not.toContain(Buffer.from('wrong-password').toString('base64'));
    });
  }

  it('refuses to log in when the server offers only mechanisms Herald does not speak', async () => {
    const raw = await startRaw({ extensions: ['PIPELINING', 'AUTH CRAM-MD5 XOAUTH2'] });
    const error = await failure(connect(raw.port, { auth: { user: 'herald', pass: 's3cret' } }));
    expect(error.code).toBe('EAUTH');
    expect(error.message).toContain('CRAM-MD5 XOAUTH2');
  });

  it('refuses a server that sends anything after its STARTTLS reply (response injection)', async () => {
    const raw = await startRaw({
      extensions: ['STARTTLS'],
      reply: (command) => (command === 'STARTTLS' ? '220 Go ahead\r\n250 injected' : undefined),
    });
    const error = await failure(connect(raw.port, { tls: 'starttls' }));
    expect(['ETLS', 'EPROTOCOL']).toContain(error.code);
  });
});

describe('smtp client: refusals', () => {
  it('sends to the accepted recipients when some are refused, and reports both', async () => {
    for (const hidePIPELINING of [false, true]) {
      const { port, received } = await startServer({
        disabledCommands: ['STARTTLS', 'AUTH'],
        hidePIPELINING,
      });
      const client = await connect(port);
      const sent = await client.send(
        {
          from: 'bounce@shop.example',
          to: ['a@example.com', 'hard@example.com', 'b@example.com', 'soft@example.com'],
        },
        message,
      );
      expect(sent.accepted).toEqual(['a@example.com', 'b@example.com']);
      expect(sent.rejected).toEqual(['hard@example.com', 'soft@example.com']);
      expect(sent.rejectedErrors.map((e) => [e.recipient, e.responseCode])).toEqual([
        ['hard@example.com', 550],
        ['soft@example.com', 451],
      ]);
      expect(received[0]?.to).toEqual(['a@example.com', 'b@example.com']);
    }
  });

  it('fails the envelope when every recipient is refused (DATA answered 503), and carries on after RSET', async () => {
    for (const hidePIPELINING of [false, true]) {
      const { port, received } = await startServer({
        disabledCommands: ['STARTTLS', 'AUTH'],
        hidePIPELINING,
      });
      const client = await connect(port);
      const error = await failure(
        client.send({ from: 'bounce@shop.example', to: ['hard@example.com', 'soft@example.com'] }, message),
      );
      expect(error.code).toBe('EENVELOPE');
      // The temporary refusal wins: the message may still go through later.
      expect(error.responseCode).toBe(451);
      expect(error.rejected).toEqual(['hard@example.com', 'soft@example.com']);
      await client.reset();
      await client.send(envelope, message);
      expect(received.map((r) => r.to)).toEqual([['ann@example.com']]);
    }
  });

  it('ends the empty message of a server that answers DATA with 354 although it refused every recipient', async () => {
    const raw = await startRaw({
      reply: (command) => (command.startsWith('RCPT') ? '550 5.1.1 No such user' : undefined),
    });
    const client = await connect(raw.port);
    const error = await failure(client.send(envelope, message));
    expect(error.code).toBe('EENVELOPE');
    expect(error.responseCode).toBe(550);
    expect(raw.sessions[0]?.messages.map((m) => m.length)).toEqual([0]);
    await client.reset();
    expect(client.closed).toBe(false);
  });

  it('keeps the reply code, the whole multi-line reply and its enhanced status code', async () => {
    const raw = await startRaw({
      extensions: ['PIPELINING', 'ENHANCEDSTATUSCODES'],
      reply: (command) =>
        command.startsWith('RCPT')
          ? '550-5.1.1 The mailbox does not exist\r\n550 5.1.1 See https://mx.test/550'
          : undefined,
    });
    const client = await connect(raw.port);
    expect(client.extensions.enhancedStatusCodes).toBe(true);
    const error = await failure(client.send(envelope, message));
    expect(error.responseCode).toBe(550);
    expect(error.enhancedCode).toBe('5.1.1');
    expect(error.response).toBe('550-5.1.1 The mailbox does not exist\n550 5.1.1 See https://mx.test/550');
  });

  // Like real servers, these answer DATA with 503 when the envelope failed.
  const refuse = (command: string, verb: string, reply: string) =>
    command.startsWith(verb) ? reply : command === 'DATA' ? '503 5.5.1 no valid envelope' : undefined;
  const stages: [string, RawScript, string][] = [
    ['MAIL FROM', { reply: (c) => refuse(c, 'MAIL', '{code} sender refused') }, 'EENVELOPE'],
    ['RCPT TO', { reply: (c) => refuse(c, 'RCPT', '{code} recipient refused') }, 'EENVELOPE'],
    ['DATA', { reply: (c) => (c === 'DATA' ? '{code} not now' : undefined) }, 'EENVELOPE'],
    ['the data', { afterData: () => '{code} message refused' }, 'EMESSAGE'],
  ];
  for (const [stage, template, code] of stages) {
    for (const reply of [451, 554]) {
      it(`reports ${reply} to ${stage} as ${code} with the reply code`, async () => {
        const script: RawScript = {
          reply: (c, s) => template.reply?.(c, s)?.replace('{code}', String(reply)),
          afterData: (m, s) => template.afterData?.(m, s)?.replace('{code}', String(reply)),
        };
        const raw = await startRaw(script);
        const client = await connect(raw.port);
        const error = await failure(client.send(envelope, message));
        expect([error.code, error.responseCode]).toEqual([code, reply]);
        expect(error.bodySent).toBe(stage === 'the data');
        await client.reset();
      });
    }
  }

  it('closes the connection on a 421, in a transaction or unasked', async () => {
    const raw = await startRaw({
      reply: (c) => (c.startsWith('RCPT') ? '421 4.3.2 shutting down' : undefined),
    });
    const client = await connect(raw.port);
    const error = await failure(client.send(envelope, message));
    expect([error.code, error.responseCode]).toEqual(['EENVELOPE', 421]);
    expect(client.closed).toBe(true);

    const idle = await startRaw();
    let closed!: (error: SmtpError | undefined) => void;
    const onClose = new Promise<SmtpError | undefined>((resolve) => {
      closed = resolve;
    });
    clients.push(await connectSmtp(options(idle.port), closed));
    idle.say('421 4.4.2 idle for too long');
    const reason = await onClose;
    expect([reason?.code, reason?.responseCode]).toEqual(['ECONNECTION', 421]);
  });
});

describe('smtp client: connections', () => {
  it('fails on a 421 or 554 greeting, and when no greeting comes', async () => {
    for (const code of [421, 554]) {
      const raw = await startRaw({ greeting: `${code} too busy` });
      const error = await failure(connect(raw.port));
      expect([error.code, error.responseCode, error.command]).toEqual(['ECONNECTION', code, 'greeting']);
    }
    const silent = await startRaw({ greeting: null });
    const error = await failure(connect(silent.port, { greetingTimeoutMs: 200 }));
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.message).toContain('no greeting');
  });

  it('fails as a connection error when nothing listens', async () => {
    const raw = await startRaw();
    await raw.close();
    const error = await failure(connect(raw.port));
    expect(error.code).toBe('ECONNECTION');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('times out a reply that does not come', async () => {
    const raw = await startRaw({ reply: (c) => (c === 'DATA' ? null : undefined) });
    const client = await connect(raw.port, { socketTimeoutMs: 300 });
    const error = await failure(client.send(envelope, message));
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.bodySent).toBe(false);
    expect(client.closed).toBe(true);
  });

  it('reports a server that hangs up during the data as a connection error with the data sent', async () => {
    const raw = await startRaw({ closeDuringData: () => true });
    const client = await connect(raw.port);
    const error = await failure(client.send(envelope, message));
    expect(error.code).toBe('ECONNECTION');
    expect(error.responseCode).toBeUndefined();
    expect(error.bodySent).toBe(true);
    expect(client.closed).toBe(true);
  });

  it('says QUIT when asked to quit', async () => {
    const raw = await startRaw();
    let closed!: (error: SmtpError | undefined) => void;
    const onClose = new Promise<SmtpError | undefined>((resolve) => {
      closed = resolve;
    });
    const client = await connectSmtp(options(raw.port), closed);
    await client.send(envelope, message);
    client.quit();
    expect(await onClose).toBeUndefined();
    expect(raw.sessions[0]?.commands.at(-1)).toBe('QUIT');
  });
});
