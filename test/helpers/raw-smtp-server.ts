import { type AddressInfo, createServer, type Socket } from 'node:net';

/**
 * A tiny SMTP server on 127.0.0.1 that answers from a script, for what a
 * well-behaved server (smtp-server) never does: a 421 greeting, silence,
 * refusing DATA itself, hanging up in the middle of a message, 354 to DATA
 * with no recipient. It records what arrived and in which socket reads, so
 * tests can see whether commands were pipelined.
 */
export interface RawSession {
  /** Commands in arrival order, without CRLF. */
  commands: string[];
  /** The commands of each socket read: several in one read means the client pipelined them. */
  reads: string[][];
  /** Messages received completely, un-stuffed, each ending with its last CRLF. */
  messages: Buffer[];
  /** Times a message's data started (the client wrote after a 354). */
  dataStarted: number;
}

/** What the server answers; returning undefined keeps the default reply. */
export interface RawScript {
  /** The greeting line; null says nothing at all. Default "220 raw.test ESMTP". */
  greeting?: string | null;
  /** Extension lines after "250-raw.test" in the EHLO reply. Default PIPELINING, 8BITMIME. */
  extensions?: string[];
  /** The reply to a command; 'close' hangs up instead, null says nothing. */
  reply?(command: string, session: RawSession): string | 'close' | null | undefined;
  /** The reply after a message's data; 'close' hangs up instead. Default "250 Ok: queued as R<n>". */
  afterData?(message: Buffer, session: RawSession): string | 'close' | undefined;
  /** Hang up as soon as the first bytes of a message's data arrive. */
  closeDuringData?: (session: RawSession) => boolean;
}

export interface RawSmtpServer {
  port: number;
  sessions: RawSession[];
  /** Writes a line to every open connection unasked (an idle timeout's 421, say), then hangs up. */
  say(line: string): void;
  close(): Promise<void>;
}

export async function startRawSmtpServer(script: RawScript = {}): Promise<RawSmtpServer> {
  const sessions: RawSession[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const session: RawSession = { commands: [], reads: [], messages: [], dataStarted: 0 };
    sessions.push(session);
    let buffered = Buffer.alloc(0);
    let inData = false;
    /** Whether closeDuringData was asked about the message in progress. */
    let dataChecked = false;
    const send = (reply: string | 'close') => {
      if (reply === 'close') socket.destroy();
      else socket.write(`${reply}\r\n`);
    };
    if (script.greeting !== null) send(script.greeting ?? '220 raw.test ESMTP');

    socket.on('data', (chunk: Buffer) => {
      const read: string[] = [];
      session.reads.push(read);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (socket.destroyed) return;
        if (inData) {
          if (buffered.length === 0) return;
          if (!dataChecked) {
            dataChecked = true;
            if (script.closeDuringData?.(session)) {
              socket.destroy();
              return;
            }
          }
          const text = buffered.toString('latin1');
          const end = text.startsWith('.\r\n') ? 0 : text.indexOf('\r\n.\r\n');
          if (end < 0) return;
          const body = end === 0 ? '' : text.slice(0, end + 2);
          buffered = buffered.subarray(end === 0 ? 3 : end + 5);
          inData = false;
          const message = Buffer.from(body.replace(/^\.\./gm, '.'), 'latin1');
          session.messages.push(message);
          send(script.afterData?.(message, session) ?? `250 Ok: queued as R${session.messages.length}`);
          continue;
        }
        const end = buffered.indexOf('\r\n');
        if (end < 0) return;
        const command = buffered.subarray(0, end).toString('utf8');
        buffered = buffered.subarray(end + 2);
        session.commands.push(command);
        read.push(command);
        const verb = command.split(' ')[0]?.toUpperCase() ?? '';
        const scripted = script.reply?.(command, session);
        if (scripted === null) continue;
        if (scripted !== undefined) {
          send(scripted);
          if (verb === 'DATA' && scripted.startsWith('354')) {
            inData = true;
            dataChecked = false;
            session.dataStarted++;
          }
          continue;
        }
        if (verb === 'EHLO') {
          const lines = ['raw.test', ...(script.extensions ?? ['PIPELINING', '8BITMIME'])];
          send(lines.map((line, i) => `250${i === lines.length - 1 ? ' ' : '-'}${line}`).join('\r\n'));
        } else if (verb === 'DATA') {
          send('354 End data with <CR><LF>.<CR><LF>');
          inData = true;
          dataChecked = false;
          session.dataStarted++;
        } else if (verb === 'QUIT') {
          send('221 Bye');
          socket.end();
          return;
        } else {
          send('250 OK');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    say(line) {
      for (const socket of sockets) socket.end(`${line}\r\n`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
