import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  TrackingServerReady,
  TrackingServerReply,
  TrackingServerRequest,
} from './tracking-server-child.js';

/**
 * Open pixel and click redirect throughput on one core (each server runs in
 * a process of its own, tracking-server-child.ts; load comes from another),
 * with every hit durably recorded: after each run the writer is flushed and
 * the rows are counted. Baseline: a bare Fastify app answering the same
 * paths with the same bytes (the GIF, a 302) and recording nothing,
 * measured in the same run.
 *
 * Each run also accounts for the machine's CPU per request: the server's
 * (flushing the hits included), the load generator's and, on PostgreSQL,
 * the database server's. The server, the load generator and the database
 * share the machine's cores, so on a small machine the requests per second
 * are bounded by all three, not by the server alone.
 *
 * Alone: `npm run build && node dist/bench/tracking.js` (BENCH_DATABASE_URL
 * for PostgreSQL figures; BENCH_TRACKING_SECONDS, default 10;
 * BENCH_TRACKING_RECIPIENTS, default 100,000;
 * BENCH_TRACKING_PROFILE=<dir> writes a CPU profile of each measured run,
 * the baseline's included, without the setup).
 */

interface LoadResult {
  requestsPerSecond: number;
  /** CPU the server process spent per answered request, user + system, including flushing the hits. */
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

/** A request without the id the connection gives it. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

interface TrackingServer extends TrackingServerReady {
  request(request: Unnumbered<TrackingServerRequest>): Promise<TrackingServerReply>;
  close(): Promise<void>;
}

/** Starts a server process (tracking-server-child.ts) and waits until it listens. */
function startServer(args: string[]): Promise<TrackingServer> {
  const script = fileURLToPath(new URL('./tracking-server-child.js', import.meta.url));
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 0;
  const waiting = new Map<number, (reply: TrackingServerReply) => void>();
  return new Promise((resolve, reject) => {
    const failed = (code: number | null) =>
      reject(new Error(`tracking server ${args[0]} exited with ${code}`));
    child.once('exit', failed);
    child.on('message', (message: TrackingServerReady | TrackingServerReply) => {
      if ('origin' in message) {
        child.off('exit', failed);
        child.once('exit', (code) => {
          if (code !== 0) for (const fail of waiting.values()) fail({ id: -1 });
        });
        const request = (body: Unnumbered<TrackingServerRequest>) => {
          const id = next++;
          return new Promise<TrackingServerReply>((done, fail) => {
            waiting.set(id, (reply) =>
              reply.id === id ? done(reply) : fail(new Error(`tracking server ${args[0]} failed`)),
            );
            child.send({ ...body, id });
          });
        };
        resolve({
          ...message,
          request,
          async close() {
            const exited = new Promise((done) => child.once('exit', done));
            await request({ op: 'close' });
            await exited;
          },
        });
        return;
      }
      const done = waiting.get(message.id);
      waiting.delete(message.id);
      done?.(message);
    });
  });
}

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
 * A load run, with the server's CPU per request and, when `database` is set,
 * the PostgreSQL server's; with `kind`, the server flushes and counts that
 * kind's hits before it reports its CPU, so the writes are counted too.
 */
async function measured(
  server: TrackingServer,
  pathsFile: string,
  options: { seconds: number; connections: number },
  run: { profile: string; kind?: 'open' | 'click'; database?: boolean },
): Promise<LoadResult & { rows?: number }> {
  await server.request({ op: 'begin', profile: run.profile });
  const databaseBefore = run.database ? postgresTicks() : undefined;
  const result = await load(server.origin, pathsFile, options.seconds, options.connections);
  const end = await server.request({ op: 'end', ...(run.kind ? { kind: run.kind } : {}) });
  const databaseAfter = databaseBefore === undefined ? undefined : postgresTicks();
  const requests = Math.max(1, result.total);
  return {
    ...result,
    serverCpuUs: (end.cpuUs ?? 0) / requests,
    ...(end.rows === undefined ? {} : { rows: end.rows }),
    ...(databaseBefore !== undefined && databaseAfter !== undefined
      ? { databaseCpuUs: postgresCpuUs(databaseBefore, databaseAfter) / requests }
      : {}),
  };
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
      const herald = await startServer([
        'herald',
        target,
        dir,
        ...(options.postgresUrl ? [options.postgresUrl] : []),
      ]);
      const opensFile = herald.opensFile as string;
      const clicksFile = herald.clicksFile as string;
      try {
        if (!baselines.open) {
          const baseline = await startServer(['baseline']);
          try {
            await load(baseline.origin, opensFile, 2, options.connections); // warm-up
            baselines.open = await measured(baseline, opensFile, options, { profile: 'baseline-open' });
            baselines.click = await measured(baseline, clicksFile, options, { profile: 'baseline-click' });
          } finally {
            await baseline.close();
          }
        }
        await load(herald.origin, opensFile, 2, options.connections); // warm-up (recorded too)
        const warm = (await herald.request({ op: 'rows', kind: 'open' })).rows ?? 0;
        const database = target === 'postgres';
        const open = await measured(herald, opensFile, options, {
          profile: `${target}-open`,
          kind: 'open',
          database,
        });
        results.push({
          target,
          kind: 'open',
          result: open,
          rows: (open.rows ?? 0) - warm,
          answered: ok(open, '200'),
        });
        const click = await measured(herald, clicksFile, options, {
          profile: `${target}-click`,
          kind: 'click',
          database,
        });
        results.push({
          target,
          kind: 'click',
          result: click,
          rows: click.rows ?? 0,
          answered: ok(click, '302'),
        });
      } finally {
        await herald.close();
      }
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
