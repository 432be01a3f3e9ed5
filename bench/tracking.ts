import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { migrate, openPglite, openPostgres } from '../src/db/index.js';
import { systemClock } from '../src/lib/clock.js';
import { uuidv7 } from '../src/lib/ids.js';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { buildHttpApp } from '../src/main/api.js';
import { createContainer } from '../src/main/container.js';
import { PIXEL_GIF } from '../src/modules/tracking/index.js';
import { type BenchDatabase, freshPostgres } from './bench-database.js';

/**
 * Open pixel and click redirect throughput on one core (the server runs in
 * this process; load comes from a separate process), with every hit durably
 * recorded: after each run the writer is flushed and the rows are counted.
 * Baseline: a bare Fastify app answering the same paths with the same bytes
 * (the GIF, a 302) and recording nothing, measured in the same run.
 *
 * Each run also accounts for the machine's CPU per request: the server's
 * (this process, flushing the hits included), the load generator's and, on
 * PostgreSQL, the database server's. The server, the load generator and the
 * database share the machine's cores, so on a small machine the requests
 * per second are bounded by all three, not by the server alone.
 *
 * Alone: `npm run build && node dist/bench/tracking.js` (BENCH_DATABASE_URL
 * for PostgreSQL figures; BENCH_TRACKING_SECONDS, default 10;
 * BENCH_TRACKING_RECIPIENTS, default 100,000;
 * BENCH_TRACKING_PROFILE=<dir> writes a CPU profile of each measured run,
 * the baseline's included, without the setup).
 */

interface LoadResult {
  requestsPerSecond: number;
  /** CPU this (server) process spent per answered request, user + system, including flushing the hits. */
  serverCpuUs?: number;
  /** CPU the load generator process spent per request. */
  loadCpuUs: number;
  /** CPU the PostgreSQL server's processes spent per request (PostgreSQL runs only). */
  databaseCpuUs?: number;
  latencyP50: number;
  latencyP99: number;
  errors: number;
  total: number;
  statuses: Record<string, number>;
}

/**
 * The campaign's recipients. Each was sent one message an hour ago (its send
 * record is there, as for every tracked message), opens it and clicks one of
 * its five links. The load cycles through all of them, as a large
 * campaign's traffic spreads over its recipients, so a message is opened or
 * clicked a couple of times in a run rather than a hundred.
 */
const RECIPIENTS = Number(process.env.BENCH_TRACKING_RECIPIENTS ?? 100_000);
const BODY = [1, 2, 3, 4, 5]
  .map((i) => `<p><a href="https://shop.example.com/item/${i}?ref=mail">Item ${i}</a></p>`)
  .join('');

/**
 * CPU time so far of each process named postgres on this machine, in clock
 * ticks by pid, from /proc (Linux); undefined elsewhere. The benchmark's
 * database is the only busy one while it runs.
 */
function postgresTicks(): Map<string, number> | undefined {
  const ticks = new Map<string, number>();
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (!stat.includes('(postgres)')) continue;
        // utime and stime: fields 14 and 15, counted after the parenthesised name.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // The process ended while the list was read.
      }
    }
  } catch {
    return undefined;
  }
  return ticks;
}

/** The PostgreSQL CPU spent between two readings, in µs (a process that ended in between is not counted). */
function postgresCpuUs(before: Map<string, number>, after: Map<string, number>): number {
  let ticks = 0;
  for (const [pid, total] of after) ticks += total - (before.get(pid) ?? 0);
  return (ticks * 1_000_000) / clockTicks();
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * A load run, with this process's CPU per request (the server runs here) and,
 * when `database` is set, the PostgreSQL server's; `after` (flushing the
 * hits) is counted too.
 */
async function measured(
  origin: string,
  pathsFile: string,
  seconds: number,
  connections: number,
  after?: () => Promise<unknown>,
  database = false,
): Promise<LoadResult> {
  const before = process.cpuUsage();
  const databaseBefore = database ? postgresTicks() : undefined;
  const result = await load(origin, pathsFile, seconds, connections);
  await after?.();
  const cpu = process.cpuUsage(before);
  const databaseAfter = databaseBefore === undefined ? undefined : postgresTicks();
  const requests = Math.max(1, result.total);
  return {
    ...result,
    serverCpuUs: (cpu.user + cpu.system) / requests,
    ...(databaseBefore !== undefined && databaseAfter !== undefined
      ? { databaseCpuUs: postgresCpuUs(databaseBefore, databaseAfter) / requests }
      : {}),
  };
}

/** Runs `run` under the CPU profiler when BENCH_TRACKING_PROFILE names a folder, writing `<name>.cpuprofile` there. */
async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_TRACKING_PROFILE;
  if (!dir) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

function load(origin: string, pathsFile: string, seconds: number, connections: number): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./tracking-load-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, origin, pathsFile, String(seconds), String(connections)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load exit ${code}`)),
    );
  });
}

/** The same answers without tokens, database or any of Herald's plugins. */
async function startBaseline() {
  // Herald's router setting: tokens are longer than Fastify's default 100-character parameter limit.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 500 } });
  const noStore = 'no-store, no-cache, must-revalidate, private, max-age=0';
  app.get('/o/:token', async (_request, reply) =>
    reply
      .type('image/gif')
      .header('cache-control', noStore)
      .header('pragma', 'no-cache')
      .header('expires', '0')
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(PIXEL_GIF),
  );
  app.get('/c/:token', async (_request, reply) =>
    reply
      .header('cache-control', noStore)
      .redirect(
        `https://shop.example.com/item/1?ref=mail&utm_source=herald&utm_medium=email&hid=${uuidv7()}`,
        302,
      ),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return { app, origin: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

async function startHerald(target: 'pglite' | 'postgres', postgresUrl: string | undefined, dir: string) {
  const bench: BenchDatabase | undefined =
    target === 'postgres' ? await freshPostgres(postgresUrl as string) : undefined;
  const database = bench ? openPostgres({ url: bench.url, poolSize: 10 }) : await openPglite({});
  await migrate(database.db);
  const config = loadConfig({
    env: {
      HERALD_LOG_LEVEL: 'silent',
      HERALD_WORKER: 'false',
      HERALD_RATE_LIMIT_PER_MINUTE: '100000000',
      HERALD_TRACKING_RATE_LIMIT_PER_MINUTE: '100000000',
      HERALD_SECRET_KEYS: generateSecretKey(),
    },
  });
  const container = createContainer({
    config,
    database,
    logger: pino({ level: 'silent' }),
    clock: systemClock,
  });
  const boot = await container.workspaces.bootstrap();
  const workspaceId = boot?.workspace.id as string;
  const template = await container.templates.create(workspaceId, {
    name: 'Bench',
    format: 'html',
    subject: 'Hi',
    body: BODY,
  });
  const campaign = await container.campaigns.create(workspaceId, {
    name: 'Bench',
    template_id: template.id,
    utm_source: 'herald',
    utm_medium: 'email',
  });
  const now = new Date();
  await sql`
    INSERT INTO contacts (id, workspace_id, email, created_at, updated_at)
    SELECT gen_random_uuid(), ${workspaceId}, 'bench-' || i || '@example.com', ${now}, ${now}
    FROM generate_series(1, ${RECIPIENTS}::int) AS i`.execute(container.db);
  const contacts = await container.db
    .selectFrom('contacts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .execute();
  const tracker = await container.tracking.prepare({
    workspaceId,
    templateVersionId: template.version.id,
    trackOpens: true,
    trackClicks: true,
    honeypot: false,
  });
  const opens: string[] = [];
  const clicks: string[] = [];
  const messageIds: string[] = [];
  const html = `<html><body>${BODY}</body></html>`;
  contacts.forEach((contact, i) => {
    const messageId = uuidv7();
    messageIds.push(`<${messageId}@bench.example>`);
    const out = tracker.apply(
      { html, text: '' },
      { workspaceId, messageId, contactId: contact.id, campaignId: campaign.id },
    );
    const links = [...out.html.matchAll(/https?:\/\/[^/"]+(\/[oc]\/[A-Za-z0-9_-]+)/g)].map(
      (m) => m[1] as string,
    );
    opens.push(links.find((path) => path.startsWith('/o/')) as string);
    // One of the five links, a different one from one recipient to the next.
    clicks.push(links.filter((path) => path.startsWith('/c/'))[i % 5] as string);
  });
  const sentAt = new Date(now.getTime() - 3_600_000);
  for (let from = 0; from < contacts.length; from += 10_000) {
    const ids = contacts.slice(from, from + 10_000).map((c) => c.id);
    await sql`
      INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, created_at, finished_at)
      SELECT ${campaign.id}, k.contact_id, ${workspaceId}, k.message_id, 'sent', ${sentAt}, ${sentAt}
      FROM unnest(${ids}::uuid[], ${messageIds.slice(from, from + 10_000)}::text[]) AS k(contact_id, message_id)`.execute(
      container.db,
    );
  }
  // Sent an hour ago, as its send records say: clicks come after the campaign finished sending.
  await sql`
    UPDATE campaigns
    SET status = 'sent', template_version_id = ${template.version.id}, to_send = ${contacts.length},
        sent_count = ${contacts.length}, started_at = ${sentAt}, finished_at = ${sentAt}
    WHERE id = ${campaign.id}`.execute(container.db);
  const opensFile = join(dir, `${target}-opens.txt`);
  const clicksFile = join(dir, `${target}-clicks.txt`);
  writeFileSync(opensFile, opens.join('\n'));
  writeFileSync(clicksFile, clicks.join('\n'));

  const app = await buildHttpApp(container);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const rows = async (kind: 'open' | 'click') => {
    await container.tracking.flush();
    const r = await sql<{ n: string }>`SELECT count(*) AS n FROM tracking_hits WHERE kind = ${kind}`.execute(
      container.db,
    );
    return Number(r.rows[0]?.n);
  };
  return {
    origin,
    opensFile,
    clicksFile,
    rows,
    async close() {
      await app.close();
      await container.close();
      await bench?.drop();
    },
  };
}

const ok = (r: LoadResult, status: string) => r.statuses[status] ?? 0;
const cpu = (r: LoadResult) =>
  `CPU per request: server ${(r.serverCpuUs ?? 0).toFixed(0)} µs, load generator ${r.loadCpuUs.toFixed(0)} µs` +
  (r.databaseCpuUs === undefined ? '' : `, PostgreSQL ${r.databaseCpuUs.toFixed(0)} µs`);

export async function benchTracking(options: {
  seconds: number;
  connections: number;
  postgresUrl?: string | undefined;
}) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-tracking-'));
  const results: { target: string; kind: string; result: LoadResult; rows: number; answered: number }[] = [];
  const baselines: Record<string, LoadResult> = {};
  try {
    const targets = (
      (options.postgresUrl ? ['pglite', 'postgres'] : ['pglite']) as ('pglite' | 'postgres')[]
    ).filter(
      (target) => !process.env.BENCH_TRACKING_TARGETS || process.env.BENCH_TRACKING_TARGETS.includes(target),
    );
    for (const target of targets) {
      const herald = await startHerald(target, options.postgresUrl, dir);
      if (!baselines.open) {
        const baseline = await startBaseline();
        await load(baseline.origin, herald.opensFile, 2, options.connections); // warm-up
        baselines.open = await profiled('baseline-open', () =>
          measured(baseline.origin, herald.opensFile, options.seconds, options.connections),
        );
        baselines.click = await profiled('baseline-click', () =>
          measured(baseline.origin, herald.clicksFile, options.seconds, options.connections),
        );
        await baseline.app.close();
      }
      await load(herald.origin, herald.opensFile, 2, options.connections); // warm-up (recorded too)
      const warm = await herald.rows('open');
      const open = await profiled(`${target}-open`, () =>
        measured(
          herald.origin,
          herald.opensFile,
          options.seconds,
          options.connections,
          () => herald.rows('open'),
          target === 'postgres',
        ),
      );
      results.push({
        target,
        kind: 'open',
        result: open,
        rows: (await herald.rows('open')) - warm,
        answered: ok(open, '200'),
      });
      const click = await profiled(`${target}-click`, () =>
        measured(
          herald.origin,
          herald.clicksFile,
          options.seconds,
          options.connections,
          () => herald.rows('click'),
          target === 'postgres',
        ),
      );
      results.push({
        target,
        kind: 'click',
        result: click,
        rows: await herald.rows('click'),
        answered: ok(click, '302'),
      });
      await herald.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    '\n== Open pixel and click redirect (real HTTP, one server process, load from a separate process) ==',
  );
  for (const kind of ['open', 'click'] as const) {
    const baseline = baselines[kind] as LoadResult;
    const label = kind === 'open' ? 'GET /o/:token (pixel)' : 'GET /c/:token (redirect)';
    console.log(
      `${label}\n  baseline: bare Fastify route, same bytes, nothing recorded: ${baseline.requestsPerSecond.toFixed(0)} req/s ` +
        `(p50 ${baseline.latencyP50} ms, p99 ${baseline.latencyP99} ms; ${cpu(baseline)}; ` +
        `${ok(baseline, kind === 'open' ? '200' : '302')} of ${baseline.total} answered ${kind === 'open' ? '200' : '302'})`,
    );
    for (const r of results.filter((x) => x.kind === kind)) {
      console.log(
        `  ${r.target.padEnd(8)}: ${r.result.requestsPerSecond.toFixed(0)} req/s, ratio to baseline ${(
          r.result.requestsPerSecond / baseline.requestsPerSecond
        ).toFixed(
          3,
        )} (goal >= 0.6; p50 ${r.result.latencyP50} ms, p99 ${r.result.latencyP99} ms; ${cpu(r.result)}); ` +
          `${r.answered} answered ${kind === 'open' ? '200' : '302'}, ${r.rows} hits recorded` +
          // The load generator stops counting with requests still in flight (at most one per connection); the server answered and recorded those too.
          `${r.rows >= r.answered && r.rows <= r.answered + options.connections ? ' (every answered request recorded)' : ' (MISMATCH)'}, ${r.result.errors} errors`,
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.BENCH_DATABASE_URL;
  await benchTracking({
    seconds: Number(process.env.BENCH_TRACKING_SECONDS ?? 10),
    connections: 16,
    postgresUrl: url,
  });
}
