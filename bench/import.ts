import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import { freshPostgres } from './bench-database.js';

interface ChildResult {
  rows: number;
  created: number;
  failed: number;
  seconds: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

/** Writes a realistic contacts CSV: typed-looking attributes, tags, some quoting. */
async function writeCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  const plans = ['free', 'pro', 'team'];
  const write = (line: string) =>
    out.write(line) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve()));
  await write('email,first_name,last_name,plan,score,city,tags\n');
  for (let i = 0; i < rows; i++) {
    await write(
      `person${i}@example${i % 97}.com,First${i},"Last, ${i}",${plans[i % 3]},${i % 1000},City ${i % 500},${i % 2 ? 'vip;beta' : 'beta'}\n`,
    );
  }
  await new Promise<void>((resolve) => out.end(resolve));
}

/** The baseline: parse the same file with csv-parse and do nothing else. */
async function parseOnly(path: string): Promise<{ rows: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let rows = 0;
  for await (const _record of createReadStream(path).pipe(parse({ bom: true }))) rows++;
  return { rows: rows - 1, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function runChild(target: 'pglite' | 'postgres', csv: string, url?: string): Promise<ChildResult> {
  const script = fileURLToPath(new URL('./import-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, target, csv, ...(url ? [url] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
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

function line(label: string, result: ChildResult, baselineRate: number): string {
  const rate = result.rows / result.seconds;
  return (
    `${label}: ${result.rows} rows in ${result.seconds.toFixed(1)} s = ${rate.toFixed(0)} rows/s, ` +
    `ratio to parse-only ${(rate / baselineRate).toFixed(3)}, peak RSS ${result.peakRssMb.toFixed(0)} MB ` +
    `(${result.created} created, ${result.failed} failed)`
  );
}

export async function benchImport(options: {
  rows: number;
  smallRows: number;
  postgresUrl?: string | undefined;
}) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-csv-'));
  try {
    const big = join(dir, 'big.csv');
    const small = join(dir, 'small.csv');
    await writeCsv(big, options.rows);
    await writeCsv(small, options.smallRows);
    const baseline = await parseOnly(big);
    const baselineRate = baseline.rows / baseline.seconds;

    console.log(
      `\n== CSV import (${options.rows} rows, ${(statSync(big).size / 2 ** 20).toFixed(0)} MB, upsert into a list) ==`,
    );
    console.log(`baseline: csv-parse alone ${baselineRate.toFixed(0)} rows/s`);

    const smallLite = await runChild('pglite', small);
    console.log(line(`pglite   ${options.smallRows} rows`, smallLite, baselineRate));
    const bigLite = await runChild('pglite', big);
    console.log(line(`pglite   ${options.rows} rows`, bigLite, baselineRate));
    console.log(
      `pglite   peak RSS growth from ${options.smallRows} to ${options.rows} rows: ` +
        `${(bigLite.peakRssMb - smallLite.peakRssMb).toFixed(0)} MB (target: under 100 MB)`,
    );

    if (options.postgresUrl) {
      const database = await freshPostgres(options.postgresUrl);
      try {
        const pg = await runChild('postgres', big, database.url);
        console.log(line(`postgres ${options.rows} rows`, pg, baselineRate));
        console.log(`postgres peak RSS ${pg.peakRssMb.toFixed(0)} MB (target: under 300 MB)`);
      } finally {
        await database.drop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
