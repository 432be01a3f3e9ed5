import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** The pg pool under Kysely, for COPY and other driver-level work. */
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  poolSize: number;
}

export function openPostgres(options: PostgresOptions): DatabaseHandle {
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', pool, close: () => db.destroy() };
}

export interface PgliteOptions {
  /** Folder holding the database files and the lock; `undefined` keeps everything in memory. */
  dataDir?: string | undefined;
  /** A dump from `PGlite.dumpDataDir()` to start from (tests clone a migrated template this way). */
  loadDataDir?: Blob | File | undefined;
}

/**
 * PostgreSQL settings of the embedded database. PGlite's default 128 MB of
 * shared buffers live in the WebAssembly heap, which never gives memory back,
 * and they duplicate the operating system's file cache that PGlite reads
 * through anyway: 16 MB keeps a worker's resident memory about 150 MB lower
 * (measured opening a data folder: 353 MB with the default, 205 MB with this).
 */
const EMBEDDED_SETTINGS = ['shared_buffers = 16MB', 'wal_buffers = 1MB'];

/**
 * Opens the embedded database. The pg Pool talks to PGlite in-process through
 * PGlite's node-postgres adapter, so the rest of Herald uses the same Kysely
 * dialect for both targets. PGlite has one session, so the pool holds one
 * client and queries queue.
 */
export async function openPglite(options: PgliteOptions): Promise<DatabaseHandle & { pglite: PGlite }> {
  let release = () => {};
  let path: string | undefined;
  if (options.dataDir) {
    release = lockDataDir(options.dataDir);
    path = join(options.dataDir, 'pglite');
    mkdirSync(path, { recursive: true });
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(path, {
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      postgresqlconf: EMBEDDED_SETTINGS,
    });
  } catch (error) {
    release();
    throw error;
  }
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'pglite',
    pool,
    pglite,
    async close() {
      await db.destroy();
      await pglite.close();
      release();
    },
  };
}
