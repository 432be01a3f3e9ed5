import pg from 'pg';
import { benchAnalytics } from './analytics.js';
import { benchApiUpsert } from './api-upsert.js';
import { benchAutomations } from './automations.js';
import { benchCampaignSend } from './campaign-send.js';
import { benchImport } from './import.js';
import { benchSegments } from './segments.js';
import { benchSmtpClient } from './smtp-client.js';
import { benchTemplateRender } from './template-render.js';
import { benchTracking } from './tracking.js';

/**
 * `npm run bench`. Every figure is printed next to a baseline measured in the
 * same run, so results stay comparable on a noisy machine.
 * BENCH_DATABASE_URL: PostgreSQL server for the PostgreSQL figures (default:
 * the local server; skipped when unreachable). BENCH_ROWS: import size.
 * BENCH_SEND_ROWS: campaign size (default 100,000); BENCH_SEND_1M=1 adds a
 * 1,000,000-recipient send on PostgreSQL to compare its memory (takes long).
 * BENCH_ANALYTICS_RECIPIENTS: campaign size of the report benchmark on PostgreSQL (default
 * 1,000,000, with 3 tracking hits per recipient); BENCH_ANALYTICS_PGLITE_RECIPIENTS: on PGlite (default 20,000).
 * BENCH_TRACKING_SECONDS: length of each open-pixel and click-redirect load run (default 5);
 * BENCH_TRACKING_ROUNDS: rounds of runs, each Herald run next to a baseline run (default 3);
 * BENCH_TRACKING_RECIPIENTS: the messages their requests cycle through (default 100,000).
 * BENCH_RENDER_SECONDS: how long each template's render benchmark runs per renderer (default 4).
 * BENCH_SMTP_MESSAGES: messages per round of the SMTP client benchmark (default 50,000; two rounds per client).
 * BENCH_SEGMENTS_CONTACTS / BENCH_SEGMENTS_EVENTS: size of the segments benchmark on PostgreSQL (default
 * 1,000,000 contacts and 20,000,000 events; generating them takes about 10 minutes), BENCH_SEGMENTS_INGEST_SECONDS
 * the length of each event ingestion run (default 20).
 * BENCH_AUTOMATIONS_CONTACTS: contacts enrolled at once in the automations benchmark (default 100,000; on two
 * cores that takes far longer than 10 minutes per database, see the README), BENCH_AUTOMATIONS_PGLITE_CONTACTS on
 * PGlite (default the same), BENCH_AUTOMATIONS_STEADY_SECONDS / BENCH_AUTOMATIONS_DELIVER_SECONDS the length of its
 * steady-arrival and delivery phases (20 and 60), BENCH_AUTOMATIONS_PROFILE=1 database time per statement shape.
 * BENCH_ONLY, or names after `npm run bench --`: the subset to run (import, upsert, send, smtp, analytics, tracking,
 * render, segments, automations), e.g. `npm run bench -- automations`.
 */
const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const named = process.argv.slice(2).flatMap((arg) => arg.split(','));
const only =
  named.length > 0
    ? named.map((name) => name.trim())
    : process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
const wanted = (name: string) => !only || only.includes(name);
const known = [
  'import',
  'upsert',
  'send',
  'smtp',
  'analytics',
  'tracking',
  'render',
  'segments',
  'automations',
];
// A misspelt name would otherwise run nothing and look like a pass.
const unknown = only?.filter((name) => !known.includes(name)) ?? [];
if (unknown.length > 0)
  throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${known.join(', ')}`);

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

if (wanted('import')) await benchImport({ rows, smallRows: 10_000, postgresUrl: pgUrl });
if (wanted('upsert')) await benchApiUpsert({ seconds: 10, connections: 16, postgresUrl: pgUrl });
if (wanted('send'))
  await benchCampaignSend({
    rows: Number(process.env.BENCH_SEND_ROWS ?? 100_000),
    bigRows: process.env.BENCH_SEND_1M === '1' ? 1_000_000 : undefined,
    postgresUrl: pgUrl,
  });
if (wanted('smtp')) await benchSmtpClient({ messages: Number(process.env.BENCH_SMTP_MESSAGES ?? 50_000) });
if (wanted('analytics'))
  await benchAnalytics({
    recipients: Number(process.env.BENCH_ANALYTICS_RECIPIENTS ?? 1_000_000),
    pgliteRecipients: Number(process.env.BENCH_ANALYTICS_PGLITE_RECIPIENTS ?? 20_000),
    postgresUrl: pgUrl,
  });
if (wanted('tracking'))
  await benchTracking({
    seconds: Number(process.env.BENCH_TRACKING_SECONDS ?? 5),
    rounds: Number(process.env.BENCH_TRACKING_ROUNDS ?? 3),
    connections: 16,
    postgresUrl: pgUrl,
  });
if (wanted('render')) await benchTemplateRender({ seconds: Number(process.env.BENCH_RENDER_SECONDS ?? 4) });
if (wanted('segments'))
  await benchSegments({
    postgresUrl: pgUrl,
    contacts: Number(process.env.BENCH_SEGMENTS_CONTACTS ?? 1_000_000),
    events: Number(process.env.BENCH_SEGMENTS_EVENTS ?? 20_000_000),
    ingestSeconds: Number(process.env.BENCH_SEGMENTS_INGEST_SECONDS ?? 20),
  });
if (wanted('automations'))
  await benchAutomations({
    contacts: Number(process.env.BENCH_AUTOMATIONS_CONTACTS ?? 100_000),
    pgliteContacts: Number(
      process.env.BENCH_AUTOMATIONS_PGLITE_CONTACTS ?? process.env.BENCH_AUTOMATIONS_CONTACTS ?? 100_000,
    ),
    postgresUrl: pgUrl,
  });
