import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHerald, type ServerProcess, startHerald } from '../helpers/herald-process.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../helpers/test-database.js';

/**
 * A newcomer's first five minutes, against the real `herald` process over
 * real HTTP: start on an empty database, get the admin key, create a key, a
 * list and a contact, import a CSV with three bad rows, and export it back.
 */

let dataDir: string;
let database: TestDatabase | undefined;
let env: Record<string, string>;
let server: ServerProcess;
let adminKey: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
  env = { HERALD_DATA_DIR: dataDir, HERALD_JOB_POLL_INTERVAL_MS: '50' };
  if (testTarget() === 'postgres') {
    database = await createTestDatabase();
    // Start from an empty database, as a newcomer would: the template is already migrated, so wipe it.
    await database.pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    env.DATABASE_URL = database.url as string;
  }
  server = await startHerald(env);
  const match = /\n\s+(hk_[A-Za-z0-9_-]{43})\n/.exec(server.output());
  adminKey = match?.[1] as string;
});

afterAll(async () => {
  if (server) await server.stop();
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function api(
  method: string,
  path: string,
  key: string,
  body?: unknown,
  contentType = 'application/json',
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    body: type.includes('json') && text ? JSON.parse(text) : text,
    headers: res.headers,
  };
}

describe('first five minutes', () => {
  it('prints an admin key once, on first start', () => {
    expect(adminKey).toMatch(/^hk_/);
    expect(server.output()).toContain('shown only this once');
  });

  it('creates a key, a list and a contact, imports a CSV with 3 bad rows, and exports it back', async () => {
    const key = await api('POST', '/v1/api-keys', adminKey, {
      name: 'newcomer',
      scopes: ['contacts:read', 'contacts:write', 'contacts:export', 'lists:read', 'lists:write'],
    });
    expect(key.status).toBe(201);
    const secret = key.body.secret as string;

    const list = await api('POST', '/v1/lists', secret, {
      name: 'Newsletter',
      opt_in: 'single',
      visibility: 'public',
    });
    expect(list.status).toBe(201);

    const contact = await api('PUT', '/v1/contacts', secret, {
      email: 'ann@example.com',
      attributes: { first_name: 'Ann' },
    });
    expect(contact.status).toBe(201);

    const csv = [
      'email,first_name,plan',
      'bo@example.com,Bo,pro',
      'not-an-email,Bad,free', // line 3
      'cy@example.com,Cy,free',
      'dee@example.com,Dee', // line 5: a column short
      'ANN@example.com,Ann,pro',
      'eve@@example.com,Eve,pro', // line 7
      'fay@example.com,Fay,free',
    ].join('\n');
    const started = await api(
      'POST',
      `/v1/imports?mode=upsert&list_id=${list.body.id}&filename=people.csv`,
      secret,
      csv,
      'text/csv',
    );
    expect(started.status).toBe(202);

    let status = started.body;
    for (let i = 0; i < 200 && !['completed', 'failed'].includes(status.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await api('GET', `/v1/imports/${started.body.id}`, secret)).body;
    }
    expect(status.status).toBe('completed');
    expect(status).toMatchObject({ created_count: 3, updated_count: 1, failed_count: 3 });
    expect(status.errors.map((e: { line: number }) => e.line)).toEqual([3, 5, 7]);

    const exported = await api('GET', `/v1/exports/contacts?format=csv&list_id=${list.body.id}`, secret);
    expect(exported.status).toBe(200);
    const lines = (exported.body as string).trim().split('\n');
    expect(lines[0]).toMatch(/^id,email,/);
    const emails = lines.slice(1).map((line) => line.split(',')[1]?.toLowerCase());
    expect(emails.sort()).toEqual(['ann@example.com', 'bo@example.com', 'cy@example.com', 'fay@example.com']);
  });

  it('tells a second process that the embedded database is in use', () => {
    if (testTarget() === 'postgres') return;
    const result = runHerald(['keys', 'list'], env);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('in use by another Herald process');
  });

  it('stops cleanly on SIGTERM and starts again without a new admin key', async () => {
    expect(await server.stop()).toBe(0);
    server = await startHerald(env);
    expect(server.output()).not.toContain('shown only this once');
    const workspace = await api('GET', '/v1/workspace', adminKey);
    expect(workspace.status).toBe(200);
  });

  it('stops with a message naming a wrong setting', () => {
    const result = runHerald(['serve'], { ...env, HERALD_PORT: 'eighty' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('HERALD_PORT');
    expect(result.stderr).toContain('whole number');
  });
});
