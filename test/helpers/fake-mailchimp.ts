import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Mailchimp Marketing API v3 server on 127.0.0.1 that speaks the documented
 * shapes Herald uses: Basic auth with the API key as password, GET
 * /lists/{id}, /lists/{id}/merge-fields and /lists/{id}/members with count,
 * offset, fields and since_last_changed, errors as problem documents, and
 * scripted failures (429 with Retry-After, 5xx) for the next member pages.
 * Tags change through POST /lists/{id}/members/{subscriber_hash}/tags
 * (body `{"tags": [{"name", "status": "active" | "inactive"}]}`, 204), as an
 * account user or Mailchimp's UI would; the member's last_changed becomes
 * `now()`, so a sync reads the member again.
 */
export interface FakeMember {
  email_address: string;
  status: string;
  merge_fields?: Record<string, unknown>;
  tags?: { id: number; name: string }[];
  last_changed: string;
  timestamp_opt?: string;
  ip_opt?: string;
}

export interface FakeAudience {
  id: string;
  name: string;
  merge_fields: { tag: string; name: string; type: string }[];
  members: FakeMember[];
}

export interface FakeMailchimp {
  baseUrl: string;
  apiKey: string;
  audiences: Map<string, FakeAudience>;
  /** Answers for the next members requests, in order (then normal pages again). */
  failures: { status: number; retryAfter?: string }[];
  /** Fails every members request at this offset with `status`, `times` times. */
  failAtOffset: { offset: number; status: number; times: number } | undefined;
  /** Every request's path and query, in order. */
  requests: { path: string; query: URLSearchParams; authorized: boolean }[];
  /** The server's clock for last_changed (tests pass their own). */
  now: () => Date;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(json);
}

function problem(res: ServerResponse, status: number, title: string, detail: string, headers = {}) {
  send(
    res,
    status,
    { type: 'https://mailchimp.com/developer/', title, status, detail, instance: 'x' },
    headers,
  );
}

export async function startFakeMailchimp(
  apiKey = '0123456789abcdef0123456789abcdef-us21',
): Promise<FakeMailchimp> {
  const audiences = new Map<string, FakeAudience>();
  const failures: FakeMailchimp['failures'] = [];
  const requests: FakeMailchimp['requests'] = [];
  const state = { apiKey, nextTagId: 1000 };

  /** The documented member tags endpoint: activate or deactivate tags by name. */
  function changeTags(res: ServerResponse, audience: FakeAudience, hash: string, body: string) {
    const member = audience.members.find(
      (m) => createHash('md5').update(m.email_address.toLowerCase()).digest('hex') === hash.toLowerCase(),
    );
    if (!member) return problem(res, 404, 'Resource Not Found', 'The requested resource could not be found.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return problem(res, 400, 'Invalid Resource', 'The resource submitted could not be validated.');
    }
    const tags = (parsed as { tags?: unknown }).tags;
    const valid =
      Array.isArray(tags) &&
      tags.every(
        (t) =>
          typeof t === 'object' &&
          t !== null &&
          typeof (t as { name?: unknown }).name === 'string' &&
          ['active', 'inactive'].includes((t as { status?: unknown }).status as string),
      );
    if (!valid) {
      return problem(
        res,
        400,
        'Invalid Resource',
        'tags must be an array of {name, status: active|inactive}',
      );
    }
    let current = member.tags ?? [];
    for (const tag of tags as { name: string; status: 'active' | 'inactive' }[]) {
      if (tag.status === 'inactive') current = current.filter((t) => t.name !== tag.name);
      else if (!current.some((t) => t.name === tag.name)) {
        state.nextTagId += 1;
        current = [...current, { id: state.nextTagId, name: tag.name }];
      }
    }
    member.tags = current;
    member.last_changed = fake.now().toISOString();
    res.writeHead(204);
    res.end();
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const header = req.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString() : '';
    const authorized = decoded.slice(decoded.indexOf(':') + 1) === state.apiKey && decoded.includes(':');
    requests.push({ path: url.pathname, query: url.searchParams, authorized });
    if (!authorized) {
      return problem(
        res,
        401,
        'API Key Invalid',
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
      );
    }
    const tagsPath = /^\/3\.0\/lists\/([^/]+)\/members\/([0-9a-fA-F]{32})\/tags$/.exec(url.pathname);
    if (tagsPath?.[1] && tagsPath[2] && req.method === 'POST') {
      const audience = audiences.get(decodeURIComponent(tagsPath[1]));
      if (!audience)
        return problem(res, 404, 'Resource Not Found', 'The requested resource could not be found.');
      return changeTags(res, audience, tagsPath[2], body);
    }
    const match = /^\/3\.0\/lists\/([^/]+)(\/merge-fields|\/members)?$/.exec(url.pathname);
    const audience = match?.[1] ? audiences.get(decodeURIComponent(match[1])) : undefined;
    if (!match || !audience) {
      return problem(res, 404, 'Resource Not Found', 'The requested resource could not be found.');
    }
    if (!match[2]) {
      return send(res, 200, {
        id: audience.id,
        name: audience.name,
        stats: { member_count: audience.members.length },
      });
    }
    if (match[2] === '/merge-fields')
      return send(res, 200, {
        merge_fields: audience.merge_fields,
        total_items: audience.merge_fields.length,
      });
    const failure = failures.shift();
    if (failure) {
      return problem(
        res,
        failure.status,
        'Too Many Requests',
        'You have exceeded the limit of 10 simultaneous connections.',
        failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
      );
    }
    const count = Number(url.searchParams.get('count') ?? '10');
    const offset = Number(url.searchParams.get('offset') ?? '0');
    const planned = fake.failAtOffset;
    if (planned && planned.offset === offset && planned.times > 0) {
      planned.times -= 1;
      return problem(res, planned.status, 'Bad Gateway', 'upstream failed');
    }
    if (count > 1000) return problem(res, 400, 'Invalid Resource', 'count must be at most 1000');
    const since = url.searchParams.get('since_last_changed');
    const matching = since
      ? audience.members.filter((m) => Date.parse(m.last_changed) > Date.parse(since))
      : audience.members;
    send(res, 200, {
      members: matching.slice(offset, offset + count),
      total_items: matching.length,
      list_id: audience.id,
    });
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  // Longer than a page takes to apply, so a kept-alive connection is not closed under the client.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeMailchimp = {
    failAtOffset: undefined,
    now: () => new Date(),
    baseUrl: `http://127.0.0.1:${port}/3.0`,
    get apiKey() {
      return state.apiKey;
    },
    set apiKey(value: string) {
      state.apiKey = value;
    },
    audiences,
    failures,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return fake;
}
