import { DomainError } from '../../lib/errors.js';

/**
 * HTTP calls to a CRM provider's API, with the retry rules the providers
 * document: 429 and 5xx are retried after Retry-After (or a growing pause),
 * 401/403 mean the credentials are wrong and are never retried.
 */

export type ConnectorFailure = 'credentials' | 'not_found' | 'refused' | 'unavailable';

/** A provider call that did not succeed; `kind` says whether the user must act. */
export class ConnectorError extends Error {
  constructor(
    readonly kind: ConnectorFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ConnectorError';
  }
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export interface ConnectorHttpOptions {
  /** The provider's name in error messages. */
  provider: string;
  baseUrl: string;
  headers: Record<string, string>;
  sleep: Sleep;
  /** Attempts per call, the first included. */
  maxAttempts?: number;
  /** Longest pause honoured from Retry-After; longer asks fail the call (the job retries later). */
  maxWaitMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** The injected clock's time, for Retry-After given as a date. */
  now: () => number;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (header.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Reads the provider's error text (Mailchimp's `detail`, HubSpot's `message`), short, for error messages. */
function describeBody(text: string): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown; message?: unknown; title?: unknown };
    const said = body.detail ?? body.message ?? body.title;
    if (typeof said === 'string') return said.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return text.slice(0, 200);
}

export function createConnectorHttp(options: ConnectorHttpOptions) {
  const maxAttempts = options.maxAttempts ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 120_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = options.baseUrl.replace(/\/+$/, '');

  async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${base}${path}`;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
        response = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          body: body === undefined ? null : JSON.stringify(body),
          redirect: 'error',
          signal: AbortSignal.any(signals),
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (attempt >= maxAttempts) {
          throw new ConnectorError(
            'unavailable',
            `${options.provider} could not be reached (${(error as Error).message})`,
          );
        }
        await options.sleep(backoff(attempt), options.signal);
        continue;
      }
      if (response.ok) return (await response.json()) as T;
      const text = await response.text();
      if (response.status === 401 || response.status === 403) {
        throw new ConnectorError(
          'credentials',
          `${options.provider} refused the credentials (${response.status}: ${describeBody(text)}); check the API key or token and its permissions`,
          response.status,
        );
      }
      if (response.status === 404) {
        throw new ConnectorError(
          'not_found',
          `${options.provider} has no ${path.split('?')[0]} (404: ${describeBody(text)})`,
          404,
        );
      }
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable) {
        throw new ConnectorError(
          'refused',
          `${options.provider} refused ${method} ${path.split('?')[0]} (${response.status}: ${describeBody(text)})`,
          response.status,
        );
      }
      const wait = retryAfterMs(response.headers.get('retry-after'), options.now()) ?? backoff(attempt);
      if (attempt >= maxAttempts || wait > maxWaitMs) {
        throw new ConnectorError(
          'unavailable',
          `${options.provider} answered ${response.status} ${attempt} times (${describeBody(text)}); the run is retried later`,
          response.status,
        );
      }
      await options.sleep(wait, options.signal);
    }
  }

  return {
    get: <T>(path: string) => request<T>('GET', path),
    post: <T>(path: string, body: unknown) => request<T>('POST', path, body),
  };
}

/** 1 s, 2 s, 4 s, ... up to 30 s, when the provider says nothing. */
function backoff(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** (attempt - 1));
}

export type ConnectorHttp = ReturnType<typeof createConnectorHttp>;

/**
 * A failed provider call as the API's error, for the routes that read a
 * provider on request: refused credentials name the field that holds them.
 */
export function connectorProblem(error: ConnectorError, provider: string, field: string): DomainError {
  if (error.kind === 'credentials')
    return new DomainError('CONNECTOR_CREDENTIALS_REJECTED', error.message, [
      { path: field, message: `${provider} refused the transport's API key` },
    ]);
  if (error.kind === 'unavailable') return new DomainError('CONNECTOR_UNAVAILABLE', error.message);
  return new DomainError('CONNECTOR_INVALID', error.message, [{ path: field, message: error.message }]);
}
