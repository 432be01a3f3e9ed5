import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/index.js';
import { runHerald } from '../helpers/herald-process.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../helpers/test-database.js';

/** The `herald` CLI as an operator uses it, in its own process. */

let dataDir: string;
let database: TestDatabase | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  env = { HERALD_DATA_DIR: dataDir, HERALD_LOG_LEVEL: 'warn' };
  if (testTarget() === 'postgres') {
    database = await createTestDatabase();
    env.DATABASE_URL = database.url as string;
  }
});
afterAll(async () => {
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

// Each command is a process of its own that opens the database (PGlite boots in a few seconds).
describe('herald CLI', { timeout: 120_000 }, () => {
  it('prints help for every command, listing the settings', () => {
    const top = runHerald(['--help'], env);
    expect(top.status).toBe(0);
    for (const command of ['serve', 'worker', 'migrate', 'keys', 'import', 'export', 'bounces', 'audit'])
      expect(top.stdout).toContain(command);
    expect(top.stdout).toContain('HERALD_DATA_DIR');
    for (const command of [
      ['keys', 'create'],
      ['import'],
      ['export'],
      ['migrate'],
      ['bounces', 'parse'],
      ['audit', 'verify'],
    ]) {
      const help = runHerald([...command, '--help'], env);
      expect(help.status, command.join(' ')).toBe(0);
      expect(help.stdout).toContain('Usage: herald');
    }
  });

  it('migrates, then creates, lists and revokes keys', () => {
    const migrate = runHerald(['migrate'], env);
    expect(migrate.status, migrate.stderr).toBe(0);
    const migrations = readMigrations();
    expect(migrate.stdout).toContain(
      `Database is at ${migrations.at(-1)?.name} (${migrations.length} applied)`,
    );

    const created = runHerald(
      ['keys', 'create', '--name', 'ci', '--scope', 'contacts:read', 'lists:read', '--json'],
      env,
    );
    expect(created.status, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key.secret).toMatch(/^hk_/);
    expect(key.scopes).toEqual(['contacts:read', 'lists:read']);

    const listed = runHerald(['keys', 'list'], env);
    expect(listed.stdout).toContain(key.id);
    expect(listed.stdout).toContain(key.prefix);
    expect(listed.stdout).not.toContain(key.secret);

    const revoked = runHerald(['keys', 'revoke', key.id], env);
    expect(revoked.status).toBe(0);
    expect(runHerald(['keys', 'list', '--json'], env).stdout).toMatch(/"revoked_at":"\d{4}-/);
  });

  it('refuses an unknown scope and an unknown command with a clear message', () => {
    const scope = runHerald(['keys', 'create', '--name', 'x', '--scope', 'everything'], env);
    expect(scope.status).not.toBe(0);
    expect(scope.stderr).toContain('everything');
    const unknown = runHerald(['frobnicate'], env);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });

  it('classifies bounce files and mboxes offline, one JSON line per recipient', () => {
    const fixtures = join(import.meta.dirname, '../fixtures/bounces');
    const mbox = join(dataDir, 'bounces.mbox');
    // An mbox of a Gmail DSN and an out-of-office reply, as a mail client saves a folder.
    writeFileSync(
      mbox,
      ['gmail-does-not-exist.eml', 'out-of-office.eml']
        .map(
          (f) => `From MAILER-DAEMON Tue Mar 10 09:12:03 2026\n${readFileSync(join(fixtures, f), 'utf8')}\n`,
        )
        .join(''),
    );
    const qmail = join(fixtures, 'qmail-no-mailbox.eml');
    const missing = join(dataDir, 'missing.eml');
    const result = runHerald(['bounces', 'parse', qmail, mbox, missing], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`cannot read ${missing}`);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toMatchObject([
      {
        file: qmail,
        message: 1,
        type: 'bounce',
        recipient: 'erin@example.info',
        status: '5.1.1',
        reason: 'user_unknown',
        severity: 'hard',
        original_message_id: '<qmail-1@shop.example>',
      },
      {
        file: mbox,
        message: 1,
        type: 'bounce',
        recipient: 'heidi@gmail.com',
        reply_code: 550,
        reason: 'user_unknown',
        severity: 'hard',
        original_message_id: '<gmail-1@shop.example>',
      },
      { file: mbox, message: 2, type: 'auto_reply', recipient: 'mia@example.com', reason: 'auto_reply' },
    ]);
  });
});
