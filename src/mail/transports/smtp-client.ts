import { isAscii } from 'node:buffer';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { connect as tlsConnect } from 'node:tls';

/**
 * Herald's SMTP client (RFC 5321) for handing pre-built messages to a relay.
 * It does what a sending pool needs and nothing more: one session per
 * connection, the envelope pipelined (RFC 2920) and the message written in
 * one piece. Why Herald has its own instead of nodemailer's SMTPConnection:
 * docs/adr/0005-own-smtp-client.md.
 *
 * Terms:
 * - reply: the server's answer to one command, one or more lines
 *   ("250-SIZE 1000", "250 OK"); the last line has a space after the code.
 * - exchange: one socket write and the replies it expects, read in order.
 *   Only one exchange is in flight at a time.
 * - data: the message as it goes on the wire after DATA: line endings CRLF,
 *   dot-stuffed, ending in "\r\n.\r\n".
 */

export type SmtpErrorCode =
  /** Could not connect, the server refused the session (greeting, EHLO) or closed it. */
  | 'ECONNECTION'
  /** No connection, greeting or reply within the configured time. */
  | 'ETIMEDOUT'
  /** The socket failed after the session started (reset, broken pipe). */
  | 'ESOCKET'
  /** TLS: the handshake or certificate failed, or STARTTLS is required but not offered. */
  | 'ETLS'
  /** Login refused, or no mechanism both sides support. */
  | 'EAUTH'
  /** MAIL FROM, RCPT TO or DATA refused, or an envelope Herald cannot send. */
  | 'EENVELOPE'
  /** The message refused after its data, or one Herald will not send (over the server's SIZE). */
  | 'EMESSAGE'
  /** The server said something that does not follow the protocol. */
  | 'EPROTOCOL';

export interface SmtpClientOptions {
  host: string;
  port: number;
  /**
   * implicit: TLS from the first byte (port 465). starttls: upgrade with
   * STARTTLS, and fail if the server does not offer it. none: plain text.
   */
  tls: 'implicit' | 'starttls' | 'none';
  /** false only for test servers with self-signed certificates. */
  rejectUnauthorized?: boolean | undefined;
  auth?: { user: string; pass: string } | undefined;
  /** The EHLO name; default: this machine's host name if it has a dot, else its address literal. */
  name?: string | undefined;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  /** How long to wait for each reply (and for a TLS handshake). */
  socketTimeoutMs: number;
}

/** What the server announced in its EHLO reply. */
export interface SmtpExtensions {
  pipelining: boolean;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  startTls: boolean;
  enhancedStatusCodes: boolean;
  /** undefined: SIZE not offered; 0: offered without a limit; else the limit in bytes. */
  size: number | undefined;
  /** AUTH mechanisms, upper case. */
  auth: string[];
}

export interface SmtpEnvelope {
  /** MAIL FROM; '' for the null sender. */
  from: string;
  to: string[];
}

export interface SmtpReply {
  code: number;
  /** Every line as the server sent it, code included, joined with "\n". */
  text: string;
}

export interface SmtpSent {
  accepted: string[];
  /** Recipients the server refused while accepting others (each with its error in rejectedErrors). */
  rejected: string[];
  rejectedErrors: SmtpError[];
  /** The server's reply to the message, e.g. "250 2.0.0 Ok: queued as 4Bq1x". */
  response: string;
}

export class SmtpError extends Error {
  readonly code: SmtpErrorCode;
  /** The reply code, when a server reply caused the error. */
  readonly responseCode: number | undefined;
  /** The server's whole reply, when one caused the error. It may quote addresses. */
  readonly response: string | undefined;
  /** RFC 3463 status ("5.1.1") from the reply, when it has one. */
  readonly enhancedCode: string | undefined;
  /** The command (or stage: 'greeting', 'CONN', 'data') that failed. */
  readonly command: string;
  /**
   * The message's data had been (partly) written when this failed, so the
   * server may have accepted it: it must not be sent again right away.
   */
  bodySent = false;
  /** For a refused recipient: the address. */
  recipient?: string | undefined;
  /** When every recipient was refused: who, and why. */
  rejected?: string[] | undefined;
  rejectedErrors?: SmtpError[] | undefined;

  constructor(code: SmtpErrorCode, message: string, command: string, reply?: SmtpReply, cause?: unknown) {
    super(reply ? `${message}: ${reply.text}` : message, cause === undefined ? undefined : { cause });
    this.name = 'SmtpError';
    this.code = code;
    this.command = command;
    this.responseCode = reply?.code;
    this.response = reply?.text;
    this.enhancedCode = reply ? ENHANCED_CODE.exec(reply.text)?.[1] : undefined;
  }
}

export interface SmtpClient {
  readonly extensions: Readonly<SmtpExtensions>;
  /** True once the connection is gone (failed, closed, or quitting). */
  readonly closed: boolean;
  /**
   * Sends one message. Refused recipients are reported in the result while
   * others accept it; every recipient refused is an EENVELOPE error.
   */
  send(envelope: SmtpEnvelope, raw: Buffer): Promise<SmtpSent>;
  /** RSET: ends a failed transaction so the session can carry the next message. */
  reset(): Promise<void>;
  /** QUIT, then close once the server answers (or within the socket timeout). */
  quit(): void;
  /** Closes at once; an exchange in flight fails as a connection error. */
  close(): void;
}

/**
 * Connects, reads the greeting, says EHLO (HELO if the server refuses it),
 * upgrades with STARTTLS and logs in as configured. `onClose` is called once
 * when an established connection ends: with the error when it failed (the
 * server dropped it, an unsolicited 421), without one when it was closed or
 * quit on purpose.
 */
export async function connectSmtp(
  options: SmtpClientOptions,
  onClose?: (error: SmtpError | undefined) => void,
): Promise<SmtpClient> {
  const session = new SmtpSession(options);
  await session.open();
  session.onClose = onClose;
  return session;
}

const ENHANCED_CODE = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})(?!\S)/;
/** A reply line or a partial line longer than this is not SMTP. */
const MAX_LINE = 64 * 1024;
const MAX_REPLY_LINES = 1000;
const NOT_ASCII = /[\u0080-\uffff]/;
const NOT_IN_ADDRESS = /[\r\n<>]/;

interface Waiter {
  /** Replies wanted; 0 for a wait on an event (a TLS handshake), where any reply is a protocol error. */
  expected: number;
  replies: SmtpReply[];
  /** The code of the error when the server answers 421 during this exchange. */
  code: SmtpErrorCode;
  command: string;
  bodySent: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(replies: SmtpReply[]): void;
  reject(error: SmtpError): void;
}

type Phase = 'connecting' | 'tls' | 'session';

class SmtpSession implements SmtpClient {
  onClose: ((error: SmtpError | undefined) => void) | undefined;
  extensions: SmtpExtensions = noExtensions();
  private readonly options: SmtpClientOptions;
  private socket!: Socket;
  /** The TCP socket under a STARTTLS upgrade. */
  private plainSocket: Socket | undefined;
  private phase: Phase = 'connecting';
  private state: 'open' | 'quitting' | 'closed' = 'open';
  private failure: SmtpError | undefined;
  private waiter: Waiter | undefined;
  private decoder = new StringDecoder('utf8');
  private partial = '';
  private replyLines: string[] = [];
  private quitTimer: NodeJS.Timeout | undefined;
  /** The EHLO name. */
  private name: string | undefined;

  constructor(options: SmtpClientOptions) {
    this.options = options;
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  async open(): Promise<void> {
    const { host, port, connectionTimeoutMs, greetingTimeoutMs } = this.options;
    // The greeting's waiter exists before the socket, so a greeting that arrives with the TLS handshake is not lost.
    const greeting = this.expect(1, 'ECONNECTION', 'greeting');
    const socket =
      this.options.tls === 'implicit'
        ? tlsConnect({
            host,
            port,
            servername: serverName(host),
            rejectUnauthorized: this.rejectUnauthorized(),
          })
        : netConnect({ host, port });
    this.socket = socket;
    this.listen(socket);
    const waiter = this.waiter as Waiter;
    waiter.timer = this.failAfter(connectionTimeoutMs, `no connection to ${host}:${port}`, 'CONN');
    const connected = () => {
      this.phase = 'session';
      clearTimeout(waiter.timer);
      if (this.waiter !== waiter) return;
      waiter.timer = this.failAfter(greetingTimeoutMs, `no greeting from ${host}:${port}`, 'greeting');
    };
    socket.once('connect', () => {
      socket.setNoDelay(true);
      if (this.options.tls === 'implicit') this.phase = 'tls';
      else connected();
    });
    if (this.options.tls === 'implicit') socket.once('secureConnect', connected);

    try {
      const [reply] = (await greeting) as [SmtpReply];
      if (reply.code !== 220) {
        throw new SmtpError('ECONNECTION', `${host}:${port} refused the session`, 'greeting', reply);
      }
      this.socket.setTimeout(this.options.socketTimeoutMs);
      await this.hello();
      if (this.options.tls === 'starttls') {
        if (!this.extensions.startTls) {
          throw new SmtpError(
            'ETLS',
            `${host}:${port} does not offer STARTTLS, which this transport requires ` +
              `(use tls 'implicit' for port 465, or 'none' only for a trusted local relay)`,
            'STARTTLS',
          );
        }
        const reply = await this.command('STARTTLS\r\n', 'ETLS', 'STARTTLS');
        if (reply.code !== 220) throw new SmtpError('ETLS', 'the server refused STARTTLS', 'STARTTLS', reply);
        await this.upgrade();
        await this.hello();
      }
      if (this.options.auth) await this.login(this.options.auth);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  async send(envelope: SmtpEnvelope, raw: Buffer): Promise<SmtpSent> {
    const { from, to } = envelope;
    const extensions = this.extensions;
    if (to.length === 0) throw new SmtpError('EENVELOPE', 'the message has no recipients', 'API');
    let international = NOT_ASCII.test(from);
    if (NOT_IN_ADDRESS.test(from))
      throw new SmtpError('EENVELOPE', `invalid sender ${JSON.stringify(from)}`, 'API');
    for (const address of to) {
      if (!address || NOT_IN_ADDRESS.test(address)) {
        throw new SmtpError('EENVELOPE', `invalid recipient ${JSON.stringify(address)}`, 'API');
      }
      if (NOT_ASCII.test(address)) international = true;
    }
    if (international && !extensions.smtpUtf8) {
      throw new SmtpError(
        'EENVELOPE',
        'an address is not ASCII and the server does not offer SMTPUTF8',
        'API',
      );
    }
    if (raw.length === 0) throw new SmtpError('EMESSAGE', 'the message is empty', 'API');
    const { chunks, size, eightBit } = encodeMessageData(raw);
    if (extensions.size && size > extensions.size) {
      throw new SmtpError(
        'EMESSAGE',
        `the message has ${size} bytes, more than the ${extensions.size} the server accepts (SIZE)`,
        'API',
      );
    }

    let mail = `MAIL FROM:<${from}>`;
    if (extensions.size !== undefined) mail += ` SIZE=${size}`;
    // Without 8BITMIME offered, 8-bit data goes as it is: refusing it would only stop mail that most servers take.
    if (eightBit && extensions.eightBitMime) mail += ' BODY=8BITMIME';
    if (international) mail += ' SMTPUTF8';
    mail += '\r\n';

    const outcome = extensions.pipelining
      ? await this.pipelinedEnvelope(mail, to)
      : await this.envelopeOneByOne(mail, to);
    const reply = await this.command(chunks, 'EMESSAGE', 'data', true);
    if (!positive(reply)) {
      const error = new SmtpError('EMESSAGE', 'the server refused the message', 'data', reply);
      error.bodySent = true;
      throw error;
    }
    return { ...outcome, response: reply.text };
  }

  async reset(): Promise<void> {
    const reply = await this.command('RSET\r\n', 'EPROTOCOL', 'RSET');
    if (!positive(reply)) {
      const error = new SmtpError('EPROTOCOL', 'the server refused RSET', 'RSET', reply);
      this.fail(error);
      throw error;
    }
  }

  quit(): void {
    if (this.state !== 'open') return;
    if (this.waiter) {
      this.close();
      return;
    }
    this.state = 'quitting';
    this.socket.write('QUIT\r\n');
    this.quitTimer = setTimeout(() => this.end(undefined), this.options.socketTimeoutMs);
    this.quitTimer.unref();
  }

  close(): void {
    this.end(undefined);
  }

  /** MAIL FROM, every RCPT TO and DATA in one write (RFC 2920); the replies come back in order. */
  private async pipelinedEnvelope(mail: string, to: string[]): Promise<Omit<SmtpSent, 'response'>> {
    let commands = mail;
    for (const address of to) commands += `RCPT TO:<${address}>\r\n`;
    commands += 'DATA\r\n';
    const replies = await this.exchange(commands, to.length + 2, 'EENVELOPE', 'envelope');
    const mailReply = replies[0] as SmtpReply;
    const dataReply = replies[to.length + 1] as SmtpReply;
    if (!positive(mailReply)) {
      // A server that opened DATA without a sender cannot be trusted with the session.
      if (intermediate(dataReply)) this.close();
      throw new SmtpError('EENVELOPE', 'the server refused the sender', 'MAIL FROM', mailReply);
    }
    const outcome = recipients(to, replies);
    if (outcome.accepted.length === 0) {
      // RFC 2920 servers answer DATA with 503/554 here; one that said 354 gets an empty message, ended at once.
      if (intermediate(dataReply)) await this.command('.\r\n', 'EENVELOPE', 'data');
      throw everyRecipientRefused(outcome);
    }
    if (!intermediate(dataReply))
      throw new SmtpError('EENVELOPE', 'the server refused DATA', 'DATA', dataReply);
    return outcome;
  }

  /** Without PIPELINING: each command waits for its reply. */
  private async envelopeOneByOne(mail: string, to: string[]): Promise<Omit<SmtpSent, 'response'>> {
    const mailReply = await this.command(mail, 'EENVELOPE', 'MAIL FROM');
    if (!positive(mailReply))
      throw new SmtpError('EENVELOPE', 'the server refused the sender', 'MAIL FROM', mailReply);
    const replies: SmtpReply[] = [mailReply];
    for (const address of to)
      replies.push(await this.command(`RCPT TO:<${address}>\r\n`, 'EENVELOPE', 'RCPT TO'));
    const outcome = recipients(to, replies);
    if (outcome.accepted.length === 0) throw everyRecipientRefused(outcome);
    const dataReply = await this.command('DATA\r\n', 'EENVELOPE', 'DATA');
    if (!intermediate(dataReply))
      throw new SmtpError('EENVELOPE', 'the server refused DATA', 'DATA', dataReply);
    return outcome;
  }

  private async hello(): Promise<void> {
    // Named once: after STARTTLS the TLS socket may not know the local address.
    this.name ??= this.options.name?.replace(/[\s<>]/g, '') || defaultName(this.socket);
    const name = this.name;
    const ehlo = await this.command(`EHLO ${name}\r\n`, 'ECONNECTION', 'EHLO');
    if (ehlo.code === 250) {
      this.extensions = parseExtensions(ehlo.text);
      return;
    }
    const secure = this.options.tls === 'implicit' || this.plainSocket !== undefined;
    if (ehlo.code < 500) throw new SmtpError('ECONNECTION', 'the server refused EHLO', 'EHLO', ehlo);
    if (this.options.tls === 'starttls' && !secure) {
      throw new SmtpError(
        'ETLS',
        'the server refused EHLO, so it cannot offer the required STARTTLS',
        'EHLO',
        ehlo,
      );
    }
    const helo = await this.command(`HELO ${name}\r\n`, 'ECONNECTION', 'HELO');
    if (helo.code !== 250)
      throw new SmtpError('ECONNECTION', 'the server refused EHLO and HELO', 'HELO', helo);
    this.extensions = noExtensions();
  }

  private async login(auth: { user: string; pass: string }): Promise<void> {
    const offered = this.extensions.auth;
    const mechanism = offered.includes('PLAIN') ? 'PLAIN' : offered.includes('LOGIN') ? 'LOGIN' : undefined;
    if (!mechanism) {
      const message = offered.length
        ? `the server offers AUTH ${offered.join(' ')}; Herald logs in with PLAIN or LOGIN`
        : 'a user is configured but the server does not offer AUTH';
      throw new SmtpError('EAUTH', message, 'AUTH');
    }
    const command = `AUTH ${mechanism}`;
    const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
    let reply: SmtpReply;
    if (mechanism === 'PLAIN') {
      const credentials = base64(`\0${auth.user}\0${auth.pass}`);
      reply = await this.command(`AUTH PLAIN ${credentials}\r\n`, 'EAUTH', command);
      // A server that does not take an initial response asks for it with an empty challenge.
      if (reply.code === 334) reply = await this.command(`${credentials}\r\n`, 'EAUTH', command);
    } else {
      reply = await this.command('AUTH LOGIN\r\n', 'EAUTH', command);
      if (reply.code === 334) reply = await this.command(`${base64(auth.user)}\r\n`, 'EAUTH', command);
      if (reply.code === 334) reply = await this.command(`${base64(auth.pass)}\r\n`, 'EAUTH', command);
    }
    if (reply.code !== 235) throw new SmtpError('EAUTH', `login refused (${command})`, command, reply);
  }

  /** Hands the TCP socket to TLS after the server's 220 to STARTTLS. */
  private upgrade(): Promise<unknown> {
    // Anything the server sent after its 220 came before TLS and could be an attacker's (CVE-2011-0411).
    if (this.partial !== '' || this.replyLines.length > 0) {
      this.fail(new SmtpError('ETLS', 'the server sent data after its STARTTLS reply', 'STARTTLS'));
    }
    if (this.failure) return Promise.reject(this.failure);
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    plain.removeListener('timeout', this.onTimeout);
    plain.setTimeout(0);
    this.plainSocket = plain;
    this.phase = 'tls';
    this.decoder = new StringDecoder('utf8');
    const { host, socketTimeoutMs } = this.options;
    const secure = tlsConnect({
      socket: plain,
      host,
      servername: serverName(host),
      rejectUnauthorized: this.rejectUnauthorized(),
    });
    this.socket = secure;
    this.listen(secure);
    const handshake = this.expect(0, 'ETLS', 'STARTTLS');
    const waiter = this.waiter as Waiter;
    waiter.timer = this.failAfter(socketTimeoutMs, 'no TLS handshake', 'STARTTLS');
    secure.once('secureConnect', () => {
      if (this.waiter !== waiter) return;
      this.phase = 'session';
      secure.setTimeout(socketTimeoutMs);
      this.waiter = undefined;
      clearTimeout(waiter.timer);
      waiter.resolve([]);
    });
    return handshake;
  }

  private failAfter(ms: number, what: string, command: string): NodeJS.Timeout {
    return setTimeout(() => this.fail(new SmtpError('ETIMEDOUT', `${what} within ${ms} ms`, command)), ms);
  }

  private rejectUnauthorized(): boolean {
    return this.options.rejectUnauthorized ?? true;
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
    socket.on('timeout', this.onTimeout);
  }

  private async command(line: string | Buffer[], code: SmtpErrorCode, command: string, bodySent = false) {
    return (await this.exchange(line, 1, code, command, bodySent))[0] as SmtpReply;
  }

  /** Writes `data` at once (chunks in one writev) and resolves with the `expected` replies to it. */
  private exchange(
    data: string | Buffer[],
    expected: number,
    code: SmtpErrorCode,
    command: string,
    bodySent = false,
  ): Promise<SmtpReply[]> {
    const ready = this.state === 'open' && !this.waiter;
    const waiting = this.expect(expected, code, command, bodySent);
    if (ready) {
      if (typeof data === 'string') this.socket.write(data);
      else {
        this.socket.cork();
        for (const chunk of data) this.socket.write(chunk);
        this.socket.uncork();
      }
    }
    return waiting;
  }

  private expect(
    expected: number,
    code: SmtpErrorCode,
    command: string,
    bodySent = false,
  ): Promise<SmtpReply[]> {
    if (this.state !== 'open') {
      return Promise.reject(
        this.failure ?? new SmtpError('ECONNECTION', 'the SMTP connection is closed', command),
      );
    }
    if (this.waiter) {
      return Promise.reject(
        new SmtpError('EPROTOCOL', `${command} while ${this.waiter.command} is in flight`, command),
      );
    }
    return new Promise((resolve, reject) => {
      this.waiter = { expected, replies: [], code, command, bodySent, timer: undefined, resolve, reject };
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'quitting') {
      // The answer to QUIT: hang up our side too.
      this.socket.end();
      return;
    }
    if (this.state !== 'open') return;
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      const line = text.slice(start, text.charCodeAt(end - 1) === 13 ? end - 1 : end);
      start = end + 1;
      if (!this.onLine(line)) return;
    }
    this.partial = start === 0 ? text : text.slice(start);
    if (this.partial.length > MAX_LINE)
      this.fail(new SmtpError('EPROTOCOL', 'the server sent an endless line', 'CONN'));
  };

  /** False when the line ended the session. */
  private onLine(line: string): boolean {
    const code = replyCode(line);
    if (code === undefined || line.length > MAX_LINE || this.replyLines.length >= MAX_REPLY_LINES) {
      this.fail(
        new SmtpError(
          'EPROTOCOL',
          `unexpected line from the server: ${JSON.stringify(line.slice(0, 200))}`,
          'CONN',
        ),
      );
      return false;
    }
    if (line.charCodeAt(3) === 45 /* "-": more lines follow */) {
      this.replyLines.push(line);
      return true;
    }
    let text = line;
    if (this.replyLines.length > 0) {
      this.replyLines.push(line);
      text = this.replyLines.join('\n');
      this.replyLines = [];
    }
    return this.onReply({ code, text });
  }

  private onReply(reply: SmtpReply): boolean {
    const waiter = this.waiter;
    if (!waiter || waiter.expected === 0) {
      this.fail(
        reply.code === 421
          ? new SmtpError('ECONNECTION', 'the server closed the session', 'CONN', reply)
          : new SmtpError('EPROTOCOL', 'unexpected reply from the server', 'CONN', reply),
      );
      return false;
    }
    if (reply.code === 421) {
      // "Service not available, closing transmission channel": the remaining replies will not come.
      this.fail(new SmtpError(waiter.code, 'the server is closing the session', waiter.command, reply));
      return false;
    }
    waiter.replies.push(reply);
    if (waiter.replies.length === waiter.expected) {
      this.waiter = undefined;
      clearTimeout(waiter.timer);
      waiter.resolve(waiter.replies);
    }
    return true;
  }

  private readonly onError = (error: Error): void => {
    const code = this.phase === 'connecting' ? 'ECONNECTION' : this.phase === 'tls' ? 'ETLS' : 'ESOCKET';
    const what =
      this.phase === 'connecting'
        ? `cannot connect to ${this.options.host}:${this.options.port}`
        : 'socket error';
    this.fail(
      new SmtpError(code, `${what}: ${error.message}`, this.waiter?.command ?? 'CONN', undefined, error),
    );
  };

  private readonly onSocketClose = (): void => {
    const code = this.phase === 'tls' ? 'ETLS' : 'ECONNECTION';
    this.fail(new SmtpError(code, 'the server closed the connection', this.waiter?.command ?? 'CONN'));
  };

  private readonly onTimeout = (): void => {
    const waiter = this.waiter;
    if (!waiter) return; // idle: closing idle connections is the pool's decision
    const ms = this.options.socketTimeoutMs;
    this.fail(new SmtpError('ETIMEDOUT', `no reply to ${waiter.command} within ${ms} ms`, waiter.command));
  };

  /** The connection failed: the exchange in flight fails with `error`, and onClose learns it. */
  private fail(error: SmtpError): void {
    if (this.state === 'closed') return;
    if (this.state === 'quitting') {
      this.end(undefined);
      return;
    }
    if (this.waiter?.bodySent) error.bodySent = true;
    this.failure = error;
    this.end(error);
  }

  private end(error: SmtpError | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.quitTimer);
    this.socket.destroy();
    this.plainSocket?.destroy();
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) {
      clearTimeout(waiter.timer);
      const closed = new SmtpError('ECONNECTION', 'the SMTP connection was closed', waiter.command);
      closed.bodySent = waiter.bodySent;
      waiter.reject(error ?? closed);
    }
    this.onClose?.(error);
  }
}

/**
 * The message as DATA carries it, in one pass over `raw`, line by line: bare
 * CR and bare LF become CRLF, a line starting with "." gets another one (RFC
 * 5321 4.5.2), and the terminator follows ("\r\n.\r\n" if the message does
 * not end with a line break). `size` is the length without the terminator
 * (for SIZE=); `eightBit` says whether a byte is above 127 (for
 * BODY=8BITMIME). Line ends are found with Buffer.indexOf (memchr), about
 * four times faster than a JavaScript loop over the bytes; a message that
 * needs no changes, the usual case, is copied once into the output with no
 * other allocation.
 */
export function encodeMessageData(raw: Buffer): { chunks: Buffer[]; size: number; eightBit: boolean } {
  const length = raw.length;
  // Pairs (position, kind): insert a dot before it, a CR before it (a bare LF), or an LF after it (a bare CR).
  const edits: number[] = [];
  if (raw[0] === DOT) edits.push(0, INSERT_DOT);
  let cr = raw.indexOf(CR);
  let lf = raw.indexOf(LF);
  while (cr >= 0 || lf >= 0) {
    let next: number;
    if (cr >= 0 && (lf < 0 || cr < lf)) {
      if (lf === cr + 1) {
        next = lf + 1;
        lf = raw.indexOf(LF, next);
      } else {
        edits.push(cr, INSERT_LF);
        next = cr + 1;
      }
      cr = raw.indexOf(CR, next);
    } else {
      edits.push(lf, INSERT_CR);
      next = lf + 1;
      lf = raw.indexOf(LF, next);
    }
    if (raw[next] === DOT) edits.push(next, INSERT_DOT);
  }
  const last = raw[length - 1];
  const terminator = last === LF || last === CR ? DOT_CRLF : CRLF_DOT_CRLF;
  const size = length + edits.length / 2;
  const eightBit = !isAscii(raw);
  // The usual case needs no changes: the message goes as it is, the terminator in the same write (writev).
  if (edits.length === 0) return { chunks: [raw, terminator], size, eightBit };
  const data = Buffer.allocUnsafe(size + terminator.length);
  {
    let from = 0;
    let to = 0;
    for (let e = 0; e < edits.length; e += 2) {
      const at = edits[e] as number;
      const kind = edits[e + 1] as number;
      const until = kind === INSERT_LF ? at + 1 : at;
      to += raw.copy(data, to, from, until);
      data[to++] = kind === INSERT_DOT ? DOT : kind === INSERT_CR ? CR : LF;
      from = until;
    }
    raw.copy(data, to, from);
  }
  terminator.copy(data, size);
  return { chunks: [data], size, eightBit };
}

const CR = 13;
const LF = 10;
const DOT = 46;
const INSERT_DOT = 0;
const INSERT_CR = 1;
const INSERT_LF = 2;
const DOT_CRLF = Buffer.from('.\r\n');
const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

function recipients(to: string[], replies: SmtpReply[]): Omit<SmtpSent, 'response'> {
  const accepted: string[] = [];
  const rejected: string[] = [];
  const rejectedErrors: SmtpError[] = [];
  to.forEach((address, i) => {
    const reply = replies[i + 1] as SmtpReply;
    if (positive(reply)) {
      accepted.push(address);
      return;
    }
    const error = new SmtpError('EENVELOPE', `the server refused recipient ${address}`, 'RCPT TO', reply);
    error.recipient = address;
    rejected.push(address);
    rejectedErrors.push(error);
  });
  return { accepted, rejected, rejectedErrors };
}

/** Reported with a temporary refusal if there is one, so a deferral is not taken for a hard failure. */
function everyRecipientRefused(outcome: Omit<SmtpSent, 'response'>): SmtpError {
  const errors = outcome.rejectedErrors;
  const cause =
    errors.find((e) => (e.responseCode as number) < 500) ?? (errors[errors.length - 1] as SmtpError);
  const reply = { code: cause.responseCode as number, text: cause.response as string };
  const error = new SmtpError('EENVELOPE', 'the server refused every recipient', 'RCPT TO', reply);
  error.rejected = outcome.rejected;
  error.rejectedErrors = errors;
  return error;
}

function positive(reply: SmtpReply): boolean {
  return reply.code >= 200 && reply.code < 300;
}

function intermediate(reply: SmtpReply): boolean {
  return reply.code >= 300 && reply.code < 400;
}

/** The three-digit code of a reply line, or undefined if it does not start like one. */
function replyCode(line: string): number | undefined {
  const a = line.charCodeAt(0) - 48;
  const b = line.charCodeAt(1) - 48;
  const c = line.charCodeAt(2) - 48;
  if (a < 2 || a > 5 || !(b >= 0 && b <= 9) || !(c >= 0 && c <= 9)) return undefined;
  const separator = line.charCodeAt(3);
  if (line.length > 3 && separator !== 32 && separator !== 45) return undefined;
  return a * 100 + b * 10 + c;
}

export function parseExtensions(ehloReply: string): SmtpExtensions {
  const extensions = noExtensions();
  for (const line of ehloReply.split('\n').slice(1)) {
    const [keyword = '', ...params] = line.slice(4).trim().split(/\s+/);
    const name = keyword.toUpperCase();
    if (name === 'PIPELINING') extensions.pipelining = true;
    else if (name === '8BITMIME') extensions.eightBitMime = true;
    else if (name === 'SMTPUTF8') extensions.smtpUtf8 = true;
    else if (name === 'STARTTLS') extensions.startTls = true;
    else if (name === 'ENHANCEDSTATUSCODES') extensions.enhancedStatusCodes = true;
    else if (name === 'SIZE') extensions.size = Number(params[0]) || 0;
    else if (name === 'AUTH' || name.startsWith('AUTH=')) {
      // "AUTH=LOGIN PLAIN" is the pre-standard spelling some servers still send.
      const mechanisms = name === 'AUTH' ? params : [name.slice(5), ...params];
      for (const mechanism of mechanisms) {
        const upper = mechanism.toUpperCase();
        if (upper && !extensions.auth.includes(upper)) extensions.auth.push(upper);
      }
    }
  }
  return extensions;
}

function noExtensions(): SmtpExtensions {
  return {
    pipelining: false,
    eightBitMime: false,
    smtpUtf8: false,
    startTls: false,
    enhancedStatusCodes: false,
    size: undefined,
    auth: [],
  };
}

/** SNI takes host names only (RFC 6066). */
function serverName(host: string): string | undefined {
  return isIP(host) ? undefined : host;
}

/** A fully qualified host name, else the address literal RFC 5321 4.1.3 asks for. */
function defaultName(socket: Socket): string {
  const name = hostname();
  if (name.includes('.') && !isIP(name)) return name;
  const address = socket.localAddress ?? '127.0.0.1';
  return isIP(address) === 6 ? `[IPv6:${address}]` : `[${address}]`;
}
