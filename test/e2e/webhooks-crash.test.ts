import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { recordWebhookEvents } from '../../src/modules/webhooks/index.js';
import { handPgliteToWorkers, waitFor, workerProcesses } from '../helpers/crash-test.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';
import { testTarget } from '../helpers/test-database.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * No webhook event is lost when the dispatcher dies: a `herald worker` is
 * SIGKILLed twice while it delivers and restarted; every event must reach
 * the receiver at least once. Duplicates (in flight at a kill, re-sent once
 * the lease expired, with the same webhook-id) are counted and reported.
 */
const EVENTS = 300;
const KILLS = 2;

let t: TestApp | undefined;
let receiver: WebhookReceiver | undefined;
let worker: ChildProcess | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  worker?.kill('SIGKILL');
  if (testTarget() === 'postgres') await t?.close();
  await receiver?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('a webhook dispatcher killed mid-delivery', () => {
  it('delivers every event at least once after restarts', { timeout: 300_000 }, async () => {
    receiver = await startWebhookReceiver();
    receiver.delay(25);
    const app = await createTestApp({
      HERALD_WEBHOOKS_ALLOW_HTTP: 'true',
      HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
    });
    t = app;
    const endpoint = await app.app.inject({
      method: 'POST',
      url: '/v1/webhooks/endpoints',
      headers: app.auth(),
      payload: { url: `${receiver.url}/crash` },
    });
    expect(endpoint.statusCode).toBe(201);
    const now = app.clock.now();
    await sql`
      INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
      SELECT gen_random_uuid(), ${app.workspaceId}, 'w-' || i || '@example.com', '{}', ${now}, ${now}
      FROM generate_series(1, ${EVENTS}::int) AS i`.execute(app.container.db);
    const contacts = await app.container.db.selectFrom('contacts').select('id').execute();
    await app.container.db.transaction().execute((trx) =>
      recordWebhookEvents(
        trx,
        app.workspaceId,
        now,
        contacts.map((c) => ({ type: 'contact.created' as const, contactId: c.id })),
      ),
    );
    const expected = new Set(
      (await app.container.db.selectFrom('webhook_events').select('id').execute()).map((e) => e.id),
    );
    expect(expected.size).toBe(EVENTS);

    dataDir = mkdtempSync(join(tmpdir(), 'herald-webhooks-crash-'));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HERALD_DATA_DIR: dataDir,
      HERALD_SECRET_KEYS: TEST_SECRET_KEY,
      HERALD_LOG_LEVEL: 'warn',
      HERALD_JOB_POLL_INTERVAL_MS: '50',
      HERALD_WEBHOOKS_ALLOW_HTTP: 'true',
      HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
      // The lease is the timeout plus 5 s: short, so a killed worker's deliveries come back soon.
      HERALD_WEBHOOKS_TIMEOUT_MS: '1000',
      HERALD_WEBHOOKS_BATCH_SIZE: '10',
    };
    if (testTarget() === 'postgres') env.DATABASE_URL = app.database.url as string;
    else await handPgliteToWorkers(app, dataDir);

    const workers = workerProcesses(env);
    const unique = () => new Set(receiver?.received.map((r) => r.headers['webhook-id'] as string)).size;
    worker = workers.spawn();
    for (let k = 0; k < KILLS; k++) {
      const target = Math.round(((k + 1) * EVENTS) / (KILLS + 2));
      await waitFor(`${target} events (kill ${k + 1}):\n${workers.log}`, () => unique() >= target, 120_000);
      await workers.kill(worker);
      worker = workers.spawn();
    }
    await waitFor(`all ${EVENTS} events:\n${workers.log}`, () => unique() >= EVENTS, 120_000);
    worker.kill('SIGTERM');

    const ids = receiver.received.map((r) => r.headers['webhook-id'] as string);
    expect(new Set(ids)).toEqual(expected);
    const duplicates = ids.length - new Set(ids).size;
    console.log(`webhooks crash test: ${ids.length} requests for ${EVENTS} events, ${duplicates} duplicates`);
    // At most the batches in flight at each kill come again.
    expect(duplicates).toBeLessThanOrEqual(KILLS * 10);
  });
});
