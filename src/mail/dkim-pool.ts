import { type KeyObject, sign } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  completeSignature,
  type DomainKey,
  type PendingSignature,
  prepareSignature,
  type SignOptions,
} from './dkim.js';

/**
 * DKIM signing with the private-key operation on worker threads. An RSA-2048
 * signature costs about as much CPU as everything else Herald does for a
 * message, so on the sending loop's thread it would halve throughput.
 * Canonicalization and hashing stay on the caller's thread (they are cheap);
 * only `crypto.sign` moves. With `threads: 0` everything runs inline.
 */
export interface DkimSigningPool {
  sign(raw: Buffer, key: DomainKey, options?: SignOptions): Promise<Buffer>;
  close(): Promise<void>;
}

// CommonJS evaluated by the worker: only node:crypto, so it runs the same under tsx, vitest and compiled builds.
// Requests arrive in batches (one message per event-loop turn of the sender) and results go back the same way:
// a message between threads costs about as much as hashing a whole email, so one per signature would add up.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { sign } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (message) => {
  if (message.key) { keys.set(message.keyId, message.key); return; }
  const results = message.batch.map((request) => {
    try {
      return { id: request.id, signature: sign(request.digest, request.data, keys.get(request.keyId)) };
    } catch (error) {
      return { id: request.id, error: String(error && error.message || error) };
    }
  });
  parentPort.postMessage(results);
});
`;

/** A signing thread failed or exited: the message is fine, so a retry will do. */
export class SigningUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningUnavailableError';
  }
}

interface Pending {
  resolve(signature: Buffer): void;
  reject(error: Error): void;
}

interface SignRequest {
  id: number;
  keyId: number;
  digest: PendingSignature['digest'];
  /** Its own exact-size memory, transferred rather than copied. */
  data: Uint8Array;
}

interface SigningThread {
  worker: Worker;
  /** Keys already sent to this thread, by id. */
  keys: Set<number>;
  pending: Map<number, Pending>;
  /** Requests of this event-loop turn, posted together once it ends. */
  outbox: SignRequest[];
}

export function createDkimSigningPool(options: { threads: number }): DkimSigningPool {
  const threads: (SigningThread | undefined)[] = Array.from({ length: Math.max(0, options.threads) });
  const keyIds = new WeakMap<KeyObject, number>();
  let nextKeyId = 1;
  let nextId = 1;
  let turn = 0;
  let closed = false;

  function keyIdOf(key: KeyObject): number {
    let id = keyIds.get(key);
    if (id === undefined) {
      id = nextKeyId++;
      keyIds.set(key, id);
    }
    return id;
  }

  /** Threads start on first use and are replaced if one dies, failing only the signatures it held. */
  function thread(index: number): SigningThread {
    const existing = threads[index];
    if (existing) return existing;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // Idle signing threads must not keep a finished process (a CLI command, a test) alive.
    worker.unref();
    const created: SigningThread = { worker, keys: new Set(), pending: new Map(), outbox: [] };
    const fail = (error: Error) => {
      if (threads[index] === created) threads[index] = undefined;
      for (const waiting of created.pending.values()) waiting.reject(error);
      created.pending.clear();
    };
    worker.on('message', (results: { id: number; signature?: Uint8Array; error?: string }[]) => {
      for (const result of results) {
        const waiting = created.pending.get(result.id);
        if (!waiting) continue;
        created.pending.delete(result.id);
        if (result.signature) waiting.resolve(Buffer.from(result.signature));
        else waiting.reject(new SigningUnavailableError(`DKIM signing failed: ${result.error}`));
      }
      if (created.pending.size === 0) worker.unref();
    });
    worker.on('error', (error) =>
      fail(new SigningUnavailableError(`DKIM signing thread failed: ${error.message}`)),
    );
    worker.on('exit', (code) => fail(new SigningUnavailableError(`DKIM signing thread exited (${code})`)));
    threads[index] = created;
    return created;
  }

  function signOnThread(pending: PendingSignature, key: DomainKey): Promise<Buffer> {
    const signer = thread(turn % threads.length);
    const keyId = keyIdOf(key.privateKey);
    if (!signer.keys.has(keyId)) {
      signer.worker.postMessage({ keyId, key: key.privateKey });
      signer.keys.add(keyId);
    }
    const id = nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      signer.pending.set(id, { resolve, reject });
      // Referenced while a signature is outstanding, so the process waits for it.
      signer.worker.ref();
      // A small Buffer is a view into an 8 KiB shared slab, which posting would copy whole: copy the bytes out once.
      signer.outbox.push({ id, keyId, digest: pending.digest, data: new Uint8Array(pending.data) });
      if (signer.outbox.length === 1) queueMicrotask(() => post(signer));
    });
  }

  /** Posts the turn's requests to their thread; the next turn's batch goes to the next thread. */
  function post(signer: SigningThread): void {
    const batch = signer.outbox;
    signer.outbox = [];
    turn++;
    signer.worker.postMessage(
      { batch },
      batch.map((request) => request.data.buffer as ArrayBuffer),
    );
  }

  return {
    async sign(raw, key, signOptions) {
      const pending = prepareSignature(raw, key, signOptions);
      if (threads.length === 0 || closed) {
        return completeSignature(pending, sign(pending.digest, pending.data, key.privateKey));
      }
      return completeSignature(pending, await signOnThread(pending, key));
    },

    async close() {
      closed = true;
      await Promise.all(threads.map((t) => t?.worker.terminate()));
      threads.fill(undefined);
    },
  };
}
