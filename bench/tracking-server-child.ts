import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { migrate, openPglite, openPostgres } from '../src/db/index.js';
import { systemClock } from '../src/lib/clock.js';
import { uuidv7 } from '../src/lib/ids.js';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { buildHttpApp } from '../src/main/api.js';
import { createContainer } from '../src/main/container.js';
import { PIXEL_GIF } from '../src/modules/tracking/index.js';
import { type BenchDatabase, freshPostgres } from './bench-database.js';

/**
 * One server of the tracking benchmark, in a process of its own: the bare
 * Fastify baseline, or Herald on PGlite or PostgreSQL. Each server starts
 * from a fresh heap and fresh compiled code, whatever ran before it: the
 * other target's server, or the other benchmarks of `npm run bench`.
 *
 * argv: baseline | herald pglite|postgres dir [postgresUrl]. Tells the
 * parent, over IPC, its origin and (Herald) the files of pixel and link
 * paths it wrote to `dir`; then answers the parent's requests
 * (TrackingServerRequest) until it is told to close.
 */

export type TrackingServerRequest =
  | { id: number; op: 'begin'; profile?: string }
  | { id: number; op: 'end'; kind?: 'open' | 'click' }
  | { id: number; op: 'rows'; kind: 'open' | 'click' }
  | { id: number; op: 'close' };

export interface TrackingServerReady {
  origin: string;
  opensFile?: string;
  clicksFile?: string;
}

type Rows = (kind: 'open' | 'click') => Promise<number>;

export interface TrackingServerReply {
  id: number;
  /** end: CPU this process spent since begin, user + system, in µs (flushing the hits included). */
  cpuUs?: number;
  /** rows, and end with a kind: the hits of that kind stored so far. */
  rows?: number;
}

/**
 * The campaign's recipients. Each was sent one message an hour ago (its send
 * record is there, as for every tracked message), opens it and clicks one of
 * its five links. The load cycles through all of them, as a large
 * campaign's traffic spreads over its recipients, so a message is opened or
 * clicked a couple of times in a run rather than a hundred.
 */
const RECIPIENTS = Number(process.env.BENCH_TRACKING_RECIPIENTS ?? 100_000);
const BODY = [1, 2, 3, 4, 5]
  .map((i) => `<p><a href="https://shop.example.com/item/${i}?ref=mail">Item ${i}</a></p>`)
  .join('');

/** The same answers without tokens, database or any of Herald's plugins. */
async function startBaseline() {
  // Herald's router setting: tokens are longer than Fastify's default 100-character parameter limit.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 500 } });
  const noStore = 'no-store, no-cache, must-revalidate, private, max-age=0';
  app.get('/o/:token', async (_request, reply) =>
    reply
      .type('image/gif')
      .header('cache-control', noStore)
      .header('pragma', 'no-cache')
      .header('expires', '0')
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(PIXEL_GIF),
  );
  app.get('/c/:token', async (_request, reply) =>
    reply
      .header('cache-control', noStore)
      .redirect(
        `https://shop.example.com/item/1?ref=mail&utm_source=herald&utm_medium=email&hid=${uuidv7()}`,
        302,
      ),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return { app, origin: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

async function startHerald(target: 'pglite' | 'postgres', postgresUrl: string | undefined, dir: string) {
  const bench: BenchDatabase | undefined =
    target === 'postgres' ? await freshPostgres(postgresUrl as string) : undefined;
  const database = bench ? openPostgres({ url: bench.url, poolSize: 10 }) : await openPglite({});
  await migrate(database.db);
  const config = loadConfig({
    env: {
      HERALD_LOG_LEVEL: 'silent',
      HERALD_WORKER: 'false',
      HERALD_RATE_LIMIT_PER_MINUTE: '100000000',
      HERALD_TRACKING_RATE_LIMIT_PER_MINUTE: '100000000',
      HERALD_SECRET_KEYS: generateSecretKey(),
    },
  });
  const container = createContainer({
    config,
    database,
    logger: pino({ level: 'silent' }),
    clock: systemClock,
  });
  const boot = await container.workspaces.bootstrap();
  const workspaceId = boot?.workspace.id as string;
  const template = await container.templates.create(workspaceId, {
    name: 'Bench',
    format: 'html',
    subject: 'Hi',
    body: BODY,
  });
  const campaign = await container.campaigns.create(workspaceId, {
    name: 'Bench',
    template_id: template.id,
    utm_source: 'herald',
    utm_medium: 'email',
  });
  const now = new Date();
  await sql`
    INSERT INTO contacts (id, workspace_id, email, created_at, updated_at)
    SELECT gen_random_uuid(), ${workspaceId}, 'bench-' || i || '@example.com', ${now}, ${now}
    FROM generate_series(1, ${RECIPIENTS}::int) AS i`.execute(container.db);
  const contacts = await container.db
    .selectFrom('contacts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .execute();
  const tracker = await container.tracking.prepare({
    workspaceId,
    templateVersionId: template.version.id,
    trackOpens: true,
    trackClicks: true,
    honeypot: false,
  });
  const opens: string[] = [];
  const clicks: string[] = [];
  const messageIds: string[] = [];
  const html = `<html><body>${BODY}</body></html>`;
  contacts.forEach((contact, i) => {
    const messageId = uuidv7();
    messageIds.push(`<${messageId}@bench.example>`);
    const out = tracker.apply(
      { html, text: '' },
      { workspaceId, messageId, contactId: contact.id, campaignId: campaign.id },
    );
    const links = [...out.html.matchAll(/https?:\/\/[^/"]+(\/[oc]\/[A-Za-z0-9_-]+)/g)].map(
      (m) => m[1] as string,
    );
    opens.push(links.find((path) => path.startsWith('/o/')) as string);
    // One of the five links, a different one from one recipient to the next.
    clicks.push(links.filter((path) => path.startsWith('/c/'))[i % 5] as string);
  });
  const sentAt = new Date(now.getTime() - 3_600_000);
  for (let from = 0; from < contacts.length; from += 10_000) {
    const ids = contacts.slice(from, from + 10_000).map((c) => c.id);
    await sql`
      INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, created_at, finished_at)
      SELECT ${campaign.id}, k.contact_id, ${workspaceId}, k.message_id, 'sent', ${sentAt}, ${sentAt}
      FROM unnest(${ids}::uuid[], ${messageIds.slice(from, from + 10_000)}::text[]) AS k(contact_id, message_id)`.execute(
      container.db,
    );
  }
  // Sent an hour ago, as its send records say: clicks come after the campaign finished sending.
  await sql`
    UPDATE campaigns
    SET status = 'sent', template_version_id = ${template.version.id}, to_send = ${contacts.length},
        sent_count = ${contacts.length}, started_at = ${sentAt}, finished_at = ${sentAt}
    WHERE id = ${campaign.id}`.execute(container.db);
  const opensFile = join(dir, `${target}-opens.txt`);
  const clicksFile = join(dir, `${target}-clicks.txt`);
  writeFileSync(opensFile, opens.join('\n'));
  writeFileSync(clicksFile, clicks.join('\n'));

  const app = await buildHttpApp(container);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const rows = async (kind: 'open' | 'click') => {
    await container.tracking.flush();
    const r = await sql<{ n: string }>`SELECT count(*) AS n FROM tracking_hits WHERE kind = ${kind}`.execute(
      container.db,
    );
    return Number(r.rows[0]?.n);
  };
  return {
    origin,
    opensFile,
    clicksFile,
    rows,
    async close() {
      await app.close();
      await container.close();
      await bench?.drop();
    },
  };
}

/** Starts the CPU profiler; the returned function stops it and writes `<name>.cpuprofile` to BENCH_TRACKING_PROFILE. */
async function startProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_TRACKING_PROFILE as string;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [role, target, dir, postgresUrl] = process.argv.slice(2) as string[];
  const server: {
    origin: string;
    opensFile?: string;
    clicksFile?: string;
    rows?: Rows;
    close(): Promise<void>;
  } =
    role === 'baseline'
      ? await startBaseline().then(({ app, origin }) => ({ origin, close: () => app.close() }))
      : await startHerald(target as 'pglite' | 'postgres', postgresUrl, dir as string);
  let started = process.cpuUsage();
  let stopProfile: (() => Promise<void>) | undefined;
  process.on('message', (request: TrackingServerRequest) => {
    void (async (): Promise<TrackingServerReply> => {
      switch (request.op) {
        case 'begin':
          if (request.profile && process.env.BENCH_TRACKING_PROFILE)
            stopProfile = await startProfile(request.profile);
          started = process.cpuUsage();
          return { id: request.id };
        case 'end': {
          const rows = request.kind ? await server.rows?.(request.kind) : undefined;
          const cpu = process.cpuUsage(started);
          await stopProfile?.();
          stopProfile = undefined;
          return { id: request.id, cpuUs: cpu.user + cpu.system, ...(rows === undefined ? {} : { rows }) };
        }
        case 'rows':
          return { id: request.id, rows: (await server.rows?.(request.kind)) ?? 0 };
        case 'close':
          await server.close();
          return { id: request.id };
      }
    })().then(
      (reply) => {
        // After close, exit once the reply is out: nothing is left to answer.
        process.send?.(reply, () => {
          if (request.op === 'close') process.exit(0);
        });
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
  const ready: TrackingServerReady = {
    origin: server.origin,
    ...(server.opensFile ? { opensFile: server.opensFile, clicksFile: server.clicksFile } : {}),
  };
  process.send?.(ready);
}
