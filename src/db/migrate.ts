import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Db } from './database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** The repository's migrations/ folder, found from this file in both src/ (tests) and dist/src/ (built). */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    dir = dirname(dir);
    try {
      readdirSync(join(dir, 'migrations'));
      return join(dir, 'migrations');
    } catch {
      // keep climbing
    }
  }
  throw new Error('migrations/ folder not found');
}

export function readMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return {
        version: Number.parseInt(file.slice(0, 4), 10),
        name: file.replace(/\.sql$/, ''),
        sql: text,
        checksum: createHash('sha256').update(text).digest('hex'),
      };
    });
}

// Any constant works; it only has to be the same in every Herald process.
const MIGRATION_LOCK_KEY = 7_142_011_301;

/**
 * Applies pending migrations, each in its own transaction. A session-level
 * advisory lock serializes concurrent starts on PostgreSQL: the second process
 * waits, then finds nothing left to apply. An applied migration whose file has
 * changed stops start-up, because forward-only migrations must never be edited.
 */
export async function migrate(db: Db, migrations: Migration[] = readMigrations()): Promise<Migration[]> {
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`.execute(conn);
      const applied = await conn.selectFrom('schema_migrations').selectAll().execute();
      const byVersion = new Map(applied.map((row) => [row.version, row]));
      const done: Migration[] = [];
      for (const migration of migrations) {
        const previous = byVersion.get(migration.version);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new Error(
              `Migration ${migration.name} was changed after it was applied. Migrations are forward-only: ` +
                'restore the original file and add a new migration instead.',
            );
          }
          continue;
        }
        await conn.transaction().execute(async (trx) => {
          await sql.raw(migration.sql).execute(trx);
          await trx
            .insertInto('schema_migrations')
            .values({
              version: migration.version,
              name: migration.name,
              checksum: migration.checksum,
              applied_at: new Date(),
            })
            .execute();
        });
        done.push(migration);
      }
      return done;
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}
