import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { openPglite } from '../../src/db/index.js';
import { systemClock } from '../../src/lib/clock.js';
import { type Container, createContainer, openDatabase } from '../../src/main/container.js';
import { GENESIS_HASH, hashEntry } from '../../src/modules/audit/index.js';
import { runHerald } from '../helpers/herald-process.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../helpers/test-database.js';

/** `herald audit verify` as an operator runs it, in its own process, on a log changed behind Herald's back. */

let dataDir: string;
let database: TestDatabase | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-audit-'));
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

/** Opens the same database as the CLI in this process (the CLI processes have exited: no lock held). */
async function withHerald<T>(work: (container: Container) => Promise<T>): Promise<T> {
  const config = loadConfig({ env });
  const handle = config.databaseUrl ? await openDatabase(config) : await openPglite({ dataDir });
  const container = createContainer({
    config,
    database: handle,
    logger: pino({ level: 'silent' }),
    clock: systemClock,
  });
  try {
    return await work(container);
  } finally {
    await container.close();
  }
}

describe('herald audit verify', { timeout: 400_000 }, () => {
  let home: string;
  let keyId: string;
  let tampered: { workspaceId: string; id: string };
  let gap: { workspaceId: string; missingSeq: number; nextId: string };

  it('records the first admin key (actor system) and key changes made with the CLI (actor cli), and finds the log intact', () => {
    const created = runHerald(['keys', 'create', '--name', 'ops', '--scope', 'audit:read', '--json'], env);
    expect(created.status, created.stderr).toBe(0);
    keyId = JSON.parse(created.stdout).id;
    expect(runHerald(['keys', 'revoke', keyId], env).status).toBe(0);

    const verified = runHerald(['audit', 'verify'], env);
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/intact workspace \S+: 3 entries, head [0-9a-f]{64}/);
    expect(verified.stdout).toContain('Audit log intact: 1 workspace(s), 3 entries verified.');
  });

  it('exits 1 naming the first broken entry of each changed workspace, and 0 for an intact one', async () => {
    await withHerald(async (container) => {
      const [workspace] = await container.workspaces.list();
      home = workspace?.id as string;
      const log = await container.audit.list(home, {}, { limit: 10 });
      expect(log.data.map((e) => [e.action, e.actor.type, e.target?.id])).toEqual([
        ['api_key.create', 'system', expect.any(String)],
        ['api_key.create', 'cli', keyId],
        ['api_key.revoke', 'cli', keyId],
      ]);

      const write = async (name: string) => {
        const other = await container.workspaces.create(name);
        const entries = [];
        for (const action of ['template.create', 'template.update', 'campaign.send', 'campaign.pause'])
          entries.push(
            await container.audit.record({
              workspaceId: other.id,
              actor: { type: 'system', id: null },
              action,
              target: { type: 'campaign', id: 'c-1' },
            }),
          );
        return { workspaceId: other.id, entries };
      };
      const edited = await write('Edited');
      const deleted = await write('Deleted');
      const db = container.db;
      await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`.execute(db);
      await sql`UPDATE audit_log SET action = 'campaign.cancel' WHERE id = ${edited.entries[2]?.id}`.execute(
        db,
      );
      await sql`DELETE FROM audit_log WHERE id = ${deleted.entries[1]?.id}`.execute(db);
      await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`.execute(db);
      tampered = { workspaceId: edited.workspaceId, id: edited.entries[2]?.id as string };
      gap = { workspaceId: deleted.workspaceId, missingSeq: 2, nextId: deleted.entries[2]?.id as string };
    });

    const all = runHerald(['audit', 'verify'], env);
    expect(all.status, all.stderr).toBe(1);
    expect(all.stdout).toContain(
      `BROKEN workspace ${tampered.workspaceId} seq 3 entry ${tampered.id}: hash mismatch`,
    );
    expect(all.stdout).toContain(`BROKEN workspace ${gap.workspaceId} seq 3 entry ${gap.nextId}: seq gap`);
    expect(all.stdout).toContain(`seq ${gap.missingSeq} is missing`);
    expect(all.stdout).toContain(`intact workspace ${home}: 3 entries`);
    expect(all.stdout).toContain('Audit log BROKEN in 2 of 3 workspace(s).');

    const one = runHerald(['audit', 'verify', '--workspace', tampered.workspaceId, '--json'], env);
    expect(one.status).toBe(1);
    expect(JSON.parse(one.stdout)).toMatchObject({
      workspace_id: tampered.workspaceId,
      entries: 2,
      broken: { seq: 3, id: tampered.id, reason: 'hash_mismatch' },
    });

    const intact = runHerald(['audit', 'verify', '--workspace', home], env);
    expect(intact.status, intact.stderr).toBe(0);
    expect(intact.stdout).toContain('Audit log intact: 1 workspace(s), 3 entries verified.');
  });

  it('refuses a workspace that is not an id or does not exist, and documents itself in --help', () => {
    const bad = runHerald(['audit', 'verify', '--workspace', 'nope'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--workspace nope is not a workspace id');
    const unknown = runHerald(
      ['audit', 'verify', '--workspace', '01900000-0000-7000-8000-000000000000'],
      env,
    );
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('01900000-0000-7000-8000-000000000000');
    const help = runHerald(['audit', 'verify', '--help'], env);
    expect(help.status).toBe(0);
    for (const words of ['hash mismatch', 'prev_hash mismatch', 'seq gap', '--workspace'])
      expect(help.stdout.replace(/\s+/g, ' ')).toContain(words);
  });

  it('catches a whole chain rewritten behind its back only against anchors kept elsewhere', async () => {
    const recorded = runHerald(['audit', 'verify', '--workspace', home, '--json'], env);
    expect(recorded.status, recorded.stderr).toBe(0);
    const anchors = join(dataDir, 'anchors.ndjson');
    writeFileSync(anchors, recorded.stdout);
    const matched = runHerald(['audit', 'verify', '--anchors', anchors], env);
    expect(matched.stdout).toContain(`intact workspace ${home}: 3 entries`);
    expect(matched.stdout).not.toContain(`BROKEN workspace ${home}`);

    // Someone with write access to the database makes the key revocation look like
    // another action and recomputes every hash after it, chain head included.
    await withHerald(async (container) => {
      const db = container.db;
      const rows = await db
        .selectFrom('audit_log')
        .selectAll()
        .where('workspace_id', '=', home)
        .orderBy('seq')
        .execute();
      let prev = GENESIS_HASH;
      const rewritten = rows.map((row) => {
        const entry = {
          ...row,
          seq: Number(row.seq),
          action: Number(row.seq) === 3 ? 'api_key.create' : row.action,
          details: row.details as unknown,
          prev_hash: prev,
        };
        prev = hashEntry(entry);
        return { ...entry, hash: prev };
      });
      await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`.execute(db);
      await sql`ALTER TABLE audit_chain_heads DISABLE TRIGGER audit_chain_heads_forward`.execute(db);
      for (const entry of rewritten)
        await sql`UPDATE audit_log SET action = ${entry.action}, prev_hash = ${entry.prev_hash}, hash = ${entry.hash}
          WHERE id = ${entry.id}`.execute(db);
      await sql`UPDATE audit_chain_heads SET hash = ${prev} WHERE workspace_id = ${home}`.execute(db);
      await sql`ALTER TABLE audit_chain_heads ENABLE TRIGGER audit_chain_heads_forward`.execute(db);
      await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`.execute(db);
    });

    const alone = runHerald(['audit', 'verify', '--workspace', home], env);
    expect(alone.status, alone.stdout).toBe(0);
    const anchored = runHerald(['audit', 'verify', '--workspace', home, '--anchors', anchors], env);
    expect(anchored.status, anchored.stdout + anchored.stderr).toBe(1);
    expect(anchored.stdout).toContain(`BROKEN workspace ${home} seq 3 entry`);
    expect(anchored.stdout).toContain('anchor mismatch');

    const bad = join(dataDir, 'bad-anchors.ndjson');
    writeFileSync(bad, `${recorded.stdout}\n{"workspace_id":"${home}","entries":"three","head_hash":"x"}\n`);
    const refused = runHerald(['audit', 'verify', '--anchors', bad], env);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`${bad} line 3: entries is missing or not a whole number`);
  });
});
