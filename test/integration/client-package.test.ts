import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, HeraldError } from '../../packages/client/src/index.js';
import { CLIENT_DIR, generateClientSchema } from '../../scripts/client-schema.js';
import { buildOpenApiDocument, serializeOpenApiDocument } from '../../src/main/openapi-document.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const REGENERATE =
  'packages/client is out of date with the routes: run `npm run client:generate` and commit the result';

describe('packages/client is generated from the current routes', () => {
  // Generating takes seconds: the first test keeps its document for the second.
  let generated: string | undefined;

  it('openapi.json and src/schema.ts match a fresh generation', { timeout: 180_000 }, async () => {
    const document = await buildOpenApiDocument();
    generated = serializeOpenApiDocument(document);
    const storedDocument = readFileSync(join(CLIENT_DIR, 'openapi.json'), 'utf8');
    // Compared as booleans so a mismatch prints the instruction, not a 2 MB diff.
    expect(storedDocument === generated, REGENERATE).toBe(true);
    const storedSchema = readFileSync(join(CLIENT_DIR, 'src', 'schema.ts'), 'utf8');
    expect(storedSchema === (await generateClientSchema(document)), REGENERATE).toBe(true);
  });

  it('generates the same document again (stable, sorted output)', { timeout: 180_000 }, async () => {
    const again = serializeOpenApiDocument(await buildOpenApiDocument());
    expect(generated, 'the first test generated no document').toBeDefined();
    expect(again === generated).toBe(true);
    const paths = Object.keys((JSON.parse(again) as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual([...paths].sort());
    expect(paths).toContain('/v1/contacts/{id}');
  });
});

describe('@herald/client against a listening Herald', () => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    t = await createTestApp();
    baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates a contact and reads it back', async () => {
    const client = createClient({ baseUrl: `${baseUrl}/`, apiKey: t.adminKey });
    const created = await client.POST('/v1/contacts', {
      body: { email: 'Ann@Example.com', attributes: { plan: 'pro' }, tags: ['vip'] },
    });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ email: 'Ann@example.com', status: 'active', tags: ['vip'] });

    const read = await client.GET('/v1/contacts/{id}', { params: { path: { id: created.data.id } } });
    expect(read.data.id).toBe(created.data.id);
    expect(read.data.attributes).toEqual({ plan: 'pro' });
  });

  it('lists with a cursor, page by page, without repeats', async () => {
    const client = createClient({ baseUrl, apiKey: t.adminKey });
    for (const n of [1, 2, 3, 4, 5])
      await client.POST('/v1/contacts', { body: { email: `page${n}@example.com` } });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.GET('/v1/contacts', {
        params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } },
      });
      expect(page.data.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.data.map((c) => c.email));
      cursor = page.data.next_cursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((e) => e.startsWith('page')).sort()).toEqual(
      [1, 2, 3, 4, 5].map((n) => `page${n}@example.com`),
    );
  });

  it('throws a HeraldError with the problem fields on a 404', async () => {
    const client = createClient({ baseUrl, apiKey: t.adminKey });
    const error = await client
      .GET('/v1/contacts/{id}', { params: { path: { id: '0190a000-0000-7000-8000-000000000000' } } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(HeraldError);
    const problem = error as HeraldError;
    expect(problem.status).toBe(404);
    expect(problem.code).toBe('CONTACT_NOT_FOUND');
    expect(problem.detail).toMatch(/0190a000-0000-7000-8000-000000000000/);
    expect(problem.requestId).toBe(problem.response.headers.get('x-request-id'));
  });

  it('throws on a validation error with the field problems, and nothing is stored', async () => {
    const client = createClient({ baseUrl, apiKey: t.adminKey });
    const error = await client.POST('/v1/contacts', { body: { email: 'not-an-address' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).status).toBe(400);
    expect((error as HeraldError).code).toMatch(/^[A-Z_]+$/);
    const found = await client.GET('/v1/contacts', { params: { query: { email: 'not-an-address' } } });
    expect(found.data.data).toEqual([]);
  });

  it('sends the key as a bearer token: a wrong key is refused, a narrow key is held to its scopes', async () => {
    const wrong = createClient({ baseUrl, apiKey: 'hk_wrong' });
    const error = await wrong.GET('/v1/contacts').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).status).toBe(401);

    const readOnly = createClient({ baseUrl, apiKey: await t.createKey(['contacts:read']) });
    const forbidden = await readOnly.POST('/v1/contacts', { body: { email: 'ro@example.com' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(forbidden).toBeInstanceOf(HeraldError);
    expect((forbidden as HeraldError).status).toBe(403);
    expect((await readOnly.GET('/v1/contacts')).response.status).toBe(200);
  });

  it('works with an OAuth access token from POST /oauth/token', async () => {
    const admin = createClient({ baseUrl, apiKey: t.adminKey });
    const { data: oauthClient } = await admin.POST('/v1/oauth/clients', {
      body: { name: 'reporting', scopes: ['contacts:read'] },
    });
    const anonymous = createClient({ baseUrl });
    const { data: token } = await anonymous.POST('/oauth/token', {
      body: {
        grant_type: 'client_credentials',
        client_id: oauthClient.client_id,
        client_secret: oauthClient.client_secret,
      },
    });
    const service = createClient({ baseUrl, accessToken: token.access_token });
    const page = await service.GET('/v1/contacts', { params: { query: { limit: 1 } } });
    expect(page.data.data).toHaveLength(1);
    await expect(service.POST('/v1/contacts', { body: { email: 'svc@example.com' } })).rejects.toMatchObject({
      status: 403,
    });
    await expect(anonymous.GET('/v1/contacts')).rejects.toMatchObject({ status: 401 });
  });

  it('types paths, bodies and parameters: what tsc refuses, Herald refuses too', async () => {
    const client = createClient({ baseUrl, apiKey: t.adminKey });
    // Each @ts-expect-error fails npm run check if the generated types stop catching the mistake.
    // @ts-expect-error unknown path
    await expect(client.GET('/v1/no-such-route')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
    // @ts-expect-error the body needs an email
    await expect(client.POST('/v1/contacts', { body: { tags: ['x'] } })).rejects.toMatchObject({
      status: 400,
    });
    // @ts-expect-error the path parameters are required
    await expect(client.GET('/v1/contacts/{id}')).rejects.toThrow(/Missing path parameter "id"/);
  });

  it('refuses a missing path parameter before sending anything', async () => {
    const client = createClient({ baseUrl, apiKey: t.adminKey });
    // @ts-expect-error the id is required by the generated types
    await expect(client.GET('/v1/contacts/{id}', { params: { path: {} } })).rejects.toThrow(
      /Missing path parameter "id"/,
    );
  });

  it('describes a non-problem answer as a HeraldError too', async () => {
    const notHerald = createClient({
      baseUrl,
      fetch: async () => new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    });
    const error = await notHerald.GET('/v1/contacts').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).code).toBe('HTTP_502');
    expect((error as HeraldError).detail).toContain('Bad gateway');
  });
});
