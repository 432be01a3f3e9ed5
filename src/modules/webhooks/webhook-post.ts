import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { type Resolve, resolveAllowed } from './address-guard.js';

export interface PostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
  resolve?: Resolve | undefined;
}

export interface PostResult {
  statusCode: number;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * POSTs a webhook. The host is resolved and every address checked first
 * (address-guard.ts); the connection then goes to a checked address through
 * the request's own `lookup`, so a second DNS answer (rebinding) is never
 * used. Redirects are not followed; the whole exchange is bounded by
 * `timeoutMs`; the response body is read and dropped.
 */
export async function postWebhook(options: PostOptions): Promise<PostResult> {
  const url = new URL(options.url);
  const addresses = await resolveAllowed(url.hostname, {
    allowPrivate: options.allowPrivate,
    resolve: options.resolve,
  });
  const pinnedLookup = (_host: string, lookupOptions: LookupOptions, callback: LookupCallback) => {
    if (lookupOptions.all) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    callback(null, first.address, first.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body).toString() },
        lookup: pinnedLookup as unknown as typeof import('node:dns').lookup,
        agent: false,
      },
      (response) => {
        response.on('data', () => {});
        response.on('end', () => {
          clearTimeout(timer);
          resolve({ statusCode: response.statusCode ?? 0 });
        });
        response.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      },
    );
    const timer = setTimeout(
      () => request.destroy(new Error(`no complete answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(options.body);
  });
}
