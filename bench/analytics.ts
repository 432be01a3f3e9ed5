import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres } from '../src/db/index.js';
import { systemClock } from '../src/lib/clock.js';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { buildHttpApp } from '../src/main/api.js';
import { createContainer } from '../src/main/container.js';
import { createAnalyticsRollup } from '../src/modules/analytics/index.js';
import { type BenchDatabase, freshPostgres } from './bench-database.js';

/**
 * Campaign report latency on a big campaign: N recipients in the send ledger
 * and 3N tracking hits written by SQL, rolled up by the real rollup, then
 * GET /v1/campaigns/:id/report over real HTTP next to a trivial authenticated
 * GET (/v1/workspace) measured in the same run. Also prints the rollup's
 * throughput (hits/s and ledger rows/s).
 */

interface Result {
  target: string;
  recipients: number;
  hits: number;
  buildSeconds: number;
  rollupSeconds: number;
  baseline: { median: number; max: number };
  report: { median: number; max: number };
}

/** A UUIDv7-shaped id from a millisecond time and a sequence number, so SQL-made ids sort like Herald's. */
const V7 = (ms: string, seq: string) =>
  `(lpad(to_hex(${ms}), 12, '0') || '7000' || '8' || lpad(to_hex(${seq}), 15, '0'))::uuid`;

async function build(database: DatabaseHandle, workspaceId: string, templateId: string, recipients: number) {
  const db = database.db;
  const now = Date.now();
  const start = now - 72 * 3_600_000;
  const hits = recipients * 3;
  const version = await sql<{ id: string }>`
    SELECT id FROM template_versions WHERE template_id = ${templateId} ORDER BY version DESC LIMIT 1`.execute(
    db,
  );
  const versionId = version.rows[0]?.id;
  const campaignId = '01900000-0000-7000-8000-00000000c0de';
  await sql`
    INSERT INTO campaigns (id, workspace_id, name, status, template_id, template_version_id, started_at, finished_at,
                           to_send, sent_count, failed_count, created_at, updated_at)
    VALUES (${campaignId}, ${workspaceId}, 'Big', 'sent', ${templateId}, ${versionId}, ${new Date(start)},
            ${new Date(start + 3_600_000)}, ${recipients}, ${recipients - Math.floor(recipients / 100)},
            ${Math.floor(recipients / 100)}, ${new Date(start)}, ${new Date(start)})`.execute(db);
  await sql`
    INSERT INTO template_links (id, workspace_id, template_version_id, position, url, created_at)
    SELECT ${sql.raw(V7(String(start), 'p'))}, ${workspaceId}, ${versionId}, p,
           'https://shop.example/item/' || p, ${new Date(start)}
    FROM generate_series(0, 4) AS p`.execute(db);
  const domains = sql.raw(
    `(ARRAY['gmail.com','outlook.com','yahoo.com','icloud.com','example.com'])[1 + i % 5]`,
  );
  const step = 50_000;
  for (let from = 1; from <= recipients; from += step) {
    const to = Math.min(recipients, from + step - 1);
    await sql`
      INSERT INTO contacts (id, workspace_id, email, created_at, updated_at)
      SELECT ${sql.raw(V7(String(start - 1000), 'i'))}, ${workspaceId}, 'r' || i || '@' || ${domains},
             ${new Date(start)}, ${new Date(start)}
      FROM generate_series(${from}::int, ${to}::int) AS i`.execute(db);
    await sql`
      INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, error, created_at, finished_at)
      SELECT ${campaignId}, ${sql.raw(V7(String(start - 1000), 'i'))}, ${workspaceId},
             gen_random_uuid()::text || '@shop.example',
             CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'sent' END,
             CASE WHEN i % 100 = 0 THEN 'permanent transport error (550): 5.1.1 no such user' END,
             ${new Date(start)}, ${new Date(start)}
      FROM generate_series(${from}::int, ${to}::int) AS i`.execute(db);
  }
  const linkIds = (
    await sql<{
      id: string;
    }>`SELECT id FROM template_links WHERE template_version_id = ${versionId} ORDER BY position`.execute(db)
  ).rows.map((r) => r.id);
  const insertHits = async () => {
    const spanMs = 72 * 3_600_000;
    for (let from = 1; from <= hits; from += step * 2) {
      const to = Math.min(hits, from + step * 2 - 1);
      // Hit i: a pseudo-random recipient, 70% opens; of those 40% machine (prefetch); clicks 20% scanner.
      await sql`
        INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, link_id, kind, occurred_at,
                                   user_agent, ip, classification)
        SELECT ${sql.raw(V7(`${start}::bigint + (i::bigint * ${spanMs} / ${hits})`, 'i'))}, ${workspaceId}, ${campaignId},
               ${sql.raw(V7(String(start - 1000), `1 + (i::bigint * 7919) % ${recipients}`))},
               gen_random_uuid(),
               CASE WHEN i % 10 < 7 THEN NULL ELSE (${linkIds}::uuid[])[1 + i % 5] END,
               CASE WHEN i % 10 < 7 THEN 'open' ELSE 'click' END,
               to_timestamp((${start}::bigint + (i::bigint * ${spanMs} / ${hits})) / 1000.0),
               'Mozilla/5.0', '192.0.2.0',
               CASE WHEN i % 10 < 7 THEN (CASE WHEN i % 5 < 2 THEN 'prefetch' ELSE 'human' END)
                    ELSE (CASE WHEN i % 5 = 0 THEN 'scanner' ELSE 'human' END) END
        FROM generate_series(${from}::bigint, ${to}::bigint) AS i`.execute(db);
    }
  };
  return { campaignId, hits, insertHits };
}

async function timeRequests(url: string, authorization: string, count: number) {
  const times: number[] = [];
  for (let i = 0; i < count + 3; i++) {
    const began = performance.now();
    const res = await fetch(url, { headers: { authorization } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    if (i >= 3) times.push(performance.now() - began); // the first three warm up
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] ?? 0, max: times[times.length - 1] ?? 0 };
}

async function run(target: 'pglite' | 'postgres', recipients: number, postgresUrl?: string): Promise<Result> {
  const bench: BenchDatabase | undefined =
    target === 'postgres' ? await freshPostgres(postgresUrl as string) : undefined;
  const database = bench ? openPostgres({ url: bench.url, poolSize: 10 }) : await openPglite({});
  try {
    await migrate(database.db);
    const config = loadConfig({
      env: {
        HERALD_LOG_LEVEL: 'silent',
        HERALD_RATE_LIMIT_PER_MINUTE: '100000000',
        HERALD_SECRET_KEYS: generateSecretKey(),
        HERALD_WORKER: 'false',
      },
    });
    const container = createContainer({
      config,
      database,
      logger: pino({ level: 'silent' }),
      clock: systemClock,
    });
    const boot = await container.workspaces.bootstrap();
    if (!boot) throw new Error('bench database was not empty');
    const app = await buildHttpApp(container);
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const authorization = `Bearer ${boot.adminKey.secret}`;
      const template = await fetch(`${base}/v1/templates`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Big', format: 'html', subject: 'Big', body: '<p>Big</p>' }),
      });
      const templateId = ((await template.json()) as { id: string }).id;

      let began = performance.now();
      const built = await build(database, boot.workspace.id, templateId, recipients);
      await built.insertHits();
      const buildSeconds = (performance.now() - began) / 1000;
      if (target === 'postgres') await sql`ANALYZE`.execute(database.db);

      const rollup = createAnalyticsRollup({
        db: database.db,
        clock: systemClock,
        logger: pino({ level: 'silent' }),
        settleMs: 0,
        // The workers' defaults unless BENCH_ANALYTICS_BATCH says otherwise (hits per transaction).
        batchSize: Number(process.env.BENCH_ANALYTICS_BATCH ?? 50_000),
      });
      // One catch-up counts every hit and every ledger row, as the workers' rounds would.
      began = performance.now();
      const first = await rollup.catchUp();
      const totalSeconds = (performance.now() - began) / 1000;
      if (first.hits !== built.hits) throw new Error(`rolled up ${first.hits} of ${built.hits} hits`);
      if (first.ledgerRows < recipients) throw new Error(`rolled up ${first.ledgerRows} ledger rows`);

      const baseline = await timeRequests(`${base}/v1/workspace`, authorization, 20);
      const report = await timeRequests(`${base}/v1/campaigns/${built.campaignId}/report`, authorization, 20);
      const body = (await (
        await fetch(`${base}/v1/campaigns/${built.campaignId}/report`, { headers: { authorization } })
      ).json()) as { opens: { total: number }; clicks: { total: number } };
      if (body.opens.total + body.clicks.total !== built.hits)
        throw new Error('report totals do not match the hits');
      return {
        target,
        recipients,
        hits: built.hits,
        buildSeconds,
        rollupSeconds: totalSeconds,
        baseline,
        report,
      };
    } finally {
      await app.close();
      await container.close();
    }
  } finally {
    await bench?.drop();
  }
}

export async function benchAnalytics(options: {
  recipients: number;
  pgliteRecipients: number;
  postgresUrl?: string | undefined;
}) {
  const results: Result[] = [];
  results.push(await run('pglite', options.pgliteRecipients));
  if (options.postgresUrl) results.push(await run('postgres', options.recipients, options.postgresUrl));

  console.log('\n== Campaign report (GET /v1/campaigns/:id/report, real HTTP, 20 sequential requests) ==');
  for (const r of results) {
    console.log(
      `${r.target.padEnd(8)} ${r.recipients.toLocaleString('en')} recipients, ${r.hits.toLocaleString('en')} hits ` +
        `(built by SQL in ${r.buildSeconds.toFixed(0)} s)`,
    );
    console.log(
      `  rollup: ${r.hits.toLocaleString('en')} hits + ${r.recipients.toLocaleString('en')} ledger rows in ` +
        `${r.rollupSeconds.toFixed(1)} s = ${((r.hits + r.recipients) / r.rollupSeconds).toFixed(0)} rows/s`,
    );
    console.log(
      `  report latency: median ${r.report.median.toFixed(1)} ms, max ${r.report.max.toFixed(1)} ms; ` +
        `baseline GET /v1/workspace: median ${r.baseline.median.toFixed(1)} ms, max ${r.baseline.max.toFixed(1)} ms ` +
        `(ratio ${(r.report.median / r.baseline.median).toFixed(1)}x; goal: well under a second)`,
    );
  }
}

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

// Runnable alone after `npm run build`: node dist/bench/analytics.js
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const postgresUrl = (await reachable(url)) ? url : undefined;
  if (!postgresUrl)
    console.log(`PostgreSQL at ${url} is not reachable: the 1,000,000-recipient run is skipped.`);
  await benchAnalytics({
    recipients: Number(process.env.BENCH_ANALYTICS_RECIPIENTS ?? 1_000_000),
    pgliteRecipients: Number(process.env.BENCH_ANALYTICS_PGLITE_RECIPIENTS ?? 20_000),
    postgresUrl,
  });
}
