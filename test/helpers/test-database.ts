import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  type DatabaseHandle,
  migrate,
  openPglite,
  openPostgres,
  readMigrations,
} from '../../src/db/index.js';

/**
 * Each test file gets a fresh, migrated database. Creating and migrating one
 * from scratch takes seconds on PGlite, so a migrated template is made once per
 * set of migrations and cloned: a PGlite data-dir dump, or a PostgreSQL
 * TEMPLATE database.
 */
export type TestTarget = 'pglite' | 'postgres';

export function testTarget(): TestTarget {
  return process.env.HERALD_TEST_TARGET === 'postgres' ? 'postgres' : 'pglite';
}

function migrationsFingerprint(): string {
  const hash = createHash('sha256');
  for (const m of readMigrations()) hash.update(m.name).update(m.checksum);
  return hash.digest('hex').slice(0, 16);
}

const CACHE_DIR = join(process.cwd(), '.herald-test');

async function pgliteTemplate(): Promise<Blob> {
  const path = join(CACHE_DIR, `pglite-${migrationsFingerprint()}.tar`);
  if (!existsSync(path)) {
    const handle = await openPglite({});
    await migrate(handle.db);
    const dump = await handle.pglite.dumpDataDir('none');
    await handle.close();
    mkdirSync(CACHE_DIR, { recursive: true });
    // Write then rename, so parallel test files never read a half-written dump.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, path);
  }
  return new Blob([readFileSync(path)]);
}

function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('HERALD_TEST_TARGET=postgres needs TEST_DATABASE_URL');
  return url;
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function ensurePostgresTemplate(): Promise<string> {
  const name = `herald_template_${migrationsFingerprint()}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return name;
    // Several test files may race to build it; an advisory lock lets one build it.
    await client.query('SELECT pg_advisory_lock(7142011399)');
    try {
      const again = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (again.rowCount) return name;
      const building = `${name}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building}`);
      await client.query(`CREATE DATABASE ${building}`);
      const handle = openPostgres({ url: withDatabase(adminUrl(), building), poolSize: 2 });
      await migrate(handle.db);
      await handle.close();
      await client.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      return name;
    } finally {
      await client.query('SELECT pg_advisory_unlock(7142011399)');
    }
  } finally {
    await client.end();
  }
}

export interface TestDatabase extends DatabaseHandle {
  /** Connection URL of this database (PostgreSQL only), for child processes. */
  url: string | undefined;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (testTarget() === 'pglite') {
    const handle = await openPglite({ loadDataDir: await pgliteTemplate() });
    return { ...handle, url: undefined };
  }
  const template = await ensurePostgresTemplate();
  const name = `herald_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = withDatabase(adminUrl(), name);
  const handle = openPostgres({ url, poolSize: 5 });
  return {
    ...handle,
    url,
    async close() {
      await handle.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
