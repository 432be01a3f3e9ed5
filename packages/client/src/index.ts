/**
 * @herald/client: a typed wrapper over fetch for Herald's HTTP API. Paths,
 * parameters, bodies and responses are typed from the generated `paths`
 * (src/schema.ts); the wrapper adds the Authorization header, JSON bodies and
 * a HeraldError carrying the problem+json fields on any non-2xx answer.
 */
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The paths that have an operation for this method. */
export type PathsWith<M extends HttpMethod> = {
  [P in keyof paths]: paths[P] extends { [K in M]: object } ? P : never;
}[keyof paths];

type Operation<P extends keyof paths, M extends HttpMethod> = paths[P] extends { [K in M]: infer O }
  ? O
  : never;

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/** Only the parameter kinds the operation takes (path, query), without the `never` ones. */
type Parameters<O> = O extends { parameters: infer P }
  ? { [K in keyof P as [NonNullable<P[K]>] extends [never] ? never : K]: P[K] }
  : never;

type ParamsOption<O> = [RequiredKeys<Parameters<O>>] extends [never]
  ? { params?: Parameters<O> }
  : { params: Parameters<O> };

type JsonBody<O> = O extends { requestBody?: infer B }
  ? B extends { content: { 'application/json': infer J } }
    ? J
    : never
  : never;

type BodyOption<O> = [JsonBody<O>] extends [never]
  ? { body?: never }
  : O extends { requestBody: object }
    ? { body: JsonBody<O> }
    : { body?: JsonBody<O> };

type SuccessStatus = 200 | 201 | 202 | 203 | 204 | 206;

/** The JSON body of the operation's 2xx answers (`undefined` for 204). */
export type SuccessData<O> = O extends { responses: infer R }
  ? {
      [S in keyof R]: S extends SuccessStatus
        ? R[S] extends { content: { 'application/json': infer J } }
          ? J
          : undefined
        : never;
    }[keyof R]
  : never;

export type RequestOptions<O> = ParamsOption<O> &
  BodyOption<O> & {
    /** Extra headers, e.g. Idempotency-Key. */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

export interface HeraldResponse<T> {
  data: T;
  response: Response;
}

/** A problem+json body as Herald sends it (RFC 9457 plus a stable `code`). */
export type Problem = components['schemas']['Problem'];

/** Thrown for every non-2xx answer; carries the problem+json fields. */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';
  readonly status: number;
  /** Stable machine-readable code, e.g. CONTACT_NOT_FOUND. */
  readonly code: string;
  readonly title: string;
  /** What was wrong and how to fix it. */
  readonly detail: string;
  readonly type: string;
  readonly requestId: string | undefined;
  /** Per-field problems of a validation error. */
  readonly errors: Problem['errors'];
  readonly response: Response;

  constructor(problem: Problem, response: Response) {
    super(`${problem.code}: ${problem.detail}`);
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.type = problem.type;
    this.requestId = problem.request_id || undefined;
    this.errors = problem.errors;
    this.response = response;
  }
}

export interface ClientOptions {
  /** Where Herald listens, e.g. https://herald.example.com (paths start with /v1). */
  baseUrl: string;
  /** A Herald API key (hk_...). */
  apiKey?: string;
  /** Or an OAuth access token from POST /oauth/token. */
  accessToken?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

type Call<M extends HttpMethod> = <P extends PathsWith<M>>(
  path: P,
  ...options: [RequiredKeys<RequestOptions<Operation<P, M>>>] extends [never]
    ? [options?: RequestOptions<Operation<P, M>>]
    : [options: RequestOptions<Operation<P, M>>]
) => Promise<HeraldResponse<SuccessData<Operation<P, M>>>>;

export interface HeraldClient {
  GET: Call<'get'>;
  POST: Call<'post'>;
  PUT: Call<'put'>;
  PATCH: Call<'patch'>;
  DELETE: Call<'delete'>;
}

interface UntypedOptions {
  params?: { path?: Record<string, unknown>; query?: Record<string, unknown> };
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function createClient(options: ClientOptions): HeraldClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const token = options.apiKey ?? options.accessToken;

  const request = async (method: string, path: string, init: UntypedOptions = {}) => {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    Object.assign(headers, init.headers);
    const response = await doFetch(buildUrl(baseUrl, path, init.params), {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    if (!response.ok) throw new HeraldError(await readProblem(response), response);
    const text = response.status === 204 ? '' : await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json');
    const data = text === '' ? undefined : isJson ? JSON.parse(text) : text;
    return { data, response };
  };

  const call = (method: string) => (path: string, init?: UntypedOptions) => request(method, path, init);
  return {
    GET: call('GET'),
    POST: call('POST'),
    PUT: call('PUT'),
    PATCH: call('PATCH'),
    DELETE: call('DELETE'),
  } as unknown as HeraldClient;
}

function buildUrl(baseUrl: string, path: string, params: UntypedOptions['params']): string {
  const filled = path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const value = params?.path?.[name];
    if (value === undefined || value === null)
      throw new TypeError(`Missing path parameter "${name}" for ${path}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params?.query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const query = search.toString();
  return `${baseUrl}${filled}${query ? `?${query}` : ''}`;
}

/** The problem+json body, or one made up from the status when the answer is not one (a proxy's HTML page). */
async function readProblem(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (parsed && typeof parsed.code === 'string') {
      return {
        type: parsed.type ?? 'about:blank',
        title: parsed.title ?? response.statusText,
        status: parsed.status ?? response.status,
        code: parsed.code,
        detail: parsed.detail ?? '',
        request_id: parsed.request_id ?? response.headers.get('x-request-id') ?? '',
        ...(parsed.errors ? { errors: parsed.errors } : {}),
      };
    }
  } catch {
    // Not JSON: described below.
  }
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    code: `HTTP_${response.status}`,
    detail: text.slice(0, 500) || `Herald answered ${response.status} without a problem body.`,
    request_id: response.headers.get('x-request-id') ?? '',
  };
}
