import { TransportError } from './transport.js';

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * One HTTP request to a provider API. Network failures and timeouts become
 * `connection` errors, so the caller only classifies the answers it got.
 */
export async function request(
  url: string,
  init: { method: string; headers: Record<string, string>; body: string | Buffer | FormData },
  timeoutMs: number,
): Promise<HttpResponse> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    throw new TransportError(
      'connection',
      timedOut ? `no answer within ${timeoutMs} ms` : `could not reach ${new URL(url).host}`,
      timedOut ? 'ETIMEDOUT' : 'ECONNECTION',
      error,
    );
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new TransportError('connection', 'the connection broke while reading the answer', 'ESOCKET', error);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The usual reading of an HTTP status when the provider gives nothing more specific. */
export function classifyStatus(status: number): 'permanent' | 'temporary' | 'connection' {
  if (status === 401 || status === 403) return 'connection';
  if (status === 408 || status === 429 || status >= 500) return 'temporary';
  return 'permanent';
}

export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Plain-HTTP base URLs are accepted only for loopback hosts (local test servers). */
export function checkBaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error('base URL must use https (plain http only for 127.0.0.1/localhost)');
  }
  return url.toString().replace(/\/+$/, '');
}
