import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openPglite } from '../../src/db/index.js';
import { handPgliteToWorkers, header, waitFor as waitUntil, workerProcesses } from '../helpers/crash-test.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';
import { testTarget } from '../helpers/test-database.js';

/**
 * Crash guarantees of campaign sending with real processes: a `herald worker`
 * is killed with SIGKILL mid-campaign several times and restarted. Nobody may
 * be skipped, and duplicates may only come from recipients that were claimed
 * but not recorded when a worker died (re-sent after the lease, with the same
 * Message-ID, so receivers can deduplicate).
 *
 * Runs on both targets. PGlite allows one process per data folder, so there
 * the test process sets the campaign up, writes the database into a folder and
 * closes it before any worker starts, and reads the ledger only after the last
 * worker stopped; the kill is then also a crash of the embedded database.
 */

const RECIPIENTS = 20_000;
const BATCH_SIZE = 100; // the sender's defaults: batches of 100 on four lanes,
const LANES = 4; // so at most 400 recipients are in flight per worker process
const LEASE_MS = 3000; // well above one batch's send time, far below the 2-minute default
const KILLS = 4;

let t: TestApp | undefined;
let sink: SmtpSink | undefined;
let dataDir: string | undefined;
let worker: ChildProcess | undefined;
afterAll(async () => {
  worker?.kill('SIGKILL');
  await t?.close();
  await sink?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const waitFor = (what: string, condition: () => boolean | Promise<boolean>) =>
  waitUntil(what, condition, 90_000);

describe('a worker killed mid-campaign', () => {
  it('sends to every recipient, duplicates only what was in flight, with the same Message-ID', async () => {
    sink = await startSmtpSink();
    const app = await createTestApp();
    t = app;
    const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
      const res = await app.app.inject({ method, url, headers: app.auth(), ...(payload ? { payload } : {}) });
      return { status: res.statusCode, body: res.json() };
    };
    await app.addSinkTransport(sink, { rate_limit: { per_second: 10000 }, max_concurrency: 8 });
    expect(
      (await call('POST', '/v1/sending-domains', { domain: 'shop.example', algorithm: 'rsa' })).status,
    ).toBe(201);
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News for {{ contact.attributes.first_name }}',
      body: '<p>Hello {{ contact.attributes.first_name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const list = (await call('POST', '/v1/lists', { name: 'Everyone', opt_in: 'single' })).body.id;
    const now = app.clock.now();
    // Set-based: 20,000 contacts through the API would take longer than the test itself.
    await sql`
        INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
        SELECT gen_random_uuid(), ${app.workspaceId}, 'r-' || i || '@example.com',
               jsonb_build_object('first_name', 'Name' || i), ${now}, ${now}
        FROM generate_series(1, ${RECIPIENTS}::int) AS i`.execute(app.container.db);
    await sql`
        INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
        SELECT workspace_id, ${list}, id, 'confirmed', ${now}, ${now} FROM contacts
        WHERE workspace_id = ${app.workspaceId}`.execute(app.container.db);
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Crash',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list],
    });
    const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(started.body, JSON.stringify(started.body)).toMatchObject({
      status: 'sending',
      progress: { to_send: RECIPIENTS },
    });

    dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HERALD_DATA_DIR: dataDir,
      HERALD_SECRET_KEYS: TEST_SECRET_KEY,
      HERALD_LOG_LEVEL: 'warn',
      HERALD_JOB_POLL_INTERVAL_MS: '50',
      HERALD_SEND_LEASE_MS: String(LEASE_MS),
    };
    if (testTarget() === 'postgres') {
      env.DATABASE_URL = app.database.url as string;
    } else {
      await handPgliteToWorkers(app, dataDir);
      t = undefined;
    }

    const workers = workerProcesses(env);
    const spawnWorker = workers.spawn;
    const kill = workers.kill;

    const started_ = Date.now();
    const killedAt: number[] = [];
    worker = spawnWorker();
    for (let k = 0; k < KILLS; k++) {
      // One kill somewhere in each fifth of the campaign (the last fifth is left to finish).
      const target = Math.floor(((k + 0.2 + Math.random() * 0.6) / (KILLS + 1)) * RECIPIENTS);
      await waitFor(`${target} messages (kill ${k + 1}); worker output:\n${workers.log}`, () => {
        if (worker?.exitCode !== null) throw new Error(`worker exited early:\n${workers.log}`);
        return (sink?.messages.length ?? 0) >= target;
      });
      killedAt.push(sink.messages.length);
      await kill(worker);
      worker = spawnWorker();
    }

    const unique = () => new Set(sink?.messages.map((m) => m.to[0])).size;
    let state: { status: string; sent_count: number } | undefined;
    if (app.database.kind === 'postgres' && t) {
      const db = app.container.db;
      await waitFor(`the campaign to finish; worker output:\n${workers.log}`, async () => {
        state = await db
          .selectFrom('campaigns')
          .select(['status', 'sent_count'])
          .where('id', '=', campaign.body.id)
          .executeTakeFirst();
        return state?.status !== 'sending';
      });
    } else {
      // The ledger cannot be read while the worker holds the folder: wait until everyone was
      // reached and the sink stayed quiet for longer than a lease (no re-send pending), then stop it.
      let last = -1;
      let quietSince = Date.now();
      await waitFor(`every recipient; worker output:\n${workers.log}`, () => {
        if (sink?.messages.length !== last) {
          last = sink?.messages.length ?? 0;
          quietSince = Date.now();
        }
        return unique() === RECIPIENTS && Date.now() - quietSince > LEASE_MS + 1000;
      });
    }
    const exited = new Promise((resolve) => worker?.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
    worker = undefined;
    const seconds = (Date.now() - started_) / 1000;

    let ledgerDb: DatabaseHandle['db'];
    let reopened: DatabaseHandle | undefined;
    if (t) ledgerDb = t.container.db;
    else {
      reopened = await openPglite({ dataDir });
      ledgerDb = reopened.db;
    }
    try {
      state = await ledgerDb
        .selectFrom('campaigns')
        .select(['status', 'sent_count'])
        .where('id', '=', campaign.body.id)
        .executeTakeFirstOrThrow();
      // Re-claimed rows (attempts > 1) are exactly those a dead worker had claimed and not recorded.
      const reclaimed = await ledgerDb
        .selectFrom('campaign_sends as s')
        .innerJoin('contacts as c', 'c.id', 's.contact_id')
        .select(['c.email', 's.message_id'])
        .where('s.campaign_id', '=', campaign.body.id)
        .where('s.attempts', '>', 1)
        .execute();
      const ledgerStatus = await ledgerDb
        .selectFrom('campaign_sends')
        .select(['status'])
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('campaign_id', '=', campaign.body.id)
        .groupBy('status')
        .execute();

      const copies = new Map<string, string[]>();
      for (const message of sink.messages) {
        const to = message.to[0] as string;
        const ids = copies.get(to) ?? [];
        ids.push(header(message.raw, 'Message-ID') ?? '');
        copies.set(to, ids);
      }
      const duplicated = [...copies].filter(([, ids]) => ids.length > 1);
      const duplicates = sink.messages.length - copies.size;
      console.log(
        `crash test (${app.database.kind}): ${RECIPIENTS} recipients, ${KILLS} SIGKILLs at ` +
          `${killedAt.join(', ')} messages; ${sink.messages.length} messages received, ${duplicates} duplicates ` +
          `(${reclaimed.length} recipients re-claimed after an expired lease), ${seconds.toFixed(1)} s`,
      );

      expect(copies.size).toBe(RECIPIENTS);
      for (let i = 1; i <= RECIPIENTS; i += 997) expect(copies.has(`r-${i}@example.com`)).toBe(true);
      // A kill can leave at most the batches in flight on the worker's lanes unrecorded.
      expect(reclaimed.length).toBeLessThanOrEqual(KILLS * BATCH_SIZE * LANES);
      expect(duplicates).toBeLessThanOrEqual(KILLS * BATCH_SIZE * LANES);
      const reclaimedIds = new Map(reclaimed.map((r) => [r.email, r.message_id]));
      for (const [email, ids] of duplicated) {
        // Every copy carries the ledger's Message-ID for that recipient.
        expect(reclaimedIds.has(email), email).toBe(true);
        expect(new Set(ids), email).toEqual(new Set([`<${reclaimedIds.get(email)}>`]));
      }
      expect(ledgerStatus.map((r) => [r.status, Number(r.n)])).toEqual([['sent', RECIPIENTS]]);
      expect(state).toEqual({ status: 'sent', sent_count: RECIPIENTS });
    } finally {
      await reopened?.close();
    }
  }, 170_000);
});
