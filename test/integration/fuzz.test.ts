import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeEmail } from '../../src/modules/contacts/email-address.js';
import {
  arbitraryFor,
  HOSTILE_STRINGS,
  hostileValue,
  idsFor,
  type JsonSchema,
} from '../helpers/schema-arbitrary.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Random and hostile input over every route of the route table (write API and
 * public endpoints), generated from the routes' own OpenAPI schemas: no request
 * may answer 5xx, and what was stored must still satisfy the rules the API
 * enforces (valid, normalized addresses; attribute values of their defined
 * type). Walking the route table covers routes added later.
 */

const RUNS_PER_ROUTE = 12;
/** FUZZ_TRACE=<file> appends every request and its answer there, to replay a failure by hand. */
const TRACE_FILE = process.env.FUZZ_TRACE;
/** Fixed so a failure replays; change it to explore. */
const SEED = 20261207;
/** Thousands of requests, many compiling templates: minutes on a busy two-core machine. */
const FUZZ_TIMEOUT_MS = 600_000;

/**
 * Routes whose only job is to reach the network outside the process (a test
 * send over a transport, DNS checks, provider pulls): traffic in tests goes to
 * 127.0.0.1 only, and these routes are exercised by their own tests.
 */
const REACHES_OUT = /\/(test|check|ping)$|^\/v1\/connectors\/(mailchimp|hubspot|mailgun)/;

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  parameters?: { in: string; name: string; required?: boolean; schema?: JsonSchema }[];
}

let t: TestApp;
let operations: Record<string, Record<string, OpenApiOperation>>;
/** Real ids of this workspace's objects by kind, so fuzzed requests reach existing rows too. */
const knownIds: Record<string, string> = {};
/** Answers per route and status class, reported at the end: a fuzz that only ever meets validation proves little. */
const tally = new Map<string, { ok: number; refused: number }>();

beforeAll(async () => {
  // Should anything still try to reach out, it meets a closed port on this machine.
  t = await createTestApp({
    HERALD_DNS_SERVERS: '127.0.0.1:9',
    HERALD_MAILCHIMP_BASE_URL: 'http://127.0.0.1:9',
    HERALD_HUBSPOT_BASE_URL: 'http://127.0.0.1:9',
    // Thousands of requests from one key: the per-key limit would answer most of them.
    HERALD_RATE_LIMIT_PER_MINUTE: '1000000',
  });
  operations = (t.app.swagger() as { paths: typeof operations }).paths;
  const headers = t.auth();
  const create = async (url: string, payload: object) => {
    const res = await t.app.inject({ method: 'POST', url, headers, payload });
    if (res.statusCode >= 300) throw new Error(`fixture ${url}: ${res.statusCode} ${res.body}`);
    const body = res.json();
    // '/v1/contacts' -> 'contact'
    if (typeof body.id === 'string') knownIds[(url.split('/')[2] ?? '').replace(/s$/, '')] = body.id;
    return body;
  };
  await create('/v1/attributes', { name: 'plan', type: 'string' });
  await create('/v1/attributes', { name: 'age', type: 'number' });
  await create('/v1/contacts', { email: 'fixture@example.com', attributes: { plan: 'pro', age: 40 } });
  const list = await create('/v1/lists', { name: 'Public', opt_in: 'single', visibility: 'public' });
  await create('/v1/templates', { name: 'Fixture', format: 'html', subject: 'Hi', body: '<p>Hi</p>' });
  await create('/v1/campaigns', { name: 'Fixture', lists: [list.id] });
  await create('/v1/segments', {
    name: 'Fixture',
    definition: { field: 'email', operator: 'ends_with', value: '@example.com' },
  });
});

afterAll(async () => {
  const rows = [...tally.entries()];
  const ok = rows.reduce((n, [, c]) => n + c.ok, 0);
  const refused = rows.reduce((n, [, c]) => n + c.refused, 0);
  console.log(
    `fuzz: ${ok + refused} authenticated requests over ${rows.length} routes; ${ok} accepted, ${refused} refused with 4xx; routes never accepting: ${rows.filter(([, c]) => c.ok === 0).length}`,
  );
  await t?.close();
});

function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, '{$1}');
}

/** A path parameter: mostly the real object the route addresses (`/v1/lists/:id` -> the list). */
function paramValue(url = ''): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...idsFor(url.split('/')[2] ?? '', knownIds)) },
    { weight: 1, arbitrary: fc.uuid() },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length > 0 && s.length < 400)),
    },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
  );
}

function requestArbitrary(method: string, url: string) {
  const operation = operations[openApiPath(url)]?.[method.toLowerCase()];
  const names = [...url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] as string);
  const params = fc.tuple(...names.map(() => paramValue(url)));
  const queryParameters = (operation?.parameters ?? []).filter((p) => p.in === 'query');
  const query = fc.record(
    Object.fromEntries(
      queryParameters
        // A cursor is opaque and signed by Herald: a random one is refused, which bad-input tests cover.
        .filter((p) => p.name !== 'cursor')
        .map((p) => [p.name, arbitraryFor(p.schema, knownIds).map((v) => String(v ?? ''))]),
    ),
    { requiredKeys: [] },
  );
  const bodySchema = operation?.requestBody?.content?.['application/json']?.schema;
  const body = bodySchema ? arbitraryFor(bodySchema, knownIds) : fc.option(hostileValue, { nil: undefined });
  return fc.record({ params, query, body });
}

function buildUrl(url: string, params: string[], query: Record<string, string | undefined>): string {
  let i = 0;
  const path = url.replace(/:([A-Za-z_]+)/g, () => encodeURIComponent(params[i++] ?? 'x'));
  const defined = Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined);
  const search = new URLSearchParams(defined).toString();
  return search ? `${path}?${search}` : path;
}

async function fuzzRoute(method: string, url: string, headers: Record<string, string>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(requestArbitrary(method, url), async ({ params, query, body }) => {
      if (TRACE_FILE)
        appendFileSync(
          TRACE_FILE,
          `${Date.now()} ${method} ${buildUrl(url, params, query)} ${JSON.stringify(body)?.slice(0, 2000)}\n`,
        );
      const res = await t.app.inject({
        method: method as 'POST',
        url: buildUrl(url, params, query),
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      if (TRACE_FILE) appendFileSync(TRACE_FILE, `  -> ${res.statusCode} ${res.body.slice(0, 400)}\n`);
      expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 500)}`).toBeLessThan(500);
      const counts = tally.get(`${method} ${url}`) ?? { ok: 0, refused: 0 };
      if (res.statusCode < 400) counts.ok++;
      else counts.refused++;
      tally.set(`${method} ${url}`, counts);
      if (res.statusCode >= 400 && String(res.headers['content-type']).includes('json')) {
        // Every refusal says what was wrong.
        expect(typeof res.json().detail, `${method} ${url}: ${res.body.slice(0, 300)}`).toBe('string');
      }
    }),
    { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
  );
}

describe('fuzzing the API with random and hostile input', () => {
  it(
    'never answers 5xx on the read API',
    async () => {
      const routes = t.app.routeTable.filter(
        (r) =>
          !r.public && !r.session && r.method === 'GET' && !REACHES_OUT.test(r.url) && r.url !== '/metrics',
      );
      for (const route of routes) await fuzzRoute(route.method, route.url, t.auth());
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'never answers 5xx on the write API, whatever the body, query and path',
    async () => {
      const routes = t.app.routeTable.filter(
        (r) => !r.public && r.method !== 'GET' && !REACHES_OUT.test(r.url) && !r.url.startsWith('/v1/track'),
      );
      expect(routes.length).toBeGreaterThan(50);
      for (const route of routes) await fuzzRoute(route.method, route.url, t.auth());
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'never answers 5xx on the public endpoints (signed links, forms, provider webhooks)',
    async () => {
      const routes = t.app.routeTable.filter(
        (r) => r.public && !/^\/(docs|openapi\.json|healthz|readyz)/.test(r.url),
      );
      expect(routes.length).toBeGreaterThan(5);
      const bodies = fc.oneof(
        hostileValue.map((v) => ({ type: 'application/json', payload: JSON.stringify(v) })),
        fc
          .dictionary(
            fc.string({ maxLength: 10 }),
            fc.oneof(fc.string(), fc.constantFrom(...HOSTILE_STRINGS)),
          )
          .map((d) => ({
            type: 'application/x-www-form-urlencoded',
            payload: new URLSearchParams(d).toString(),
          })),
        fc.string({ maxLength: 300 }).map((s) => ({ type: 'text/plain', payload: s })),
        fc.constant({ type: 'application/json', payload: '{"unterminated": ' }),
      );
      for (const route of routes) {
        const names = [...route.url.matchAll(/:([A-Za-z_]+)/g)];
        await fc.assert(
          fc.asyncProperty(
            fc.tuple(...names.map(() => paramValue(route.url))),
            bodies,
            fc.constantFrom(...HOSTILE_STRINGS.slice(0, 12)),
            async (params, body, header) => {
              const res = await t.app.inject({
                method: route.method as 'POST',
                url: buildUrl(route.url, params, {}),
                headers: {
                  'content-type': body.type,
                  'user-agent': header,
                  'x-forwarded-for': header,
                  'sec-gpc': '1',
                },
                ...(route.method === 'GET' ? {} : { payload: body.payload }),
              });
              expect(res.statusCode, `${route.method} ${route.url}: ${res.body.slice(0, 300)}`).toBeLessThan(
                500,
              );
              // A public endpoint never redirects on input it did not sign.
              if (res.statusCode >= 300 && res.statusCode < 400) expect(route.url).not.toBe('/c/:token');
            },
          ),
          { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
        );
      }
    },
    FUZZ_TIMEOUT_MS,
  );

  it('stored nothing that breaks the rules the API enforces', async () => {
    const pool = t.container.database.pool;
    const contacts = await pool.query<{ email: string; attributes: Record<string, unknown> }>(
      'SELECT email, attributes FROM contacts',
    );
    // The fuzz did store contacts (and may have deleted some since).
    expect(tally.get('POST /v1/contacts')?.ok ?? 0).toBeGreaterThan(0);
    const definitions = await pool.query<{ workspace_id: string; name: string; type: string }>(
      'SELECT workspace_id, name, type FROM attribute_definitions',
    );
    const typeOf = new Map(definitions.rows.map((d) => [d.name, d.type]));
    for (const contact of contacts.rows) {
      const check = normalizeEmail(contact.email);
      expect(check.ok && check.email, `stored address ${JSON.stringify(contact.email)}`).toBe(contact.email);
      for (const [name, value] of Object.entries(contact.attributes ?? {})) {
        const type = typeOf.get(name);
        if (value === null || !type) continue;
        const expected = { string: 'string', number: 'number', boolean: 'boolean' }[type];
        if (expected) expect(typeof value, `attribute ${name} of type ${type}`).toBe(expected);
      }
    }
    const lists = await pool.query<{ name: string }>('SELECT name FROM lists');
    for (const list of lists.rows)
      expect(list.name.trim().length, 'a list with a blank name').toBeGreaterThan(0);
  });
});
