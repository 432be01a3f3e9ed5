import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataDirLockedError,
  type Migration,
  migrate,
  openPglite,
  openPostgres,
  readMigrations,
} from '../../src/db/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { testTarget } from '../helpers/test-database.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function migrationRows(db: TestApp['container']['db']) {
  return db
    .selectFrom('schema_migrations')
    .select(['version', 'name', 'checksum'])
    .orderBy('version')
    .execute();
}

describe('migrations', () => {
  it('applying them again is a no-op', async () => {
    const before = await migrationRows(t.container.db);
    expect(before.map((r) => r.name)).toEqual(readMigrations().map((m) => m.name));
    expect(await migrate(t.container.db)).toEqual([]);
    expect(await migrationRows(t.container.db)).toEqual(before);
  });

  it('refuses to start when an applied migration was edited, naming it and the fix', async () => {
    const edited = readMigrations().map((m, i) =>
      i === 0 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: 'edited' } : m,
    );
    const first = readMigrations()[0] as Migration;
    await expect(migrate(t.container.db, edited)).rejects.toThrow(
      `Migration ${first.name} was changed after it was applied. Migrations are forward-only: ` +
        'restore the original file and add a new migration instead.',
    );
    // The advisory lock was released: a correct run proceeds.
    expect(await migrate(t.container.db)).toEqual([]);
  });

  it('applies a new migration once, and rolls back one that fails', async () => {
    const tag = randomBytes(3).toString('hex');
    const good: Migration = {
      version: 9001,
      name: `9001_probe_${tag}`,
      sql: `CREATE TABLE probe_${tag} (id int)`,
      checksum: `good-${tag}`,
    };
    const bad: Migration = {
      version: 9002,
      name: `9002_broken_${tag}`,
      sql: `CREATE TABLE broken_${tag} (id int); SELECT no_such_function()`,
      checksum: `bad-${tag}`,
    };
    await expect(migrate(t.container.db, [...readMigrations(), good, bad])).rejects.toThrow(
      /no_such_function/,
    );
    const rows = await migrationRows(t.container.db);
    expect(rows.map((r) => r.version)).toContain(9001);
    expect(rows.map((r) => r.version)).not.toContain(9002);
    const tables = await sql<{ name: string }>`
      SELECT tablename AS name FROM pg_tables WHERE tablename IN (${`probe_${tag}`}, ${`broken_${tag}`})`.execute(
      t.container.db,
    );
    expect(tables.rows.map((r) => r.name)).toEqual([`probe_${tag}`]);

    expect(await migrate(t.container.db, [...readMigrations(), good])).toEqual([]);
    await sql.raw(`DROP TABLE probe_${tag}`).execute(t.container.db);
    await t.container.db.deleteFrom('schema_migrations').where('version', '=', 9001).execute();
  });
});

describe('readiness', () => {
  it('/readyz is 200 on a migrated database and 503 when a migration is missing', async () => {
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });

    const last = (await migrationRows(t.container.db)).at(-1);
    if (!last) throw new Error('no migrations applied');
    await t.container.db.deleteFrom('schema_migrations').where('version', '=', last.version).execute();
    try {
      const notReady = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json()).toMatchObject({ code: 'NOT_READY' });
    } finally {
      await t.container.db
        .insertInto('schema_migrations')
        .values({ ...last, applied_at: new Date() })
        .execute();
    }
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe.runIf(testTarget() === 'postgres')('migrations on PostgreSQL', () => {
  it('two processes migrating a fresh database at once apply each migration exactly once', async () => {
    const base = t.database.url;
    if (!base) throw new Error('the PostgreSQL test database has no URL');
    const name = `herald_migrate_race_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    // Two pools, as two processes would have.
    const one = openPostgres({ url: url.toString(), poolSize: 2 });
    const two = openPostgres({ url: url.toString(), poolSize: 2 });
    try {
      // A slow last migration widens the window in which the second process would interfere.
      const migrations: Migration[] = [
        ...readMigrations(),
        {
          version: 9100,
          name: '9100_slow',
          sql: 'SELECT pg_sleep(0.3); CREATE TABLE slow_probe (id int)',
          checksum: 's',
        },
      ];
      const [a, b] = await Promise.all([migrate(one.db, migrations), migrate(two.db, migrations)]);
      // One did all the work, the other waited on the lock and found nothing left.
      expect([a.length, b.length].sort()).toEqual([0, migrations.length]);
      const rows = await one.db
        .selectFrom('schema_migrations')
        .select('version')
        .orderBy('version')
        .execute();
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    } finally {
      await one.close();
      await two.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe.runIf(testTarget() === 'pglite')('embedded database folder lock', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-lock-'));
  });
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A live process other than this one, standing in for a second Herald. */
  async function otherProcess(): Promise<ChildProcess & { pid: number }> {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return child as ChildProcess & { pid: number };
  }

  it('refuses to open a folder another live process holds, naming its pid', async () => {
    const dataDir = join(dir, 'held');
    mkdirSync(dataDir, { recursive: true });
    const holder = await otherProcess();
    writeFileSync(join(dataDir, 'herald.lock'), String(holder.pid));

    const error = await openPglite({ dataDir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect((error as DataDirLockedError).pid).toBe(holder.pid);
    expect((error as Error).message).toContain(`(pid ${holder.pid})`);
    expect((error as Error).message).toContain('DATABASE_URL');
    // The other process's lock is left alone, and no database files were created.
    expect(readFileSync(join(dataDir, 'herald.lock'), 'utf8')).toBe(String(holder.pid));
    expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
  });

  it('takes over a lock left by a process that died, and releases it on close', async () => {
    const dataDir = join(dir, 'stale');
    mkdirSync(dataDir, { recursive: true });
    const dead = await otherProcess();
    const exited = new Promise((resolve) => dead.once('exit', resolve));
    dead.kill();
    await exited;
    writeFileSync(join(dataDir, 'herald.lock'), String(dead.pid));

    const handle = await openPglite({ dataDir });
    try {
      expect(readFileSync(join(dataDir, 'herald.lock'), 'utf8')).toBe(String(process.pid));
      const result = await sql<{ one: number }>`SELECT 1 AS one`.execute(handle.db);
      expect(result.rows).toEqual([{ one: 1 }]);
      // Small shared buffers keep the WebAssembly heap (which never shrinks) small; the OS caches the files.
      const buffers = await sql<{ shared_buffers: string }>`SHOW shared_buffers`.execute(handle.db);
      expect(buffers.rows[0]?.shared_buffers).toBe('16MB');
    } finally {
      await handle.close();
    }
    expect(existsSync(join(dataDir, 'herald.lock'))).toBe(false);

    // Another process can now open it; here, a live other pid takes the lock and this one is refused.
    const next = await otherProcess();
    writeFileSync(join(dataDir, 'herald.lock'), String(next.pid));
    await expect(openPglite({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
  }, 60_000);
});
