import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres } from '../src/db/index.js';
import { systemClock } from '../src/lib/clock.js';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { createContainer } from '../src/main/container.js';

/**
 * One CSV import in a fresh process, so its peak RSS is the import's alone.
 * argv: pglite|postgres csvPath [postgresUrl]. Prints one JSON line.
 */
const [target, csvPath, postgresUrl] = process.argv.slice(2);
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
const database: DatabaseHandle =
  target === 'postgres'
    ? openPostgres({ url: postgresUrl as string, poolSize: 4 })
    : await openPglite({ dataDir });
await migrate(database.db);
const config = loadConfig({
  env: { HERALD_LOG_LEVEL: 'silent', HERALD_DATA_DIR: dataDir, HERALD_SECRET_KEYS: generateSecretKey() },
});
const container = createContainer({
  config,
  database,
  logger: pino({ level: 'silent' }),
  clock: systemClock,
});
const boot = await container.workspaces.bootstrap();
const list = await container.lists.create(boot?.workspace.id as string, { name: 'Bench', opt_in: 'single' });
const rssBefore = process.memoryUsage().rss;
const started = process.hrtime.bigint();
const report = await container.imports.runFromStream(
  boot?.workspace.id as string,
  createReadStream(csvPath as string),
  {
    mode: 'upsert',
    listId: list.id,
    source: 'cli',
  },
);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
clearInterval(sampler);
await container.close();
rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    rows: report.rows_total,
    created: report.created_count,
    failed: report.failed_count,
    seconds,
    rssBeforeMb: rssBefore / 2 ** 20,
    peakRssMb: peakRss / 2 ** 20,
  })}\n`,
);
