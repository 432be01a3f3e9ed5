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
 * for PostgreSQL figures; BENCH_TRACKING_SECONDS per run, default 5;
 * BENCH_TRACKING_ROUNDS, default 3;
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
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const us = (values: (number | undefined)[]) => `${median(values.map((v) => v ?? 0)).toFixed(0)} µs`;

/** One route's runs on one target: Herald's and, next to each, the baseline's. */
interface Pairs {
  herald: (LoadResult & { recorded: number })[];
  baseline: LoadResult[];
}

/**
 * Runs every route on every target in `rounds` rounds, each Herald run right
 * after a baseline run on the same paths. The machine's speed drifts (on a
 * shared host, by half within minutes), and two runs next to each other see
 * the same machine: the ratio is taken per pair, and its median reported.
 */
export async function benchTracking(options: {
  seconds: number;
  rounds: number;
  connections: number;
  postgresUrl?: string | undefined;
}) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-tracking-'));
  const results = new Map<string, Pairs>();
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
      const baseline = await startServer(['baseline']);
      try {
        const paths = { open: herald.opensFile as string, click: herald.clicksFile as string };
        // Warm-ups; Herald records its requests too.
        const stored = { open: 0, click: 0 };
        for (const kind of ['open', 'click'] as const) {
          await load(baseline.origin, paths[kind], 2, options.connections);
          await load(herald.origin, paths[kind], 2, options.connections);
          stored[kind] = (await herald.request({ op: 'rows', kind })).rows ?? 0;
        }
        for (let round = 1; round <= options.rounds; round++) {
          for (const kind of ['open', 'click'] as const) {
            const pairs = results.get(`${target}:${kind}`) ?? { herald: [], baseline: [] };
            results.set(`${target}:${kind}`, pairs);
            pairs.baseline.push(
              await measured(baseline, paths[kind], options, {
                profile: `${target}-baseline-${kind}-${round}`,
              }),
            );
            const run = await measured(herald, paths[kind], options, {
              profile: `${target}-${kind}-${round}`,
              kind,
              database: target === 'postgres',
            });
            pairs.herald.push({ ...run, recorded: (run.rows ?? 0) - stored[kind] });
            stored[kind] = run.rows ?? 0;
          }
        }
      } finally {
        await baseline.close();
        await herald.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `\n== Open pixel and click redirect (real HTTP, each server in a process of its own, load from another; ` +
      `${options.rounds} rounds of ${options.seconds} s per route, each Herald run next to a baseline run) ==`,
  );
  for (const kind of ['open', 'click'] as const) {
    const status = kind === 'open' ? '200' : '302';
    console.log(kind === 'open' ? 'GET /o/:token (pixel)' : 'GET /c/:token (redirect)');
    for (const [key, { herald, baseline }] of results) {
      const [target] = key.split(':') as [string];
      if (!key.endsWith(`:${kind}`)) continue;
      const ratios = herald.map(
        (h, i) => h.requestsPerSecond / (baseline[i] as LoadResult).requestsPerSecond,
      );
      const answered = herald.reduce((sum, h) => sum + ok(h, status), 0);
      const recorded = herald.reduce((sum, h) => sum + h.recorded, 0);
      // The load generator stops counting with requests still in flight (at most one per connection); the server answered and recorded those too.
      const allRecorded = herald.every(
        (h) => h.recorded >= ok(h, status) && h.recorded <= ok(h, status) + options.connections,
      );
      const baselineAnswered = baseline.every((b) => ok(b, status) === b.total);
      console.log(
        `  ${target.padEnd(8)}: ${median(herald.map((h) => h.requestsPerSecond)).toFixed(0)} req/s, ` +
          `baseline (bare Fastify route, same bytes, nothing recorded) ${median(baseline.map((b) => b.requestsPerSecond)).toFixed(0)} req/s; ` +
          `ratio ${median(ratios).toFixed(3)} (goal >= 0.6; per round ${ratios.map((r) => r.toFixed(2)).join(', ')})\n` +
          `            CPU per request: server ${us(herald.map((h) => h.serverCpuUs))} (baseline ${us(baseline.map((b) => b.serverCpuUs))}), ` +
          `load generator ${us(herald.map((h) => h.loadCpuUs))} (baseline ${us(baseline.map((b) => b.loadCpuUs))})` +
          `${herald[0]?.databaseCpuUs === undefined ? '' : `, PostgreSQL ${us(herald.map((h) => h.databaseCpuUs))}`}; ` +
          `p50 ${median(herald.map((h) => h.latencyP50))} ms, p99 ${median(herald.map((h) => h.latencyP99))} ms (baseline p99 ${median(baseline.map((b) => b.latencyP99))} ms)\n` +
          `            ${answered} answered ${status}, ${recorded} hits recorded${allRecorded ? ' (every answered request recorded)' : ' (MISMATCH)'}, ` +
          `${herald.reduce((sum, h) => sum + h.errors, 0)} errors; baseline ${baselineAnswered ? `every request answered ${status}` : 'OTHER ANSWERS'}`,
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchTracking({
    seconds: Number(process.env.BENCH_TRACKING_SECONDS ?? 5),
    rounds: Number(process.env.BENCH_TRACKING_ROUNDS ?? 3),
    connections: 16,
    postgresUrl: process.env.BENCH_DATABASE_URL,
  });
}
