import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashEntry } from '../../src/modules/audit/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * What `herald audit verify` finds after someone with the power to disable
 * the append-only trigger (a database superuser) changed the log. The CLI
 * itself is run in test/e2e/audit-verify.test.ts; here the same verify runs
 * in process, once per kind of tampering.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

interface Stored {
  id: string;
  seq: number;
  hash: string;
}

/** A fresh workspace with five entries; returns them in seq order. */
async function workspaceWithLog(): Promise<{ workspaceId: string; rows: Stored[] }> {
  const workspace = await t.container.workspaces.create(`Tamper ${Math.random()}`);
  for (let i = 1; i <= 5; i++) {
    t.clock.advance(1000);
    await t.container.audit.record({
      workspaceId: workspace.id,
      actor: { type: i % 2 ? 'api_key' : 'cli', id: `actor-${i}` },
      action: i === 3 ? 'campaign.send' : 'template.update',
      target: { type: 'template', id: `target-${i}` },
      ip: '127.0.0.1',
      requestId: `req-${i}`,
      details: { fields: ['name', 'subject'] },
    });
  }
  const rows = await t.container.db
    .selectFrom('audit_log')
    .select(['id', 'seq', 'hash'])
    .where('workspace_id', '=', workspace.id)
    .orderBy('seq')
    .execute();
  return { workspaceId: workspace.id, rows: rows.map((row) => ({ ...row, seq: Number(row.seq) })) };
}

/** Runs a statement with the append-only trigger off, as a superuser could. */
async function asSuperuser(statement: ReturnType<typeof sql>): Promise<void> {
  const db = t.container.db;
  await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`.execute(db);
  try {
    await statement.execute(db);
  } finally {
    await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`.execute(db);
  }
}

async function verifyOne(workspaceId: string) {
  const [result] = await t.container.audit.verify(workspaceId);
  return result;
}

describe('audit log tampering', () => {
  it('finds an intact chain intact', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    const result = await verifyOne(workspaceId);
    expect(result).toEqual({ workspace_id: workspaceId, entries: 5, head_hash: rows[4]?.hash });
  });

  const columnEdits: [string, (id: string) => ReturnType<typeof sql>][] = [
    ['action', (id) => sql`UPDATE audit_log SET action = 'template.create' WHERE id = ${id}`],
    ['actor type', (id) => sql`UPDATE audit_log SET actor_type = 'system' WHERE id = ${id}`],
    ['actor id', (id) => sql`UPDATE audit_log SET actor_id = 'someone-else' WHERE id = ${id}`],
    ['target type', (id) => sql`UPDATE audit_log SET target_type = 'campaign' WHERE id = ${id}`],
    ['target id', (id) => sql`UPDATE audit_log SET target_id = 'target-9' WHERE id = ${id}`],
    ['details', (id) => sql`UPDATE audit_log SET details = '{"fields":["name"]}' WHERE id = ${id}`],
    [
      'details key order only',
      (id) => sql`UPDATE audit_log SET details = '{"fields":["subject","name"]}' WHERE id = ${id}`,
    ],
    [
      'time',
      (id) => sql`UPDATE audit_log SET occurred_at = occurred_at - interval '1 hour' WHERE id = ${id}`,
    ],
    [
      'time by a microsecond',
      (id) => sql`UPDATE audit_log SET occurred_at = occurred_at + interval '1 microsecond' WHERE id = ${id}`,
    ],
    ['ip', (id) => sql`UPDATE audit_log SET ip = '10.0.0.1' WHERE id = ${id}`],
    ['request id', (id) => sql`UPDATE audit_log SET request_id = NULL WHERE id = ${id}`],
    ['hash', (id) => sql`UPDATE audit_log SET hash = repeat('a', 64) WHERE id = ${id}`],
  ];
  for (const [column, edit] of columnEdits) {
    it(`names the entry whose ${column} was changed (hash mismatch)`, async () => {
      const { workspaceId, rows } = await workspaceWithLog();
      const victim = rows[2] as Stored;
      await asSuperuser(edit(victim.id));
      const result = await verifyOne(workspaceId);
      expect(result?.broken).toMatchObject({
        workspace_id: workspaceId,
        seq: 3,
        id: victim.id,
        reason: 'hash_mismatch',
      });
      expect(result?.entries).toBe(2);
    });
  }

  it('names the entry whose prev_hash was changed', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    const victim = rows[2] as Stored;
    await asSuperuser(sql`UPDATE audit_log SET prev_hash = ${rows[0]?.hash} WHERE id = ${victim.id}`);
    expect((await verifyOne(workspaceId))?.broken).toMatchObject({
      seq: 3,
      id: victim.id,
      reason: 'prev_hash_mismatch',
    });
  });

  it('names the next entry when a changed entry got a recomputed hash', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    const victim = rows[2] as Stored;
    const row = await t.container.db
      .selectFrom('audit_log')
      .selectAll()
      .where('id', '=', victim.id)
      .executeTakeFirstOrThrow();
    const forged = hashEntry({ ...row, seq: Number(row.seq), action: 'template.create' });
    await asSuperuser(
      sql`UPDATE audit_log SET action = 'template.create', hash = ${forged} WHERE id = ${victim.id}`,
    );
    expect((await verifyOne(workspaceId))?.broken).toMatchObject({
      seq: 4,
      id: rows[3]?.id,
      reason: 'prev_hash_mismatch',
    });
  });

  it('names the gap where an entry was deleted', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    await asSuperuser(sql`DELETE FROM audit_log WHERE id = ${rows[2]?.id}`);
    const broken = (await verifyOne(workspaceId))?.broken;
    expect(broken).toMatchObject({ seq: 4, id: rows[3]?.id, reason: 'seq_gap' });
    expect(broken?.message).toContain('seq 3 is missing');
  });

  it('names the last entry when it was deleted (the chain head remembers it)', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    await asSuperuser(sql`DELETE FROM audit_log WHERE id = ${rows[4]?.id}`);
    expect((await verifyOne(workspaceId))?.broken).toMatchObject({
      seq: 5,
      id: rows[4]?.id,
      reason: 'seq_gap',
    });
  });

  it('names an inserted entry, even one with a correctly computed hash', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    const last = rows[4] as Stored;
    const forged = {
      id: '01900000-0000-7000-8000-00000000f00d',
      workspace_id: workspaceId,
      seq: 6,
      occurred_at: t.clock.now(),
      actor_type: 'system',
      actor_id: null,
      action: 'api_key.create',
      target_type: null,
      target_id: null,
      ip: null,
      request_id: null,
      details: {},
      prev_hash: last.hash,
    };
    const hash = hashEntry(forged);
    await sql`
      INSERT INTO audit_log (id, workspace_id, seq, occurred_at, actor_type, actor_id, action, target_type,
                             target_id, ip, request_id, details, prev_hash, hash)
      VALUES (${forged.id}, ${workspaceId}, 6, ${forged.occurred_at}, 'system', NULL, 'api_key.create', NULL,
              NULL, NULL, NULL, '{}', ${last.hash}, ${hash})`.execute(t.container.db);
    expect((await verifyOne(workspaceId))?.broken).toMatchObject({
      seq: 6,
      id: forged.id,
      reason: 'head_mismatch',
    });
  });

  it('names an inserted entry with a made-up hash', async () => {
    const { workspaceId, rows } = await workspaceWithLog();
    await sql`
      INSERT INTO audit_log (id, workspace_id, seq, occurred_at, actor_type, action, details, prev_hash, hash)
      VALUES ('01900000-0000-7000-8000-00000000beef', ${workspaceId}, 6, ${t.clock.now()}, 'cli',
              'api_key.create', '{}', ${rows[4]?.hash}, repeat('b', 64))`.execute(t.container.db);
    expect((await verifyOne(workspaceId))?.broken).toMatchObject({
      seq: 6,
      id: '01900000-0000-7000-8000-00000000beef',
    });
  });

  it('verifies every workspace at once, reporting each broken one and the intact ones', async () => {
    const intact = await workspaceWithLog();
    const broken = await workspaceWithLog();
    await asSuperuser(sql`UPDATE audit_log SET ip = '10.9.9.9' WHERE id = ${broken.rows[1]?.id}`);
    const results = await t.container.audit.verify();
    const byWorkspace = new Map(results.map((r) => [r.workspace_id, r]));
    expect(byWorkspace.get(intact.workspaceId)?.broken).toBeUndefined();
    expect(byWorkspace.get(broken.workspaceId)?.broken).toMatchObject({ seq: 2, id: broken.rows[1]?.id });
  });
});
