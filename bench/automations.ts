import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import type { ChildResult, Percentiles, ProfileRow } from './automations-shared.js';
import { freshPostgres } from './bench-database.js';
import { startSink } from './smtp-sink.js';

/**
 * Automations: N contacts (default 100,000) enrolled at once into
 * send -> wait 1 min -> branch -> send -> exit, on the embedded database and
 * on PostgreSQL, each in its own processes (see automations-child.ts for the
 * phases). Prints enrolments/s and step executions/s with their ratio to
 * one-row INSERTs of run-shaped rows into the same database in the same run,
 * the scheduler lag when every run comes due at the same instant and at a
 * steady arrival rate, and the delivery of the accepted messages to a
 * counting SMTP sink (DKIM-signed), measured after the steps, apart from them.
 */

function runChild(mode: 'setup' | 'run', args: string[], secretKeys: string): Promise<ChildResult> {
  const script = fileURLToPath(new URL('./automations-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, mode, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, HERALD_SECRET_KEYS: secretKeys },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`exit ${code}`)),
    );
  });
}

const rate = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');
const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(0)} ms`);
const lag = (l: Percentiles) => `p50 ${ms(l.p50Ms)}, p99 ${ms(l.p99Ms)}, max ${ms(l.maxMs)} (${l.n} runs)`;

function printProfile(label: string, rows: ProfileRow[] | undefined, seconds: number) {
  if (!rows) return;
  console.log(`  ${label}: database time per statement shape (of ${seconds.toFixed(1)} s wall):`);
  for (const row of rows)
    console.log(
      `    ${(row.totalMs / 1000).toFixed(1).padStart(6)} s ${String(row.calls).padStart(8)}x  ${row.sql}`,
    );
}

function report(label: string, r: ChildResult) {
  const baseline = r.baseline.rows / r.baseline.seconds;
  const enrolRate = r.contacts / r.enrol.seconds;
  const firstRate = r.first.steps / r.first.seconds;
  const secondRate = r.second.steps / r.second.seconds;
  const steps = r.first.steps + r.second.steps;
  const stepRate = steps / (r.first.seconds + r.second.seconds);
  const delivered = r.delivery.byStatus.sent ?? 0;
  console.log(
    `${label} baseline: one-row INSERT of a run-shaped row, 16 in flight: ${rate(r.baseline.rows, r.baseline.seconds)} rows/s ` +
      `(set-based INSERT ... SELECT of ${r.baseline.setRows}: ${rate(r.baseline.setRows, r.baseline.setSeconds)} rows/s)`,
  );
  console.log(
    `${label} enrolment: ${r.contacts} in ${r.enrol.seconds.toFixed(1)} s = ${rate(r.contacts, r.enrol.seconds)} contacts/s, ` +
      `ratio to the one-row INSERT ${(enrolRate / baseline).toFixed(2)}, ${((r.enrol.cpuSeconds / r.contacts) * 1e6).toFixed(0)} µs CPU per enrolment`,
  );
  console.log(
    `${label} steps: ${steps} in ${(r.first.seconds + r.second.seconds).toFixed(1)} s = ${rate(steps, r.first.seconds + r.second.seconds)} steps/s ` +
      `(ratio ${(stepRate / baseline).toFixed(2)}; send+wait ${rate(r.first.steps, r.first.seconds)}/s = ${(firstRate / baseline).toFixed(2)}, ` +
      `branch+send+exit ${rate(r.second.steps, r.second.seconds)}/s = ${(secondRate / baseline).toFixed(2)}), ` +
      `${(((r.first.cpuSeconds + r.second.cpuSeconds) / steps) * 1e6).toFixed(0)} µs CPU per step, ` +
      `${r.second.unfinished} runs not completed`,
  );
  console.log(`${label} lag, all ${r.contacts} due at the same instant: ${lag(r.second.lag)}`);
  console.log(
    `${label} lag, ${r.steady.rate} arrivals/s for ${r.steady.runs} runs (engine polling every ${r.steady.pollMs} ms when idle): ${lag(r.steady.lag)}`,
  );
  console.log(
    `${label} delivery afterwards (job runner, concurrency ${r.delivery.concurrency}, DKIM RSA-2048, SMTP sink): ` +
      `${delivered} sent of ${r.delivery.queued} queued in ${r.delivery.seconds.toFixed(1)} s = ${rate(delivered, r.delivery.seconds)} msg/s ` +
      `(${JSON.stringify(r.delivery.byStatus)})`,
  );
  printProfile('enrolment', r.enrol.profile, r.enrol.seconds);
  printProfile('send+wait', r.first.profile, r.first.seconds);
  printProfile('branch+send+exit', r.second.profile, r.second.seconds);
}

export async function benchAutomations(options: {
  contacts: number;
  /** On the embedded database (default: contacts). */
  pgliteContacts?: number | undefined;
  postgresUrl?: string | undefined;
  targets?: ReadonlyArray<'pglite' | 'postgres'> | undefined;
}) {
  const targets = options.targets ?? ['pglite', 'postgres'];
  const sink = await startSink();
  try {
    console.log(
      '\n== Automations (contacts enrolled at once into send -> wait 1 min -> branch -> send; ' +
        `${options.contacts} on PostgreSQL, ${options.pgliteContacts ?? options.contacts} on the embedded database) ==`,
    );
    const run = async (target: 'pglite' | 'postgres', url?: string) => {
      const contacts = target === 'pglite' ? (options.pgliteContacts ?? options.contacts) : options.contacts;
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-automations-'));
      try {
        const secretKeys = generateSecretKey();
        const args = [target, dataDir, String(sink.port), String(contacts), ...(url ? [url] : [])];
        await runChild('setup', args, secretKeys);
        const before = await sink.count();
        const result = await runChild('run', args, secretKeys);
        const received = (await sink.count()) - before;
        const sent = result.delivery.byStatus.sent ?? 0;
        if (received < sent) throw new Error(`the sink received ${received} of ${sent} messages sent`);
        return result;
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    };
    if (targets.includes('pglite')) report('pglite  ', await run('pglite'));
    if (options.postgresUrl && targets.includes('postgres')) {
      const database = await freshPostgres(options.postgresUrl);
      try {
        report('postgres', await run('postgres', database.url));
      } finally {
        await database.drop();
      }
    }
  } finally {
    await sink.stop();
  }
}

// Alone: `npm run build && node dist/bench/automations.js`.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const targets = process.env.BENCH_AUTOMATIONS_TARGETS?.split(',') as
    | Array<'pglite' | 'postgres'>
    | undefined;
  await benchAutomations({
    contacts: Number(process.env.BENCH_AUTOMATIONS_CONTACTS ?? 100_000),
    pgliteContacts: Number(
      process.env.BENCH_AUTOMATIONS_PGLITE_CONTACTS ?? process.env.BENCH_AUTOMATIONS_CONTACTS ?? 100_000,
    ),
    postgresUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    targets,
  });
}
