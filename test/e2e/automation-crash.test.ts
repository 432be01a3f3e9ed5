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
 * Exactly-once steps of the automation engine with real processes: 2,500
 * contacts move through send -> wait 1 minute -> send while a `herald
 * worker` is killed with SIGKILL several times (during both sends) and
 * restarted. Every contact must receive each email as exactly one message
 * (one Message-ID per contact and step); raw duplicates at the sink can only
 * be a message whose delivery job was in flight when its worker died (the
 * job runs again after its lease, with the same Message-ID).
 *
 * Runs on both targets; on PGlite the test process hands the database to the
 * workers as a data folder and reads it only after the last worker stopped
 * (one process per folder), as the campaign crash test does.
 */

/**
 * 2,500 in the default run, for the suite's time; HERALD_CRASH_CONTACTS=5000
 * runs it at full size (README, "Test it").
 */
const CONTACTS = Number(process.env.HERALD_CRASH_CONTACTS ?? 2500);
const KILLS_PER_SEND = 2;
const LEASE_MS = 3000;

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
  waitUntil(what, condition, 240_000);

describe('a worker killed while contacts move through an automation', () => {
  it(
    'delivers each step to each contact exactly once',
    async () => {
      sink = await startSmtpSink();
      const app = await createTestApp();
      t = app;
      const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
        const res = await app.app.inject({
          method,
          url,
          headers: app.auth(),
          ...(payload ? { payload } : {}),
        });
        return { status: res.statusCode, body: res.json() };
      };
      expect(
        (
          await call('POST', '/v1/transports', {
            name: 'Local sink',
            type: 'smtp',
            settings: { host: sink.host, port: sink.port, tls: 'none' },
            rate_limit: { per_second: 10000 },
            max_concurrency: 8,
          })
        ).status,
      ).toBe(201);
      for (const name of ['First', 'Second'])
        expect(
          (
            await call('POST', '/v1/templates', {
              name,
              format: 'html',
              subject: name,
              body: `<p>${name}</p>`,
            })
          ).status,
        ).toBe(201);
      const created = await call('POST', '/v1/automations', {
        name: 'Send, wait, send',
        definition: {
          trigger: { type: 'api' },
          sender: { from_email: 'news@shop.example' },
          start: 'first',
          nodes: [
            { id: 'first', type: 'send_email', template: 'First', next: 'wait' },
            { id: 'wait', type: 'wait', for: { minutes: 1 }, next: 'second' },
            { id: 'second', type: 'send_email', template: 'Second', next: 'done' },
            { id: 'done', type: 'exit' },
          ],
        },
      });
      const automationId = created.body.id as string;
      expect((await call('POST', `/v1/automations/${automationId}/publish`)).status).toBe(201);
      // Thousands entering at once: set-based, as enrolment would leave them (at the start node, due now).
      const now = new Date();
      await sql`
      INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
      SELECT gen_random_uuid(), ${app.workspaceId}, 'a-' || i || '@example.com', '{}', ${now}, ${now}
      FROM generate_series(1, ${CONTACTS}::int) AS i`.execute(app.container.db);
      await sql`
      INSERT INTO automation_runs (id, workspace_id, automation_id, version, contact_id, status, node, step,
                                   next_run_at, entered_at, updated_at, data)
      SELECT gen_random_uuid(), workspace_id, ${automationId}, 1, id, 'active', 'first', 0, ${now}, ${now}, ${now}, '{}'
      FROM contacts WHERE workspace_id = ${app.workspaceId}`.execute(app.container.db);

      dataDir = mkdtempSync(join(tmpdir(), 'herald-automation-crash-'));
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HERALD_DATA_DIR: dataDir,
        HERALD_SECRET_KEYS: TEST_SECRET_KEY,
        HERALD_LOG_LEVEL: 'warn',
        HERALD_JOB_POLL_INTERVAL_MS: '50',
        HERALD_SEND_LEASE_MS: String(LEASE_MS),
        HERALD_JOB_LEASE_MS: String(LEASE_MS),
      };
      if (testTarget() === 'postgres') env.DATABASE_URL = app.database.url as string;
      else {
        await handPgliteToWorkers(app, dataDir);
        t = undefined;
      }

      const workers = workerProcesses(env);
      const spawnWorker = workers.spawn;
      const kill = workers.kill;
      const count = (subject: string) =>
        sink?.messages.filter((m) => header(m.raw, 'Subject') === subject).length ?? 0;
      const distinct = (subject: string) =>
        new Set(sink?.messages.filter((m) => header(m.raw, 'Subject') === subject).map((m) => m.to[0])).size;

      const started = Date.now();
      const killedAt: string[] = [];
      worker = spawnWorker();
      for (const subject of ['First', 'Second']) {
        for (let k = 0; k < KILLS_PER_SEND; k++) {
          const target = Math.floor(((k + 0.3 + Math.random() * 0.4) / (KILLS_PER_SEND + 1)) * CONTACTS);
          await waitFor(`${target} "${subject}" messages; worker output:\n${workers.log}`, () => {
            if (worker?.exitCode !== null) throw new Error(`worker exited early:\n${workers.log}`);
            return count(subject) >= target;
          });
          killedAt.push(`${subject} ${count(subject)}`);
          await kill(worker);
          worker = spawnWorker();
        }
      }
      // Everyone reached with both emails, and the sink quiet for longer than the leases (nothing re-sent pending).
      let last = -1;
      let quietSince = Date.now();
      await waitFor(`every contact twice; worker output:\n${workers.log}`, () => {
        if (sink?.messages.length !== last) {
          last = sink?.messages.length ?? 0;
          quietSince = Date.now();
        }
        return (
          distinct('First') === CONTACTS &&
          distinct('Second') === CONTACTS &&
          Date.now() - quietSince > LEASE_MS + 5000
        );
      });
      const exited = new Promise((resolve) => worker?.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
      worker = undefined;
      const seconds = (Date.now() - started) / 1000;

      let ledgerDb: DatabaseHandle['db'];
      let reopened: DatabaseHandle | undefined;
      if (t) ledgerDb = t.container.db;
      else {
        reopened = await openPglite({ dataDir });
        ledgerDb = reopened.db;
      }
      try {
        const ids = new Map<string, Set<string>>();
        for (const m of sink.messages) {
          const key = `${m.to[0]} ${header(m.raw, 'Subject')}`;
          const set = ids.get(key) ?? new Set<string>();
          set.add(header(m.raw, 'Message-ID') ?? '');
          ids.set(key, set);
        }
        const raw = sink.messages.length;
        const rawDuplicates = raw - ids.size;
        const runs = await sql<{ status: string; n: string }>`
        SELECT status, count(*) AS n FROM automation_runs WHERE automation_id = ${automationId} GROUP BY status`.execute(
          ledgerDb,
        );
        const steps = await sql<{ n: string }>`
        SELECT count(*) AS n FROM automation_step_executions s JOIN automation_runs r ON r.id = s.run_id
        WHERE r.automation_id = ${automationId}`.execute(ledgerDb);
        const messages = await sql<{ n: string; keys: string }>`
        SELECT count(*) AS n, count(DISTINCT idempotency_key) AS keys FROM messages
        WHERE idempotency_key LIKE 'automation:%'`.execute(ledgerDb);
        console.log(
          `automation crash test (${app.database.kind}): ${CONTACTS} contacts x 2 emails, SIGKILLs at ${killedAt.join(', ')}; ` +
            `${raw} messages received, ${ids.size} distinct (contact, step), ${rawDuplicates} raw duplicates ` +
            `(same Message-ID), ${seconds.toFixed(1)} s`,
        );
        expect(ids.size).toBe(CONTACTS * 2);
        // One Message-ID per contact and step: a repeated step never made a second message.
        expect([...ids.values()].filter((s) => s.size > 1)).toEqual([]);
        expect(runs.rows.map((r) => [r.status, Number(r.n)])).toEqual([['completed', CONTACTS]]);
        expect(Number(steps.rows[0]?.n)).toBe(CONTACTS * 4);
        expect(Number(messages.rows[0]?.n)).toBe(CONTACTS * 2);
        expect(Number(messages.rows[0]?.keys)).toBe(CONTACTS * 2);
      } finally {
        await reopened?.close();
      }
    },
    Math.max(600_000, CONTACTS * 240),
  );
});
