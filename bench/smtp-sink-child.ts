import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * A counting SMTP sink in its own process, so accepting messages does not
 * share an event loop (or CPU accounting) with the sender being measured.
 * Reports its port over IPC, then answers 'count' with the messages accepted,
 * 'bytes' with the bytes of their data and 'cpu' with its own CPU time
 * (process.cpuUsage()).
 */
let count = 0;
/** Bytes of message data accepted (as it arrived, dot-stuffed), for the average message size. */
let bytes = 0;
const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 50 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      count++;
      callback();
    });
  },
});
// A sender that exits with connections open resets them; that is not the sink's failure.
server.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'ECONNRESET') throw error;
});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.server.address() as AddressInfo).port });
});
process.on('message', (message) => {
  if (message === 'count') process.send?.({ count });
  if (message === 'bytes') process.send?.({ bytes });
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  if (message === 'reset') count = 0;
  if (message === 'stop') server.close(() => process.exit(0));
});
