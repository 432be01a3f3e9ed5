import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openPglite } from '../../src/db/index.js';
import { uuidv7 } from '../../src/lib/ids.js';
import { parseSecretKeys } from '../../src/lib/secret-keys.js';
import { createToken } from '../../src/lib/signed-tokens.js';
import { type ServerProcess, startHerald } from '../helpers/herald-process.js';
import { TEST_SECRET_KEY } from '../helpers/test-app.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../helpers/test-database.js';

/**
 * The buffered hit writer and SIGTERM, with a real `herald serve`: opens and
 * clicks are answered while they wait in memory (the flush interval is a
 * minute, so nothing is written yet), then SIGTERM must write every one of
 * them before the process exits.
 */

let dataDir: string | undefined;
let database: TestDatabase | undefined;
let server: ServerProcess | undefined;
let reopened: DatabaseHandle | undefined;

afterAll(async () => {
  if (server) await server.stop();
  await database?.close();
  await reopened?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('herald serve on SIGTERM', () => {
  it('writes every buffered open and click before exiting', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-tracking-'));
    const env: Record<string, string> = {
      HERALD_DATA_DIR: dataDir,
      HERALD_SECRET_KEYS: TEST_SECRET_KEY,
      HERALD_WORKER: 'false',
      HERALD_TRACKING_FLUSH_INTERVAL_MS: '60000',
      HERALD_TRACKING_BATCH_SIZE: '10000',
    };
    if (testTarget() === 'postgres') {
      database = await createTestDatabase();
      env.DATABASE_URL = database.url as string;
    }
    server = await startHerald(env);
    const adminKey = /\n\s+(hk_[A-Za-z0-9_-]{43})\n/.exec(server.output())?.[1] as string;
    const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
    const workspace = (await (await fetch(`${server.url}/v1/workspace`, { headers })).json()) as {
      id: string;
    };
    const contact = (await (
      await fetch(`${server.url}/v1/contacts`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ email: 'reader@example.com' }),
      })
    ).json()) as { id: string };

    // Opens of 200 messages and 50 honeypot clicks (clicks that need no registered link).
    const keyring = parseSecretKeys(TEST_SECRET_KEY);
    const ids = () => ({ workspaceId: workspace.id, messageId: uuidv7(), contactId: contact.id });
    const urls = [
      ...Array.from({ length: 200 }, () => `/o/${createToken(keyring, 'open', ids())}`),
      ...Array.from({ length: 50 }, () => `/c/${createToken(keyring, 'click', ids())}`),
    ];
    for (let i = 0; i < urls.length; i += 25) {
      const statuses = await Promise.all(
        urls.slice(i, i + 25).map(async (url) => {
          const res = await fetch(`${server?.url}${url}`, {
            headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0' },
          });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
    // All answered, none written yet.
    const metrics = await (await fetch(`${server.url}/metrics`, { headers })).text();
    expect(metrics).toContain('herald_tracking_hits_buffered 250');

    expect(await server.stop()).toBe(0);
    server = undefined;

    let db = database?.db;
    if (!db) {
      reopened = await openPglite({ dataDir });
      db = reopened.db;
    }
    const counts = await sql<{ kind: string; n: string }>`
      SELECT kind, count(*) AS n FROM tracking_hits WHERE workspace_id = ${workspace.id} GROUP BY kind ORDER BY kind`.execute(
      db,
    );
    expect(counts.rows.map((r) => [r.kind, Number(r.n)])).toEqual([
      ['click', 50],
      ['open', 200],
    ]);
    // A real server process, started from source: more than the default test timeout on a busy machine.
  }, 120_000);
});
