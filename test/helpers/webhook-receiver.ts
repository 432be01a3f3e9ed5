import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with the next request: answer with a status, or never answer. */
export type Behaviour = number | 'hang';

/**
 * A webhook receiver on 127.0.0.1: records every request and answers from a
 * script of behaviours (then `fallback`, 200 by default).
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const script: Behaviour[] = [];
  const hanging: ServerResponse[] = [];
  let fallback: Behaviour = 200;
  let delayMs = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const behaviour = script.shift() ?? fallback;
      if (behaviour === 'hang') {
        hanging.push(response);
        return;
      }
      const answer = () => response.writeHead(behaviour, { 'content-type': 'text/plain' }).end('ok');
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** Answers the next requests in this order. */
    next(...behaviours: Behaviour[]) {
      script.push(...behaviours);
    },
    /** Answers every request this much later (so a worker can be killed mid-request). */
    delay(ms: number) {
      delayMs = ms;
    },
    always(behaviour: Behaviour) {
      fallback = behaviour;
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
