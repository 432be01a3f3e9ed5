import pg from 'pg';
import { benchApiUpsert } from './api-upsert.js';
import { benchCampaignSend } from './campaign-send.js';
import { benchImport } from './import.js';

/**
 * `npm run bench`. Every figure is printed next to a baseline measured in the
 * same run, so results stay comparable on a noisy machine.
 * BENCH_DATABASE_URL: PostgreSQL server for the PostgreSQL figures (default:
 * the local server; skipped when unreachable). BENCH_ROWS: import size.
 * BENCH_SEND_ROWS: campaign size (default 100,000); BENCH_SEND_1M=1 adds a
 * 1,000,000-recipient send on PostgreSQL to compare its memory (takes long).
 */
const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const pgUrl = (await reachable(postgresUrl)) ? postgresUrl : undefined;
if (!pgUrl) console.log(`PostgreSQL at ${postgresUrl} is not reachable: PostgreSQL figures skipped.`);
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cores`);

await benchImport({ rows, smallRows: 10_000, postgresUrl: pgUrl });
await benchApiUpsert({ seconds: 10, connections: 16, postgresUrl: pgUrl });
await benchCampaignSend({
  rows: Number(process.env.BENCH_SEND_ROWS ?? 100_000),
  bigRows: process.env.BENCH_SEND_1M === '1' ? 1_000_000 : undefined,
  postgresUrl: pgUrl,
});
