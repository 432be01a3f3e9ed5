import pino from 'pino';
import { freshPostgres } from '../../bench/bench-database.js';
import { loadConfig } from '../../src/config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres } from '../../src/db/index.js';
import { createManualClock } from '../../src/lib/clock.js';
import { generateSecretKey } from '../../src/lib/secret-keys.js';
import { buildHttpApp } from '../../src/main/api.js';
import { createContainer } from '../../src/main/container.js';
import type { HeraldUnderTest } from './harness.js';

/**
 * A whole Herald for a simulation: a fresh database (embedded, or a new
 * database on the PostgreSQL server at `postgresUrl`), migrated, with a
 * manual clock and no background workers (the simulation drives the sender,
 * the rollup and the decisions itself, in simulated time).
 */
export async function startHerald(options: {
  postgresUrl?: string | undefined;
  start: Date;
}): Promise<HeraldUnderTest & { target: string; close(): Promise<void> }> {
  const fresh = options.postgresUrl ? await freshPostgres(options.postgresUrl) : undefined;
  const database: DatabaseHandle = fresh
    ? await openPostgres({ url: fresh.url, poolSize: 4 })
    : await openPglite({});
  await migrate(database.db);
  const config = loadConfig({
    env: {
      HERALD_LOG_LEVEL: 'silent',
      HERALD_WORKER: 'false',
      HERALD_SECRET_KEYS: generateSecretKey(),
      HERALD_PUBLIC_URL: 'https://mail.shop.example',
    },
  });
  const clock = createManualClock(options.start);
  const container = createContainer({ config, database, logger: pino({ level: 'silent' }), clock });
  const boot = await container.workspaces.bootstrap();
  if (!boot) throw new Error('the simulation database was not empty');
  const app = await buildHttpApp(container);
  await app.ready();
  return {
    app,
    container,
    clock,
    workspaceId: boot.workspace.id,
    adminKey: boot.adminKey.secret,
    target: fresh ? 'postgres' : 'pglite',
    async close() {
      await app.close();
      await container.close();
      await fresh?.drop();
    },
  };
}
