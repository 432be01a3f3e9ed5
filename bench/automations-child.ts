import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres } from '../src/db/index.js';
import { createContainer } from '../src/main/container.js';
import {
  BENCH_AUTOMATION,
  BENCH_TEMPLATES,
  type ChildResult,
  type Percentiles,
} from './automations-shared.js';
import { createBenchClock } from './bench-clock.js';
import { createQueryProfile } from './query-profile.js';

/**
 * The automations benchmark, in two fresh processes like the send benchmark:
 * `setup` creates the database (contacts, templates, DKIM domain, the SMTP
 * sink as default transport, the published automation) and exits; `run`
 * opens it like a restarted worker and measures, in order:
 * 1. the baseline: one-row INSERTs of run-shaped rows into a copy of
 *    automation_runs (same columns and indexes), as many in flight as the
 *    enrolment uses, and one set-based INSERT ... SELECT of every contact;
 * 2. enrolment of every contact at once through the engine's `enroll`;
 * 3. the engine working through the runs up to the wait (send, wait), with
 *    the clock held at the enrolment instant, so every wait ends at the
 *    same instant one minute later;
 * 4. the clock moved to that instant and running in real time from there:
 *    the engine works through the batch that came due at once (branch,
 *    send, exit), and each run's lag is its branch step's executed_at minus
 *    the wait's end;
 * 5. steady arrivals: contacts enrolled at a fixed rate below capacity
 *    while the engine runs as a worker runs it (start/stop), and each run's
 *    lag from entering (due at once) to its first step;
 * 6. delivery: only now the job runner (the messages worker, at the
 *    configured HERALD_JOB_CONCURRENCY) sends the queued messages to the
 *    SMTP sink, so no step above shared the process or the database with it;
 *    for at most BENCH_AUTOMATIONS_DELIVER_SECONDS (default 60), since at
 *    this rate all of them would take longer than the rest together.
 * argv: setup|run pglite|postgres dataDir smtpPort contacts [postgresUrl];
 * HERALD_SECRET_KEYS from the parent. Prints one JSON line.
 */
const [mode, target, dataDir, portArg, contactsArg, postgresUrl] = process.argv.slice(2) as string[];
const contactCount = Number(contactsArg);
/** Enrolments (and baseline inserts) in flight: concurrent API requests, or several workers' scans. */
const IN_FLIGHT = 16;
const WAIT_MS = 60_000;
const T0 = new Date('2030-01-07T09:00:00Z');

const clock = createBenchClock(T0);
const database: DatabaseHandle =
  target === 'postgres'
    ? openPostgres({ url: postgresUrl as string, poolSize: 10 })
    : await openPglite({ dataDir: dataDir as string });
const profile = process.env.BENCH_AUTOMATIONS_PROFILE === '1' ? createQueryProfile(database.pool) : undefined;
const config = loadConfig({
  env: {
    HERALD_LOG_LEVEL: 'silent',
    HERALD_DATA_DIR: dataDir,
    HERALD_SECRET_KEYS: process.env.HERALD_SECRET_KEYS,
    ...(process.env.HERALD_JOB_CONCURRENCY
      ? { HERALD_JOB_CONCURRENCY: process.env.HERALD_JOB_CONCURRENCY }
      : {}),
  },
});
const c = createContainer({ config, database, logger: pino({ level: 'silent' }), clock });

/** Runs `work(i)` for i in [0, n) with `inFlight` at a time; returns the seconds it took. */
async function pooled(n: number, inFlight: number, work: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/**
 * engine.drain(), round by round, with a line on stderr every 30 s so a long
 * run shows it is alive (100,000 runs take many minutes on two cores).
 */
async function drainWithProgress(label: string): Promise<void> {
  let claimed = 0;
  let shown = performance.now();
  for (;;) {
    const n = await c.automationEngine.round();
    if (n === 0) return;
    claimed += n;
    if (performance.now() - shown > 30_000) {
      shown = performance.now();
      process.stderr.write(`  ${target} ${label}: ${claimed} runs claimed\n`);
    }
  }
}

async function stepCount(): Promise<number> {
  const r = await sql<{ n: string }>`SELECT count(*) AS n FROM automation_step_executions`.execute(c.db);
  return Number(r.rows[0]?.n);
}

/** p50 / p99 / max of `lag_ms` over the rows the query selects (lag in milliseconds). */
async function percentiles(from: ReturnType<typeof sql>): Promise<Percentiles> {
  const r = await sql<{ n: string; p50: number; p99: number; max: number }>`
    SELECT count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY lag_ms) AS p99,
           max(lag_ms) AS max
    FROM (${from}) AS lags`.execute(c.db);
  const row = r.rows[0];
  return { n: Number(row?.n), p50Ms: Number(row?.p50), p99Ms: Number(row?.p99), maxMs: Number(row?.max) };
}

function cpuSeconds(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

if (mode === 'setup') {
  await migrate(database.db);
  const workspaceId = (await c.workspaces.bootstrap())?.workspace.id as string;
  await c.transports.create(workspaceId, {
    name: 'Sink',
    type: 'smtp',
    settings: {
      host: '127.0.0.1',
      port: Number(portArg),
      tls: 'none',
      max_connections: 8,
      max_messages: 100,
    },
    rate_limit: { per_second: 1_000_000 },
    max_concurrency: 8,
    is_default: true,
  });
  await c.sendingDomains.create(workspaceId, { domain: 'shop.example', algorithm: 'rsa' });
  for (const [name, template] of Object.entries(BENCH_TEMPLATES))
    await c.templates.create(workspaceId, { name, format: 'html', ...template });
  // Half pro, half free, so the branch takes both ways.
  await sql`
    INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
    SELECT gen_random_uuid(), ${workspaceId}, 'person' || i || '@example' || (i % 97) || '.com',
           jsonb_build_object('first_name', 'First' || i, 'plan', CASE WHEN i % 2 = 0 THEN 'pro' ELSE 'free' END),
           now(), now()
    FROM generate_series(1, ${contactCount}::int) AS i`.execute(c.db);
  if (target === 'postgres') await sql`ANALYZE`.execute(c.db);
  const automation = await c.automations.create(workspaceId, { name: 'Bench', definition: BENCH_AUTOMATION });
  await c.automations.publish(workspaceId, automation.id);
  await c.close();
  process.stdout.write('{}\n');
} else {
  const automation = await c.db
    .selectFrom('automations')
    .select(['id', 'workspace_id'])
    .executeTakeFirstOrThrow();
  const ws = automation.workspace_id;
  const contactIds = (
    await c.db.selectFrom('contacts').select('id').where('workspace_id', '=', ws).orderBy('id').execute()
  ).map((r) => r.id);

  // 1. Baseline: the cheapest way to write one run-shaped row per contact, one statement each.
  await sql`CREATE TABLE bench_runs (LIKE automation_runs INCLUDING ALL)`.execute(c.db);
  const baselineRows = Math.min(contactCount, 20_000);
  const runRow = (contactId: string) => {
    const now = clock.now();
    return {
      id: crypto.randomUUID(),
      workspace_id: ws,
      automation_id: automation.id,
      version: 1,
      contact_id: contactId,
      instance_key: '',
      status: 'active' as const,
      node: 'welcome',
      step: 0,
      next_run_at: now,
      entered_at: now,
      updated_at: now,
      data: '{}',
    };
  };
  const baselineSeconds = await pooled(baselineRows, IN_FLIGHT, async (i) => {
    await c.db
      .insertInto('bench_runs' as 'automation_runs')
      .values(runRow(contactIds[i] as string))
      .execute();
  });
  await sql`TRUNCATE bench_runs`.execute(c.db);
  const setStarted = performance.now();
  await sql`
    INSERT INTO bench_runs (id, workspace_id, automation_id, version, contact_id, instance_key, status, node,
                            step, next_run_at, entered_at, updated_at, data)
    SELECT gen_random_uuid(), workspace_id, ${automation.id}, 1, id, '', 'active', 'welcome', 0, now(), now(),
           now(), '{}'
    FROM contacts WHERE workspace_id = ${ws}`.execute(c.db);
  const setSeconds = (performance.now() - setStarted) / 1000;
  await sql`DROP TABLE bench_runs`.execute(c.db);

  // 2. Enrolment of everyone at once, at T0 (the clock stands still until the wait is over).
  profile?.reset();
  let cpu = process.cpuUsage();
  const enrolSeconds = await pooled(contactIds.length, IN_FLIGHT, async (i) => {
    if (i > 0 && i % 20_000 === 0) process.stderr.write(`  ${target} enrolment: ${i} enrolled\n`);
    const id = contactIds[i] as string;
    const result = await c.automationEngine.enroll(ws, automation.id, { contact: { id } }, `contact:${id}`);
    if (!result.enrolled) throw new Error(`not enrolled: ${result.reason}`);
  });
  const enrolCpu = cpuSeconds(cpu);
  const enrolProfile = profile?.top(8);

  // 3. Up to the wait: send (accepts a message, queues its job) and wait.
  profile?.reset();
  cpu = process.cpuUsage();
  let started = performance.now();
  await drainWithProgress('send+wait');
  const firstSeconds = (performance.now() - started) / 1000;
  const firstCpu = cpuSeconds(cpu);
  const firstSteps = await stepCount();
  const firstProfile = profile?.top(8);

  // 4. Every wait ends at T0 + 1 min; the clock jumps there and runs on in real time.
  clock.runFrom(new Date(T0.getTime() + WAIT_MS));
  profile?.reset();
  cpu = process.cpuUsage();
  started = performance.now();
  await drainWithProgress('branch+send+exit');
  const secondSeconds = (performance.now() - started) / 1000;
  const secondCpu = cpuSeconds(cpu);
  const secondSteps = (await stepCount()) - firstSteps;
  const secondProfile = profile?.top(8);
  const batchLag = await percentiles(sql`
    SELECT extract(epoch FROM b.executed_at - (w.outcome->>'until')::timestamptz) * 1000 AS lag_ms
    FROM automation_step_executions w
    JOIN automation_step_executions b ON b.run_id = w.run_id AND b.step = w.step + 1
    WHERE w.node_id = 'wait'`);
  const unfinished = await sql<{ n: string }>`
    SELECT count(*) AS n FROM automation_runs WHERE status <> 'completed'`.execute(c.db);

  // 5. Steady arrivals below capacity, the engine running as in a worker (polling when idle).
  const perRun = 1 / (contactIds.length / enrolSeconds) + 2 / (firstSteps / firstSeconds);
  const steadyRate = Math.max(1, Math.floor(0.5 / perRun));
  const steadySeconds = Number(process.env.BENCH_AUTOMATIONS_STEADY_SECONDS ?? 20);
  const steadyCount = Math.min(contactIds.length, Math.round(steadyRate * steadySeconds));
  const steadyFrom = clock.now();
  c.automationEngine.start(config.jobPollIntervalMs);
  started = performance.now();
  const arrivals: Promise<unknown>[] = [];
  for (let i = 0; i < steadyCount; i++) {
    const due = started + (i * 1000) / steadyRate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const id = contactIds[i] as string;
    arrivals.push(c.automationEngine.enroll(ws, automation.id, { contact: { id } }, `steady:${id}`));
  }
  await Promise.all(arrivals);
  // Let the last arrivals through: until every steady run took its first step.
  for (;;) {
    const r = await sql<{ n: string }>`
      SELECT count(*) AS n FROM automation_runs WHERE trigger_id LIKE 'steady:%' AND step = 0`.execute(c.db);
    if (Number(r.rows[0]?.n) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const steadyWall = (performance.now() - started) / 1000;
  await c.automationEngine.stop();
  const steadyLag = await percentiles(sql`
    SELECT extract(epoch FROM s.executed_at - r.entered_at) * 1000 AS lag_ms
    FROM automation_runs r JOIN automation_step_executions s ON s.run_id = r.id AND s.step = 1
    WHERE r.trigger_id LIKE 'steady:%' AND r.entered_at >= ${steadyFrom}`);

  // 6. Delivery of everything queued, by the job runner (the messages worker), to the sink.
  const queued = await sql<{ n: string }>`SELECT count(*) AS n FROM messages WHERE status = 'queued'`.execute(
    c.db,
  );
  const deliverLimit = Number(process.env.BENCH_AUTOMATIONS_DELIVER_SECONDS ?? 60);
  cpu = process.cpuUsage();
  started = performance.now();
  c.runner.start();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const r = await sql<{ n: string }>`SELECT count(*) AS n FROM messages WHERE status = 'queued'`.execute(
      c.db,
    );
    if (Number(r.rows[0]?.n) === 0 || (performance.now() - started) / 1000 > deliverLimit) break;
  }
  await c.runner.stop();
  const deliverSeconds = (performance.now() - started) / 1000;
  const deliverCpu = cpuSeconds(cpu);
  const sent = await sql<{ status: string; n: string }>`
    SELECT status, count(*) AS n FROM messages GROUP BY status`.execute(c.db);
  await c.close();

  const result: ChildResult = {
    contacts: contactIds.length,
    baseline: { rows: baselineRows, seconds: baselineSeconds, setRows: contactIds.length, setSeconds },
    enrol: { seconds: enrolSeconds, cpuSeconds: enrolCpu, profile: enrolProfile },
    first: { steps: firstSteps, seconds: firstSeconds, cpuSeconds: firstCpu, profile: firstProfile },
    second: {
      steps: secondSteps,
      seconds: secondSeconds,
      cpuSeconds: secondCpu,
      lag: batchLag,
      unfinished: Number(unfinished.rows[0]?.n),
      profile: secondProfile,
    },
    steady: {
      rate: steadyRate,
      runs: steadyCount,
      seconds: steadyWall,
      lag: steadyLag,
      pollMs: config.jobPollIntervalMs,
    },
    delivery: {
      queued: Number(queued.rows[0]?.n),
      seconds: deliverSeconds,
      cpuSeconds: deliverCpu,
      byStatus: Object.fromEntries(sent.rows.map((r) => [r.status, Number(r.n)])),
      concurrency: config.jobConcurrency,
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
