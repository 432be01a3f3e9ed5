import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { freshPostgres } from './bench-database.js';
import { campaignLikeMessage } from './campaign-message.js';
import { startSink } from './smtp-sink.js';

/**
 * Campaign sending through the whole pipeline (claim, render, build, DKIM
 * RSA-2048, SMTP) against a local SMTP sink in its own process, next to the
 * same sink's raw throughput with bare nodemailer: a pool with the same
 * maxConnections and maxMessages sending one pre-built, unsigned message of
 * the campaign's average size (measured at the sink), so the ratio shows
 * what the pipeline costs, not what a bigger message costs on the wire.
 */

interface ChildResult {
  status: string;
  sent: number;
  seconds: number;
  cpuSeconds: number;
  rssBeforeMb: number;
  peakRssMb: number;
  peakHeapUsedMb: number;
  peakExternalMb: number;
}

/** Bare nodemailer: a pooled transport, one pre-built raw message, a window of sends in flight. */
async function bareNodemailer(
  port: number,
  messages: number,
  connections: number,
  raw: Buffer,
): Promise<{ rate: number; cpuMsPerMessage: number }> {
  const pool = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
    maxConnections: connections,
    maxMessages: 100,
  });
  const envelope = { from: 'bounce@shop.example', to: ['person@example.com'] };
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  let next = 0;
  // The window matches what Herald keeps queued: a batch of 100 shared by the connections.
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < messages) {
        next++;
        await pool.sendMail({ envelope, raw });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  pool.close();
  return { rate: messages / seconds, cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / messages };
}

function runChild(mode: 'setup' | 'send', args: string[], secretKeys: string): Promise<ChildResult> {
  const script = fileURLToPath(new URL('./campaign-send-child.js', import.meta.url));
  const profiling = mode === 'send' && process.env.BENCH_SEND_PROFILE;
  const profile = profiling ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SEND_PROFILE}`] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...profile, script, mode, ...args], {
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

export async function benchCampaignSend(options: {
  rows: number;
  /** Opt-in second PostgreSQL run (e.g. 1,000,000) to show memory flat in audience size. */
  bigRows?: number | undefined;
  postgresUrl?: string | undefined;
}) {
  const connections = 8;
  const sink = await startSink();
  try {
    console.log(
      `\n== Campaign send (${options.rows} recipients, DKIM RSA-2048, SMTP pool of ${connections} to a local sink) ==`,
    );
    // Warm the sink (and the JIT of both sides).
    await bareNodemailer(sink.port, 2000, connections, campaignLikeMessage(3_500));
    /** Each run's result and its average message size at the sink; reported once the baseline is known. */
    const runs: { label: string; result: ChildResult; bytesPerMessage: number }[] = [];

    const report = (label: string, result: ChildResult, baseline: number) => {
      const rate = result.sent / result.seconds;
      console.log(
        `${label}: ${result.sent} sent in ${result.seconds.toFixed(1)} s = ${rate.toFixed(0)} msg/s, ` +
          `ratio to bare nodemailer ${(rate / baseline).toFixed(2)} (goal >= 0.6), ` +
          `${((result.cpuSeconds / result.sent) * 1e6).toFixed(0)} µs CPU per message (all threads), ` +
          `peak RSS ${result.peakRssMb.toFixed(0)} MB (goal < 250 MB; ${result.rssBeforeMb.toFixed(0)} MB before sending; ` +
          `at the peak ${result.peakHeapUsedMb.toFixed(0)} MB JS heap used, ${result.peakExternalMb.toFixed(0)} MB external), ` +
          `campaign ${result.status}`,
      );
    };
    const run = async (target: 'pglite' | 'postgres', rows: number, url?: string) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-send-'));
      try {
        const secretKeys = generateSecretKey();
        const args = [
          target,
          dataDir,
          String(sink.port),
          String(rows),
          String(connections),
          ...(url ? [url] : []),
        ];
        await runChild('setup', args, secretKeys);
        const before = await sink.count();
        const bytesBefore = await sink.bytes();
        const result = await runChild('send', args, secretKeys);
        const received = (await sink.count()) - before;
        if (received < rows) throw new Error(`the sink received ${received} of ${rows} messages`);
        runs.push({
          label: `${target.padEnd(8)} ${rows}`,
          result,
          bytesPerMessage: ((await sink.bytes()) - bytesBefore) / received,
        });
        return result;
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    };

    await run('pglite', options.rows);
    let growth: string | undefined;
    if (options.postgresUrl) {
      const database = await freshPostgres(options.postgresUrl);
      let small: ChildResult;
      try {
        small = await run('postgres', options.rows, database.url);
      } finally {
        await database.drop();
      }
      if (options.bigRows) {
        const bigDatabase = await freshPostgres(options.postgresUrl);
        try {
          const big = await run('postgres', options.bigRows, bigDatabase.url);
          growth =
            `postgres peak RSS growth from ${options.rows} to ${options.bigRows} recipients: ` +
            `${(big.peakRssMb - small.peakRssMb).toFixed(0)} MB (goal: within 30 MB)`;
        } finally {
          await bigDatabase.drop();
        }
      }
    }

    // Every run sends the same template, so their messages are the same size give or take a few bytes.
    const size = Math.round(runs.reduce((sum, r) => sum + r.bytesPerMessage, 0) / runs.length);
    const raw = campaignLikeMessage(size);
    const bare = await bareNodemailer(sink.port, Math.min(options.rows, 50_000), connections, raw);
    console.log(
      `baseline: bare nodemailer, an unsigned pre-built message of ${raw.length} bytes ` +
        `(the campaign's messages averaged ${size} bytes at the sink): ${bare.rate.toFixed(0)} msg/s, ` +
        `${(bare.cpuMsPerMessage * 1000).toFixed(0)} µs CPU per message`,
    );
    for (const { label, result } of runs) report(label, result, bare.rate);
    if (growth) console.log(growth);
  } finally {
    await sink.stop();
  }
}
