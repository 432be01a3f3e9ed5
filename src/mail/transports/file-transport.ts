import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type OutgoingMessage, type SendResult, type Transport, TransportError } from './transport.js';

/** Writes each message to `<folder>/<messageId>.eml`; the default transport, so Herald runs without a mail server. */
export function createFileTransport(options: { folder: string }): Transport {
  let ready: Promise<unknown> | undefined;
  return {
    type: 'file',
    async send(message: OutgoingMessage): Promise<SendResult> {
      ready ??= mkdir(options.folder, { recursive: true });
      await ready;
      const name = `${fileName(message.messageId)}.eml`;
      const target = join(options.folder, name);
      // Written under a temporary name and renamed, so readers never see half a message.
      const temporary = join(options.folder, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        const handle = await open(temporary, 'w');
        try {
          await handle.writeFile(message.raw);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw new TransportError('connection', 'could not write the message file', 'EFILE', error);
      }
      return { providerMessageId: name };
    },
    async close() {},
  };
}

/** A Message-ID as a safe file name: `<a.b@example.com>` -> `a.b@example.com`. */
export function fileName(messageId: string): string {
  const cleaned = messageId
    .replace(/^<|>$/g, '')
    .replace(/[^A-Za-z0-9._@+-]/g, '_')
    .replace(/^\.+/, '_');
  return cleaned.slice(0, 200) || 'message';
}
