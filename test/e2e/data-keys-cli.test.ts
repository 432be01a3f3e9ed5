import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHerald } from '../helpers/herald-process.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../helpers/test-database.js';

/** `herald keys rotate-data` and `herald keys rewrap` as an operator runs them, in processes of their own. */

let dataDir: string;
let database: TestDatabase | undefined;
let env: Record<string, string>;
const oldMaster = randomBytes(32).toString('base64');
const newMaster = randomBytes(32).toString('base64');

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-data-keys-'));
  env = { HERALD_DATA_DIR: dataDir, HERALD_LOG_LEVEL: 'warn', HERALD_SECRET_KEYS: oldMaster };
  if (testTarget() === 'postgres') {
    database = await createTestDatabase();
    env.DATABASE_URL = database.url as string;
  }
});
afterAll(async () => {
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('herald keys rotate-data and rewrap', { timeout: 180_000 }, () => {
  it('documents both commands in --help', () => {
    const help = runHerald(['keys', '--help'], env);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('rotate-data');
    expect(help.stdout).toContain('rewrap');
    const rotate = runHerald(['keys', 'rotate-data', '--help'], env);
    expect(rotate.stdout).toContain('--workspace <id>');
    expect(rotate.stdout).toContain('--batch-size <n>');
  });

  it('rotates, retiring the previous key on the next run, and re-wraps under a new master key', () => {
    const created = runHerald(['keys', 'create', '--name', 'ops', '--json'], env);
    expect(created.status, created.stderr).toBe(0);

    const first = runHerald(['keys', 'rotate-data', '--batch-size', '10'], env);
    expect(first.status, first.stderr).toBe(0);
    const firstKey = /new data key (\S+)/.exec(first.stdout)?.[1];
    expect(firstKey).toMatch(/^dk/);
    expect(first.stdout).toContain('retired: nothing to retire');

    const second = runHerald(['keys', 'rotate-data'], env);
    expect(second.status, second.stderr).toBe(0);
    const secondKey = /new data key (\S+)/.exec(second.stdout)?.[1];
    expect(secondKey).toMatch(/^dk/);
    expect(secondKey).not.toBe(firstKey);
    expect(second.stdout).toContain(`retired: ${firstKey}`);

    const rewrap = runHerald(['keys', 'rewrap'], { ...env, HERALD_SECRET_KEYS: `${newMaster},${oldMaster}` });
    expect(rewrap.status, rewrap.stderr).toBe(0);
    expect(rewrap.stdout).toContain('Re-wrapped 2 data key(s)');
    expect(rewrap.stdout).toContain('Re-encrypted 0 TOTP secret(s) under the current master key.');
    expect(rewrap.stdout).toContain('no longer needed for stored secrets');

    // The old master key is gone from the configuration; rotation goes on under the new one.
    const third = runHerald(['keys', 'rotate-data'], { ...env, HERALD_SECRET_KEYS: newMaster });
    expect(third.status, third.stderr).toBe(0);
    expect(third.stdout).toContain(`retired: ${secondKey}`);
  });

  it('refuses an unknown workspace with a clear message', () => {
    const result = runHerald(['keys', 'rotate-data', '--workspace', '00000000-0000-7000-8000-000000000000'], {
      ...env,
      HERALD_SECRET_KEYS: newMaster,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/workspace/i);
    expect(result.stderr).not.toContain('unexpected error');
  });
});
