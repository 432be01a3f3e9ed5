import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres } from '../src/db/index.js';
import { systemClock } from '../src/lib/clock.js';
import { createContainer } from '../src/main/container.js';
import { CAMPAIGN_TEMPLATE } from './campaign-template.js';

/**
 * A campaign send, in two fresh processes: `setup` creates the database
 * (contacts, template, DKIM domain, a draft campaign) and exits; `send` opens
 * it like a worker restarting would and times the send, from starting the
 * campaign until the sender has recorded everyone. Separate processes keep
 * the setup's memory (PGlite's first initdb alone reaches ~800 MB RSS) out of
 * the sender's peak RSS. argv: setup|send pglite|postgres dataDir smtpPort
 * recipients maxConnections [postgresUrl]; HERALD_SECRET_KEYS from the parent.
 * Prints one JSON line.
 */
const [mode, target, dataDir, portArg, rowsArg, connectionsArg, postgresUrl] = process.argv.slice(
  2,
) as string[];
const rows = Number(rowsArg);
const connections = Number(connectionsArg);
let peakRss = process.memoryUsage().rss;
/** Memory at the moment RSS peaked. */
let peakDetail = process.memoryUsage();
// rss() alone is cheap; the full breakdown (which reads the heap statistics) only at a new peak.
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss <= peakRss) return;
  peakRss = rss;
  peakDetail = process.memoryUsage();
}, 100);

const database: DatabaseHandle =
  target === 'postgres'
    ? openPostgres({ url: postgresUrl as string, poolSize: 4 })
    : await openPglite({ dataDir: dataDir as string });
const config = loadConfig({
  env: {
    HERALD_LOG_LEVEL: 'silent',
    HERALD_DATA_DIR: dataDir,
    HERALD_SECRET_KEYS: process.env.HERALD_SECRET_KEYS,
  },
});
const c = createContainer({ config, database, logger: pino({ level: 'silent' }), clock: systemClock });
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
      max_connections: connections,
      max_messages: 100,
    },
    rate_limit: { per_second: 1_000_000 },
    max_concurrency: connections,
    is_default: true,
  });
  await c.sendingDomains.create(workspaceId, { domain: 'shop.example', algorithm: 'rsa' });
  const template = await c.templates.create(workspaceId, {
    name: 'News',
    format: 'html',
    ...CAMPAIGN_TEMPLATE,
  });
  const list = await c.lists.create(workspaceId, { name: 'Bench', opt_in: 'single' });
  await sql`
  INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
  SELECT gen_random_uuid(), ${workspaceId}, 'person' || i || '@example' || (i % 97) || '.com',
         jsonb_build_object('first_name', 'First' || i, 'plan', 'pro'), now(), now()
  FROM generate_series(1, ${rows}::int) AS i`.execute(c.db);
  await sql`
  INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
  SELECT workspace_id, ${list.id}, id, 'confirmed', now(), now() FROM contacts
  WHERE workspace_id = ${workspaceId}`.execute(c.db);
  if (target === 'postgres') await sql`ANALYZE`.execute(c.db);
  await c.campaigns.create(workspaceId, {
    name: 'Bench',
    from_email: 'news@shop.example',
    template_id: template.id,
    lists: [list.id],
  });
  await c.close();
  clearInterval(sampler);
  process.stdout.write('{}\n');
} else {
  const campaign = await c.db
    .selectFrom('campaigns')
    .select(['id', 'workspace_id'])
    .executeTakeFirstOrThrow();
  const workspaceId = campaign.workspace_id;

  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await c.campaigns.send(workspaceId, campaign.id);
  await c.sender.drain();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  clearInterval(sampler);
  const done = await c.campaigns.get(workspaceId, campaign.id);
  await c.close();
  process.stdout.write(
    `${JSON.stringify({
      status: done.status,
      sent: done.progress.sent,
      seconds,
      // Every thread of the process (signing threads too), user plus system.
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBeforeMb: rssBefore / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
      // Where the peak was: the JavaScript heap, and memory outside it (PGlite's WebAssembly heap, buffers).
      peakHeapUsedMb: peakDetail.heapUsed / 2 ** 20,
      peakExternalMb: peakDetail.external / 2 ** 20,
    })}\n`,
  );
}
