import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { type DatabaseHandle, migrate, openPostgres } from '../src/db/index.js';
import { createValidatorCompiler } from '../src/http/validation.js';
import { systemClock } from '../src/lib/clock.js';
import { uuidv7 } from '../src/lib/ids.js';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { buildHttpApp } from '../src/main/api.js';
import { createContainer } from '../src/main/container.js';
import { insertEvents } from '../src/modules/events/events.repository.js';
import { BatchBody, BatchResult } from '../src/modules/events/events.schemas.js';
import { type BenchDatabase, freshPostgres } from './bench-database.js';

/**
 * Segments at scale on PostgreSQL: N contacts (default 1,000,000) and M
 * events (default 20,000,000) over the last year, 10 campaigns with their send
 * ledger, opens and clicks, and conversions, written by SQL (generate_series;
 * the event indexes are dropped during the load and built after it, as one
 * would for a bulk import). Then:
 * - the count time of four typical segments through GET /v1/segments/:id/count
 *   (median of 5 after a warm-up), next to a plain count of the workspace's
 *   contacts measured in the same run;
 * - event ingestion through POST /v1/batch over real HTTP (load from a child
 *   process, 500 events per batch, each a new messageId), next to a bare
 *   Fastify route with the same body schema that stores nothing, and to the
 *   raw batched INSERT of the same rows without HTTP.
 * BENCH_SEGMENTS_CONTACTS, BENCH_SEGMENTS_EVENTS scale the data;
 * BENCH_SEGMENTS_INGEST_SECONDS the ingestion runs (default 20); BENCH_SEGMENTS_EXPLAIN=1 prints each
 * count's EXPLAIN ANALYZE; BENCH_SEGMENTS_KEEP=1 keeps the database for a look afterwards.
 * Alone: `npm run build && node dist/bench/segments.js`.
 */

const DAY = 86_400_000;

/** A UUIDv7-shaped id from a millisecond time and a sequence number, so SQL-made ids sort like Herald's. */
const V7 = (ms: string, seq: string) =>
  `(lpad(to_hex(${ms}), 12, '0') || '7000' || '8' || lpad(to_hex(${seq}), 15, '0'))::uuid`;

/** A deterministic pseudo-random number in [0, 1) from an integer expression (PostgreSQL's own 64-bit hash). */
const U = (expr: string, salt: number) =>
  `((((${expr})::bigint * 2654435761 + ${salt}) % 4294967296) / 4294967296.0)`;

export const TYPICAL_SEGMENTS = [
  {
    key: 'attribute',
    label: 'attribute filter (plan = pro)',
    definition: { attribute: 'plan', operator: 'equals', value: 'pro' },
  },
  {
    key: 'event-count',
    label: 'Viewed Product >= 3 times in 30 days',
    definition: {
      event: 'Viewed Product',
      count: { operator: 'at_least', value: 3 },
      window: { within_last_days: 30 },
    },
  },
  {
    key: 'opened-not-purchased',
    label: 'opened any campaign in 90 days, never purchased',
    definition: {
      all: [
        { engagement: 'opened', window: { within_last_days: 90 } },
        { not: { event: 'Order Completed' } },
      ],
    },
  },
  {
    key: 'nested',
    label: 'nested: (pro/enterprise, carted this week, no order) or (18-25, clicked in 30 days, in Germany)',
    definition: {
      any: [
        {
          all: [
            { attribute: 'plan', operator: 'in', value: ['pro', 'enterprise'] },
            { event: 'Added to Cart', window: { within_last_days: 7 } },
            { not: { event: 'Order Completed', window: { within_last_days: 7 } } },
          ],
        },
        {
          all: [
            { attribute: 'age', operator: 'between', value: [18, 25] },
            { engagement: 'clicked', window: { within_last_days: 30 } },
            { attribute: 'country', operator: 'equals', value: 'DE' },
          ],
        },
      ],
    },
  },
] as const;

async function timed(what: string, fn: () => Promise<unknown>): Promise<number> {
  const began = performance.now();
  await fn();
  const seconds = (performance.now() - began) / 1000;
  console.log(`  ${what}: ${seconds.toFixed(1)} s`);
  return seconds;
}

/** Writes the data set with set-based SQL. */
export async function generate(
  db: DatabaseHandle['db'],
  workspaceId: string,
  contacts: number,
  events: number,
) {
  const now = Date.now();
  const start = now - 730 * DAY;
  const contactId = (i: string) => V7(`${start}::bigint + (${i})::bigint * 60000`, i);
  const step = 100_000;
  console.log(
    `generating ${contacts.toLocaleString('en')} contacts and ${events.toLocaleString('en')} events`,
  );
  await timed('contacts', async () => {
    for (let from = 1; from <= contacts; from += step) {
      const to = Math.min(contacts, from + step - 1);
      await sql`
        INSERT INTO contacts (id, workspace_id, email, external_id, status, attributes, tags, created_at, updated_at)
        SELECT ${sql.raw(contactId('i'))}, ${workspaceId},
               'c' || i || '@' || (ARRAY['gmail.com','outlook.com','yahoo.com','example.com','web.de'])[1 + i % 5],
               'u' || i,
               CASE WHEN i % 40 = 0 THEN 'unsubscribed' WHEN i % 97 = 0 THEN 'bounced' ELSE 'active' END,
               jsonb_build_object(
                 'plan', (ARRAY['free','free','free','pro','enterprise'])[1 + (i * 7) % 5],
                 'age', 18 + (i * 13) % 60,
                 'country', (ARRAY['DE','FR','US','GB','NL','ES','IT','PL','SE','AT'])[1 + (i * 31) % 10]),
               CASE WHEN i % 11 = 0 THEN ARRAY['vip'] ELSE '{}'::text[] END,
               to_timestamp((${start}::bigint + i::bigint * 60000) / 1000.0),
               to_timestamp((${start}::bigint + i::bigint * 60000) / 1000.0)
        FROM generate_series(${from}::int, ${to}::int) AS i`.execute(db);
    }
  });

  // Partitions for the year of events, then a bulk load without the indexes, which are rebuilt after.
  for (let m = -13; m <= 2; m++) {
    const d = new Date(now);
    await sql`SELECT herald_events_partition(${new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + m, 1)).toISOString().slice(0, 10)}::date)`.execute(
      db,
    );
  }
  const indexes = await sql<{ name: string; definition: string }>`
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'events'::regclass`.execute(db);
  for (const index of indexes.rows) await sql`DROP INDEX ${sql.id(index.name)}`.execute(db);
  const eventStep = 1_000_000;
  await timed('events', async () => {
    for (let from = 1; from <= events; from += eventStep) {
      const to = Math.min(events, from + eventStep - 1);
      // Event i: a contact skewed towards the active few (u^2), a time in the last 365 days, one of five names.
      await sql`
        INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, user_id, message_id, properties)
        SELECT gen_random_uuid(), ${workspaceId}, t.at, t.at, 'track',
               (ARRAY['Viewed Product','Viewed Product','Viewed Product','Viewed Product','Viewed Product',
                      'Viewed Product','Viewed Product','Viewed Product','Viewed Product','Viewed Product',
                      'Added to Cart','Added to Cart','Added to Cart','Page Viewed','Page Viewed','Page Viewed',
                      'Page Viewed','Signed In','Signed In','Order Completed'])[1 + i % 20],
               ${sql.raw(contactId('t.c'))}, 'u' || t.c, 'g' || i,
               jsonb_build_object('total', i % 300, 'currency', 'EUR')
        FROM generate_series(${from}::bigint, ${to}::bigint) AS i,
             LATERAL (SELECT 1 + floor(${contacts} * power(${sql.raw(U('i', 17))}, 2))::bigint AS c,
                             to_timestamp((${now}::bigint - floor(${sql.raw(U('i', 9929))} * ${365 * DAY})::bigint) / 1000.0) AS at) t`.execute(
        db,
      );
    }
  });
  await timed('event indexes', async () => {
    // pg_get_indexdef says "ON ONLY events" for a partitioned index; without ONLY it is built on every partition.
    for (const index of indexes.rows)
      await sql.raw(index.definition.replace(' ON ONLY ', ' ON ')).execute(db);
  });

  await timed('campaigns, send ledger, opens and clicks, conversions', async () => {
    const campaigns: string[] = [];
    for (let k = 0; k < 10; k++) {
      const id = uuidv7(now - (k * 12 + 1) * DAY);
      campaigns.push(id);
      const sentAt = new Date(now - (k * 12 + 1) * DAY);
      await sql`INSERT INTO campaigns (id, workspace_id, name, status, started_at, finished_at, created_at, updated_at)
        VALUES (${id}, ${workspaceId}, ${`Campaign ${k}`}, 'sent', ${sentAt}, ${sentAt}, ${sentAt}, ${sentAt})`.execute(
        db,
      );
      // Each campaign went to 40% of the contacts; 25% of its recipients opened, 4% clicked, within 3 days.
      const recipients = Math.floor(contacts * 0.4);
      await sql`
        INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, error, created_at, finished_at)
        SELECT ${id}, ${sql.raw(contactId(`1 + (i * 2 + ${k}) % ${contacts}`))}, ${workspaceId}, 'm' || ${k} || '-' || i,
               CASE WHEN i % 200 = 0 THEN 'failed' ELSE 'sent' END,
               CASE WHEN i % 200 = 0 THEN 'permanent transport error (550)' END, ${sentAt}, ${sentAt}
        FROM generate_series(1, ${recipients}) AS i
        ON CONFLICT DO NOTHING`.execute(db);
      await sql`
        INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
        SELECT ${sql.raw(V7(`${sentAt.getTime()}::bigint + (i::bigint * 259200000 / ${recipients})`, `i * 16 + ${k}`))},
               ${workspaceId}, ${id}, ${sql.raw(contactId(`1 + (i * 2 + ${k}) % ${contacts}`))}, gen_random_uuid(),
               CASE WHEN i % 25 < 4 THEN 'click' ELSE 'open' END,
               to_timestamp((${sentAt.getTime()}::bigint + (i::bigint * 259200000 / ${recipients})) / 1000.0),
               CASE WHEN i % 5 = 0 THEN 'prefetch' ELSE 'human' END
        FROM generate_series(1, ${recipients}) AS i
        WHERE i % 4 = 0`.execute(db);
    }
    await sql`
      INSERT INTO conversions (id, workspace_id, contact_id, attribution, event, revenue, currency, occurred_at, created_at)
      SELECT gen_random_uuid(), ${workspaceId}, ${sql.raw(contactId(`1 + (i * 37) % ${contacts}`))}, 'none', 'purchase',
             ((i % 20000) / 100.0)::numeric, 'EUR', to_timestamp((${now}::bigint - (i::bigint * 997 % ${365 * DAY})) / 1000.0),
             to_timestamp(${now} / 1000.0)
      FROM generate_series(1, ${Math.floor(contacts / 5)}) AS i`.execute(db);
  });
  await timed('VACUUM ANALYZE', () => sql`VACUUM ANALYZE`.execute(db));
}

interface LoadResult {
  requestsPerSecond: number;
  latencyP50: number;
  latencyP99: number;
  errors: number;
  total: number;
  statuses: Record<string, number>;
}

function load(
  origin: string,
  path: string,
  authorization: string,
  seconds: number,
  users: number,
): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./segments-load-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [script, origin, path, authorization, String(seconds), '4', '500', String(users)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
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

async function bareServer() {
  const app = Fastify({ logger: false, bodyLimit: 1_048_576 }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(createValidatorCompiler());
  app.post('/v1/batch', { schema: { body: BatchBody, response: { 200: BatchResult } } }, async (request) => ({
    success: true,
    accepted: request.body.batch.length,
    duplicates: 0,
    rejected: 0,
    errors: [],
  }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return { app, origin: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function benchSegments(options: {
  postgresUrl: string | undefined;
  contacts: number;
  events: number;
  ingestSeconds: number;
}): Promise<void> {
  console.log('\n## Segments and event ingestion (PostgreSQL)');
  if (!options.postgresUrl) {
    console.log('skipped: no PostgreSQL');
    return;
  }
  // BENCH_SEGMENTS_REUSE: the URL of a database an earlier run kept (BENCH_SEGMENTS_KEEP=1), to skip generating.
  const reuse = process.env.BENCH_SEGMENTS_REUSE;
  const bench: BenchDatabase = reuse
    ? { url: reuse, drop: async () => {} }
    : await freshPostgres(options.postgresUrl);
  const database = openPostgres({ url: bench.url, poolSize: 10 });
  try {
    await migrate(database.db);
    const config = loadConfig({
      env: {
        HERALD_LOG_LEVEL: 'silent',
        HERALD_RATE_LIMIT_PER_MINUTE: '100000000',
        HERALD_EVENTS_RATE_LIMIT_PER_MINUTE: '100000000',
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
    let boot = await container.workspaces.bootstrap();
    if (reuse) {
      const workspaceId = (
        await sql<{ id: string }>`SELECT id FROM workspaces ORDER BY id LIMIT 1`.execute(database.db)
      ).rows[0]?.id;
      if (!workspaceId) throw new Error('the reused database has no workspace');
      await sql`DELETE FROM segments`.execute(database.db);
      const key = await container.apiKeys.create({ workspaceId, name: 'bench', scopes: ['admin'] });
      boot = { workspace: { id: workspaceId }, adminKey: key } as NonNullable<typeof boot>;
    } else {
      if (!boot) throw new Error('bench database was not empty');
      await generate(database.db, boot.workspace.id, options.contacts, options.events);
    }
    if (!boot) throw new Error('no workspace');

    const app = await buildHttpApp(container);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const authorization = `Bearer ${boot.adminKey.secret}`;
    try {
      const get = async (path: string) => {
        const res = await fetch(`${origin}${path}`, { headers: { authorization } });
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
        return res.json() as Promise<Record<string, unknown>>;
      };
      const timeRuns = async (fn: () => Promise<unknown>) => {
        await fn(); // warm-up
        const times: number[] = [];
        for (let r = 0; r < 5; r++) {
          const began = performance.now();
          await fn();
          times.push(performance.now() - began);
        }
        return { median: median(times), max: Math.max(...times) };
      };
      const baseline = await timeRuns(() =>
        sql`SELECT count(*) FROM contacts WHERE workspace_id = ${boot.workspace.id}`.execute(database.db),
      );
      console.log(
        `baseline: SELECT count(*) of the workspace's ${options.contacts.toLocaleString('en')} contacts: ${baseline.median.toFixed(0)} ms`,
      );
      for (const segment of TYPICAL_SEGMENTS) {
        const created = await fetch(`${origin}/v1/segments`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ name: segment.label, definition: segment.definition }),
        });
        const id = ((await created.json()) as { id: string }).id;
        let count = 0;
        const t = await timeRuns(async () => {
          count = (await get(`/v1/segments/${id}/count`)).count as number;
        });
        if (segment.key === 'event-count') {
          // The count checked against SQL written by hand, so a fast wrong answer cannot pass.
          const direct = await sql<{ n: string }>`
            SELECT count(*) AS n FROM contacts c WHERE c.workspace_id = ${boot.workspace.id} AND c.id IN (
              SELECT contact_id FROM events WHERE workspace_id = ${boot.workspace.id} AND name = 'Viewed Product'
                AND type = 'track' AND occurred_at >= now() - interval '30 days'
              GROUP BY contact_id HAVING count(*) >= 3)`.execute(database.db);
          if (Math.abs(Number(direct.rows[0]?.n) - count) > count / 1000 + 5)
            throw new Error(`event-count segment counted ${count}, SQL by hand ${direct.rows[0]?.n}`);
        }
        console.log(
          `segment ${segment.label}: ${count.toLocaleString('en')} contacts, count median ${t.median.toFixed(0)} ms (max ${t.max.toFixed(0)} ms, ${(t.median / baseline.median).toFixed(1)}x the plain count)${t.median < 1000 ? '' : '  ** over the 1 s goal **'}`,
        );
        if (process.env.BENCH_SEGMENTS_EXPLAIN) {
          const plan = (await get(`/v1/segments/${id}/explain?analyze=true`)) as {
            count: { plan: string[] };
          };
          console.log(plan.count.plan.map((line) => `    ${line}`).join('\n'));
        }
      }

      // Ingestion: the bare route first (the HTTP ceiling), then Herald, then the raw INSERT.
      const users = Math.min(options.contacts, 100_000);
      const bare = await bareServer();
      const bareRun = await load(bare.origin, '/v1/batch', authorization, options.ingestSeconds, users);
      await bare.app.close();
      const before = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM events WHERE source = 'api' AND received_at > now() - interval '1 hour'`.execute(
        database.db,
      );
      const herald = await load(origin, '/v1/batch', authorization, options.ingestSeconds, users);
      const after = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM events WHERE source = 'api' AND received_at > now() - interval '1 hour'`.execute(
        database.db,
      );
      const stored = Number(after.rows[0]?.n) - Number(before.rows[0]?.n);
      const ok = herald.statuses['200'] ?? 0;
      // Batches still in flight when the load stopped are stored too, but not counted as answered.
      if (stored < ok * 500) throw new Error(`stored ${stored} events for ${ok} accepted batches`);
      const eventsPerSecond = (ok * 500) / options.ingestSeconds;
      const bareEventsPerSecond = bareRun.requestsPerSecond * 500;

      // The raw INSERT: the same statement Herald uses, 500 rows per statement, 4 connections like the load, no HTTP.
      const rawRows = 200_000;
      const began = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < rawRows / 500) {
            const b = next++;
            const rows = Array.from({ length: 500 }, (_, i) => ({
              id: uuidv7(),
              occurredAt: new Date(),
              type: 'track' as const,
              name: 'Viewed Product',
              contactId: null,
              userId: `u${1 + ((b * 500 + i) % users)}`,
              anonymousId: null,
              messageId: `raw-${b}-${i}`,
              properties: { sku: `SKU-${i}`, price: i + 0.99, currency: 'EUR' },
              context: { library: { name: 'analytics-node', version: '2.0.0' } },
            }));
            await insertEvents(database.db, boot.workspace.id, rows, new Date());
          }
        }),
      );
      const rawPerSecond = rawRows / ((performance.now() - began) / 1000);
      console.log(
        `ingestion through POST /v1/batch (500 events per batch, 4 connections, ${options.ingestSeconds} s): ` +
          `${Math.round(eventsPerSecond).toLocaleString('en')} events/s stored (p50 ${herald.latencyP50} ms, p99 ${herald.latencyP99} ms per batch)` +
          `${eventsPerSecond >= 20_000 ? '' : '  ** under the 20,000/s goal **'}`,
      );
      console.log(
        `  baseline: bare Fastify route with the same body schema, storing nothing: ${Math.round(bareEventsPerSecond).toLocaleString('en')} events/s (ratio ${(eventsPerSecond / bareEventsPerSecond).toFixed(2)})`,
      );
      console.log(
        `  baseline: the raw batched INSERT (dedup ids, contact lookups), no HTTP, 4 connections: ${Math.round(rawPerSecond).toLocaleString('en')} events/s (ratio ${(eventsPerSecond / rawPerSecond).toFixed(2)})`,
      );
    } finally {
      await app.close();
      await container.close();
    }
  } finally {
    if (process.env.BENCH_SEGMENTS_KEEP || reuse) console.log(`kept the database: ${bench.url}`);
    else await bench.drop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchSegments({
    postgresUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    contacts: Number(process.env.BENCH_SEGMENTS_CONTACTS ?? 1_000_000),
    events: Number(process.env.BENCH_SEGMENTS_EVENTS ?? 20_000_000),
    ingestSeconds: Number(process.env.BENCH_SEGMENTS_INGEST_SECONDS ?? 20),
  });
}
