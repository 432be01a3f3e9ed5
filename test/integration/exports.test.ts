import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/build-app.js';
import { uuidv7 } from '../../src/lib/ids.js';
import { exportCommand, exportToFile, runExport, toExportOptions } from '../../src/main/commands/export.js';
import { UsageError } from '../../src/main/commands/shared.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
/** A second workspace holding 5,000 contacts inserted with one statement. */
let bulk: { workspaceId: string; adminKey: string };
const BULK = 5000;
let ann: Record<string, unknown>;
let bo: Record<string, unknown>;
let listId: string;
/** A workspace whose export is far larger than socket buffers, to see a disconnect stop it. */
let big: { workspaceId: string; adminKey: string };
const BIG = 10_000;

beforeAll(async () => {
  t = await createTestApp();
  ann = await create({
    email: 'ann@example.com',
    external_id: 'crm-1',
    tags: ['vip', 'beta'],
    timezone: 'Europe/Berlin',
    locale: 'de-DE',
    attributes: {
      note: 'says "hi", then\nleaves; later',
      plan: 'pro',
      age: 42,
      newsletter: true,
      prefs: { color: 'red', sizes: [1, 2] },
      // Shares its name with a built-in column.
      email: 'alias@example.org',
    },
  });
  bo = await create({ email: 'bo@example.com', status: 'unsubscribed', attributes: { plan: 'free' } });
  await create({ email: 'cy@example.com' });

  listId = uuidv7();
  const now = t.clock.now();
  await sql`INSERT INTO lists (id, workspace_id, name, opt_in, visibility, created_at, updated_at)
    VALUES (${listId}, ${t.workspaceId}, 'Customers', 'single', 'private', ${now}, ${now})`.execute(
    t.container.db,
  );
  await sql`INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    VALUES (${t.workspaceId}, ${listId}, ${ann.id as string}, 'confirmed', ${now}, ${now}),
           (${t.workspaceId}, ${listId}, ${bo.id as string}, 'unsubscribed', ${now}, ${now})`.execute(
    t.container.db,
  );

  bulk = await t.createWorkspace('Bulk');
  // Ids are UUIDv7-shaped and increase with n, so id order is n order.
  await sql`INSERT INTO contacts (id, workspace_id, email, attributes, tags, created_at, updated_at)
    SELECT ('01900000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, ${bulk.workspaceId},
           'user' || n || '@example.net', jsonb_build_object('n', n), ARRAY['bulk'], ${now}, ${now}
    FROM generate_series(1, ${BULK}::int) AS n`.execute(t.container.db);

  big = await t.createWorkspace('Big');
  await sql`INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
    SELECT ('01910000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, ${big.workspaceId},
           'big' || n || '@example.net', jsonb_build_object('pad', repeat(md5(n::text), 128)), ${now}, ${now}
    FROM generate_series(1, ${BIG}::int) AS n`.execute(t.container.db);
});

afterAll(async () => {
  await t?.close();
});

async function create(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  // Ids embed the clock's millisecond: step it so creation order is id order.
  t.clock.advance(1);
  const res = await t.app.inject({ method: 'POST', url: '/v1/contacts', headers: t.auth(), payload: body });
  expect(res.statusCode).toBe(201);
  return res.json();
}

async function download(query: string, key = t.adminKey) {
  const res = await t.app.inject({
    method: 'GET',
    url: `/v1/exports/contacts${query}`,
    headers: t.auth(key),
  });
  return { status: res.statusCode, headers: res.headers, body: res.body };
}

function csv(text: string): Record<string, string>[] {
  return parse(text, { columns: true }) as Record<string, string>[];
}

function ndjson(text: string): Record<string, unknown>[] {
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const bulkId = (n: number) => `01900000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;

describe('contact export over HTTP', () => {
  it('streams CSV with built-in columns, one column per attribute and correct quoting', async () => {
    const res = await download('?format=csv');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const day = t.clock.now().toISOString().slice(0, 10);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="contacts-${day}.csv"`);

    const [header] = res.body.split('\n');
    expect(header).toBe(
      'id,email,external_id,status,tags,timezone,locale,do_not_sell,created_at,updated_at,' +
        'age,attributes.email,newsletter,note,plan,prefs',
    );
    // A cell with a comma, quotes and a line break is quoted, inner quotes doubled.
    expect(res.body).toContain('"says ""hi"", then\nleaves; later"');
    expect(res.body).toContain('"{""color"":""red"",""sizes"":[1,2]}"');

    const rows = csv(res.body);
    expect(rows.map((r) => r.email)).toEqual(['ann@example.com', 'bo@example.com', 'cy@example.com']);
    expect(rows[0]).toEqual({
      id: ann.id,
      email: 'ann@example.com',
      external_id: 'crm-1',
      status: 'active',
      tags: 'beta;vip',
      timezone: 'Europe/Berlin',
      locale: 'de-DE',
      do_not_sell: 'false',
      created_at: ann.created_at,
      updated_at: ann.updated_at,
      age: '42',
      'attributes.email': 'alias@example.org',
      newsletter: 'true',
      note: 'says "hi", then\nleaves; later',
      plan: 'pro',
      prefs: '{"color":"red","sizes":[1,2]}',
    });
    expect(rows[1]).toMatchObject({
      status: 'unsubscribed',
      external_id: '',
      tags: '',
      plan: 'free',
      age: '',
    });
    expect(rows[2]).toMatchObject({ email: 'cy@example.com', timezone: '', locale: '', plan: '', prefs: '' });
  });

  it('streams NDJSON: one Contact per line, equal to the API representation', async () => {
    const res = await download('?format=ndjson');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="contacts-\d{4}-\d{2}-\d{2}\.ndjson"$/,
    );
    const listed = await t.app.inject({ method: 'GET', url: '/v1/contacts', headers: t.auth() });
    expect(ndjson(res.body)).toEqual(listed.json().data);
    expect(ndjson(res.body)[0]).toEqual({ ...ann, engagement: null });
  });

  it('applies the same filters as GET /v1/contacts, and only finds attribute columns among matches', async () => {
    const emails = async (query: string) => csv((await download(query)).body).map((row) => row.email);
    expect(await emails('?status=unsubscribed')).toEqual(['bo@example.com']);
    expect(await emails('?tag=vip')).toEqual(['ann@example.com']);
    expect(await emails('?attribute=plan:free')).toEqual(['bo@example.com']);
    expect(await emails('?attribute=plan:pro&attribute=note:nope')).toEqual([]);
    expect(await emails(`?list_id=${listId}`)).toEqual(['ann@example.com', 'bo@example.com']);
    expect(await emails(`?list_id=${listId}&list_status=confirmed`)).toEqual(['ann@example.com']);
    expect(await emails('?email=BO@example.com')).toEqual(['bo@example.com']);

    const onlyBo = await download('?status=unsubscribed');
    expect(onlyBo.body.split('\n')[0]).toBe(
      'id,email,external_id,status,tags,timezone,locale,do_not_sell,created_at,updated_at,plan',
    );
    const none = await download('?tag=nobody');
    expect(none.body).toBe(
      'id,email,external_id,status,tags,timezone,locale,do_not_sell,created_at,updated_at\n',
    );
    expect((await download('?format=ndjson&tag=nobody')).body).toBe('');
  });

  it(`exports ${BULK} contacts exactly once each, in id order, in both formats`, async () => {
    const expected = Array.from({ length: BULK }, (_, i) => bulkId(i + 1));
    const rows = csv((await download('?format=csv', bulk.adminKey)).body);
    expect(rows).toHaveLength(BULK);
    expect(rows.map((r) => r.id)).toEqual(expected);
    expect(rows.map((r) => r.n)).toEqual(expected.map((_, i) => String(i + 1)));
    expect(rows.every((r) => r.tags === 'bulk')).toBe(true);

    const lines = ndjson((await download('?format=ndjson', bulk.adminKey)).body);
    expect(lines.map((l) => l.id)).toEqual(expected);
  });

  it("never includes another workspace's contacts", async () => {
    const mine = csv((await download('')).body);
    expect(mine).toHaveLength(3);
    expect(mine.some((r) => r.email?.endsWith('@example.net'))).toBe(false);
    const theirs = (await download('?format=ndjson', bulk.adminKey)).body;
    expect(theirs).not.toContain('@example.com');
    // A list of another workspace filters to nothing rather than leaking its members.
    expect((await download(`?format=ndjson&list_id=${listId}`, bulk.adminKey)).body).toBe('');
  });

  it('is described in the OpenAPI document with both file types', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operation = doc.paths['/v1/exports/contacts'].get;
    expect(Object.keys(operation.responses['200'].content)).toEqual(['text/csv', 'application/x-ndjson']);
    expect(operation.description).toContain('contacts:export');
    expect(operation.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['format', 'status', 'list_id', 'attribute', 'tag']),
    );
  });

  it('needs the contacts:export scope', async () => {
    const reader = await t.createKey(['contacts:read']);
    const refused = await download('', reader);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'FORBIDDEN' });
    expect(JSON.parse(refused.body).detail).toContain('contacts:export');

    const exporter = await t.createKey(['contacts:export']);
    expect((await download('', exporter)).status).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/exports/contacts' })).statusCode).toBe(401);
  });

  it('refuses an unknown format or parameter with a 400 that names it', async () => {
    const bad = await download('?format=xlsx');
    expect(bad.status).toBe(400);
    const problem = JSON.parse(bad.body);
    expect(problem.code).toBe('VALIDATION_FAILED');
    expect(problem.errors).toContainEqual({
      path: '/querystring/format',
      message: 'must be one of "csv", "ndjson"',
    });

    const unknown = await download('?limit=10');
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).errors).toContainEqual({
      path: '/querystring/limit',
      message: 'unknown field "limit"',
    });
  });

  it('stops querying when the client disconnects, and logs only the count', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const app = await buildApp({ config: t.config, logger, deps: t.container.routeDeps });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const controller = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/v1/exports/contacts?format=ndjson`, {
        headers: t.auth(big.adminKey),
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body?.getReader();
      await reader?.read();
      controller.abort();
      await expect.poll(() => lines.find((l) => l.includes('contacts export finished'))).toBeTruthy();
      const finished = JSON.parse(lines.find((l) => l.includes('contacts export finished')) ?? '{}');
      expect(finished.complete).toBe(false);
      expect(finished.exported).toBeLessThan(BIG);

      // Complete run for comparison, then no personal data anywhere in the log.
      await fetch(`http://127.0.0.1:${port}/v1/exports/contacts`, { headers: t.auth() }).then((r) =>
        r.text(),
      );
      await expect.poll(() => lines.filter((l) => l.includes('contacts export finished')).length).toBe(2);
      const last = JSON.parse(lines.filter((l) => l.includes('contacts export finished'))[1] ?? '{}');
      expect(last).toMatchObject({ exported: 3, complete: true, format: 'csv' });
      expect(lines.join('')).not.toMatch(/example\.(com|net|org)/);
    } finally {
      await app.close();
    }
  });

  it('pulls pages only as fast as the reader consumes them', async () => {
    let result: { count: number; complete: boolean } | undefined;
    const file = await t.container.exports.contacts(
      bulk.workspaceId,
      {},
      { format: 'csv', pageSize: 100, onEnd: (r) => (result = r) },
    );
    let chunks = 0;
    for await (const _chunk of file.stream) {
      if (++chunks === 3) break;
    }
    await expect.poll(() => result).toBeDefined();
    expect(result?.complete).toBe(false);
    // The header, two pages read, at most a few more buffered: far from all 50 pages.
    expect(result?.count).toBeLessThanOrEqual(1000);
  });
});

describe('herald export (CLI)', () => {
  async function collect(options: Parameters<typeof toExportOptions>[0]): Promise<string> {
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (chunk: Buffer) => parts.push(chunk));
    const { count } = await runExport(t.container, toExportOptions(options), out);
    expect(count).toBeGreaterThanOrEqual(0);
    return Buffer.concat(parts).toString();
  }

  it('writes the same CSV and NDJSON as the API, with the same filters', async () => {
    const workspace = t.workspaceId;
    expect(await collect({ format: 'csv', workspace })).toBe((await download('')).body);
    expect(await collect({ format: 'ndjson', workspace })).toBe((await download('?format=ndjson')).body);
    expect(await collect({ format: 'csv', workspace, status: 'unsubscribed' })).toBe(
      (await download('?status=unsubscribed')).body,
    );
    expect(
      await collect({
        format: 'csv',
        workspace,
        list: listId,
        listStatus: 'confirmed',
        attribute: ['plan:pro'],
      }),
    ).toBe((await download(`?list_id=${listId}&list_status=confirmed&attribute=plan:pro`)).body);
    expect(await collect({ format: 'csv', workspace: bulk.workspaceId, tag: 'bulk' })).toBe(
      (await download('?tag=bulk', bulk.adminKey)).body,
    );
  });

  it('writes a file with owner-only permissions and leaves no partial file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-export-'));
    try {
      const path = join(dir, 'contacts.csv');
      const { count } = await exportToFile(
        t.container,
        toExportOptions({ format: 'csv', workspace: t.workspaceId }),
        path,
      );
      expect(count).toBe(3);
      expect(readFileSync(path, 'utf8')).toBe((await download('')).body);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual(['contacts.csv']);

      await expect(
        exportToFile(
          t.container,
          toExportOptions({ format: 'csv', workspace: uuidv7() }),
          join(dir, 'x.csv'),
        ),
      ).rejects.toThrow(/workspace/i);
      expect(readdirSync(dir)).toEqual(['contacts.csv']);
      await expect(
        exportToFile(t.container, toExportOptions({ format: 'csv' }), join(dir, 'missing', 'x.csv')),
      ).rejects.toThrow(UsageError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports every bad flag at once, and documents itself in --help', () => {
    let error: unknown;
    try {
      toExportOptions({ format: 'csv', list: 'customers', attribute: ['plan'], listStatus: 'confirmed' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('--list "customers" is not a list id');
    expect((error as Error).message).toContain('--attribute "plan" must be name:value');

    const help = exportCommand().helpInformation();
    for (const flag of [
      '--format',
      '--out',
      '--status',
      '--list ',
      '--list-status',
      '--tag',
      '--attribute',
      '--workspace',
    ]) {
      expect(help).toContain(flag);
    }
  });
});
