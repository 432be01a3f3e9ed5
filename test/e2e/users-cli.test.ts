import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHerald, startHerald } from '../helpers/herald-process.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../helpers/test-database.js';

/** A fresh install gets its first owner from `herald users create`, who then signs in over HTTP. */

let dataDir: string;
let database: TestDatabase | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-users-cli-'));
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

describe('herald users', { timeout: 180_000 }, () => {
  it('is in the help', () => {
    expect(runHerald(['--help'], env).stdout).toContain('users');
    const help = runHerald(['users', 'create', '--help'], env);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--email');
    expect(help.stdout).toContain('HERALD_USER_PASSWORD');
    expect(help.stdout).toContain('analyst');
  });

  it('refuses a missing password, a short one and an unknown role, creating nothing', () => {
    const noPassword = runHerald(['users', 'create', '--email', 'first@example.com', '--role', 'owner'], env);
    expect(noPassword.status).not.toBe(0);
    expect(noPassword.stderr).toContain('HERALD_USER_PASSWORD');
    const short = runHerald(['users', 'create', '--email', 'first@example.com', '--role', 'owner'], {
      ...env,
      HERALD_USER_PASSWORD: 'short',
    });
    expect(short.status).not.toBe(0);
    expect(short.stderr).toContain('at least 12 characters');
    const role = runHerald(['users', 'create', '--email', 'first@example.com', '--role', 'boss'], {
      ...env,
      HERALD_USER_PASSWORD: 'a long enough passphrase',
    });
    expect(role.status).not.toBe(0);
    expect(role.stderr).toContain('boss');
  });

  it('creates the first owner, refuses a second time, and the owner signs in', async () => {
    const withPassword = { ...env, HERALD_USER_PASSWORD: 'a long enough passphrase' };
    const created = runHerald(
      ['users', 'create', '--email', 'first@example.com', '--role', 'owner', '--json'],
      withPassword,
    );
    expect(created.status, created.stderr).toBe(0);
    const result = JSON.parse(created.stdout);
    expect(result).toMatchObject({ created: true, role: 'owner', user: { email: 'first@example.com' } });
    expect(created.stdout).not.toContain('a long enough passphrase');

    const again = runHerald(
      ['users', 'create', '--email', 'FIRST@example.com', '--role', 'viewer'],
      withPassword,
    );
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('already a member');

    const server = await startHerald({ ...env, HERALD_PUBLIC_URL: 'http://127.0.0.1' });
    try {
      const res = await fetch(`${server.url}/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'first@example.com', password: 'a long enough passphrase' }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { role: string; workspace: { id: string } };
      expect(body.role).toBe('owner');
      expect(body.workspace.id).toBe(result.workspace_id);
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const members = await fetch(`${server.url}/v1/users`, { headers: { cookie } });
      expect(members.status).toBe(200);
      expect(await members.text()).toContain('first@example.com');
    } finally {
      await server.stop();
    }
  });
});
