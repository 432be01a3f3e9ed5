import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let adminKeyId: string;
beforeAll(async () => {
  t = await createTestApp();
  adminKeyId = (await t.container.apiKeys.authenticate(t.adminKey))?.actor.id as string;
});
afterAll(async () => {
  await t?.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  const json =
    String(res.headers['content-type'] ?? '').includes('json') && res.body ? res.json() : undefined;
  return { status: res.statusCode, body: json, raw: res.body, requestId: res.headers['x-request-id'] };
}

interface Entry {
  id: string;
  seq: number;
  action: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string | null } | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** Every entry of the default workspace, oldest first, straight from the API. */
async function entries(query = ''): Promise<Entry[]> {
  const all: Entry[] = [];
  let cursor: string | null = null;
  do {
    const page = await call(
      'GET',
      `/v1/audit-log?limit=1000${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    all.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor);
  return all;
}

async function count(): Promise<number> {
  const row = await t.container.db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('audit log recording', () => {
  it('records template create and update, campaign send, key create and revoke, and an export; not reads', async () => {
    const start = await count();
    const template = await call('POST', '/v1/templates', {
      name: 'Audit news',
      format: 'html',
      subject: 'News',
      body: '<p>Hello</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const renamed = await call('PATCH', `/v1/templates/${template.body.id}`, { name: 'Audit news 2' });
    expect(renamed.status).toBe(200);

    // Reads write nothing, also a POST that only reads.
    expect((await call('GET', '/v1/templates')).status).toBe(200);
    expect((await call('GET', `/v1/templates/${template.body.id}`)).status).toBe(200);
    const preview = await call('POST', `/v1/templates/${template.body.id}/preview`, {});
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(await count()).toBe(start + 2);

    const list = await call('POST', '/v1/lists', { name: 'Audit list', opt_in: 'single' });
    expect(
      (await call('POST', `/v1/lists/${list.body.id}/members`, { emails: ['a1@example.com'] })).status,
    ).toBe(200);
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Audit campaign',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list.body.id],
    });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    const sent = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);

    const key = await call('POST', '/v1/api-keys', { name: 'reporting', scopes: ['analytics:read'] });
    expect(key.status).toBe(201);
    const revoked = await call('DELETE', `/v1/api-keys/${key.body.id}`);
    expect(revoked.status).toBe(200);

    const head = await t.app.inject({ method: 'HEAD', url: '/v1/exports/contacts', headers: t.auth() });
    expect(head.statusCode).toBe(200);
    const exported = await call('GET', '/v1/exports/contacts?format=ndjson');
    expect(exported.status).toBe(200);
    expect(exported.raw).toContain('a1@example.com');

    const log = (await entries()).slice(start);
    expect(log.map((e) => e.action)).toEqual([
      'template.create',
      'template.update',
      'list.create',
      'list.members.create',
      'campaign.create',
      'campaign.send',
      'api_key.create',
      'api_key.revoke',
      'contacts.export',
    ]);
    const byAction = new Map(log.map((e) => [e.action, e]));
    expect(byAction.get('template.create')).toMatchObject({
      actor: { type: 'api_key', id: adminKeyId },
      target: { type: 'template', id: template.body.id },
      request_id: template.requestId,
      details: { fields: ['body', 'format', 'name', 'subject'] },
    });
    expect(byAction.get('template.create')?.ip).toBeTruthy();
    expect(byAction.get('template.update')).toMatchObject({
      target: { type: 'template', id: template.body.id },
      details: { fields: ['name'] },
      request_id: renamed.requestId,
    });
    expect(byAction.get('campaign.send')).toMatchObject({
      target: { type: 'campaign', id: campaign.body.id },
      request_id: sent.requestId,
    });
    expect(byAction.get('api_key.create')?.target).toEqual({ type: 'api_key', id: key.body.id });
    expect(byAction.get('api_key.revoke')?.target).toEqual({ type: 'api_key', id: key.body.id });
    expect(byAction.get('contacts.export')).toMatchObject({
      target: { type: 'export', id: null },
      request_id: exported.requestId,
    });
    // The new key's secret is nowhere in the log.
    expect(JSON.stringify(log)).not.toContain(key.body.secret);

    // Entries chain: each names the previous one's hash.
    for (let i = 1; i < log.length; i++) {
      expect(log[i]?.seq).toBe((log[i - 1]?.seq ?? 0) + 1);
      expect(log[i]?.prev_hash).toBe(log[i - 1]?.hash);
    }
  });

  it('writes nothing for failed requests (400, 401, 403, 404, 409)', async () => {
    const readOnly = await t.createKey(['templates:read']);
    const before = await count();
    expect(
      (await call('POST', '/v1/templates', { name: 'x', format: 'html', subject: '{{', body: 'x' })).status,
    ).toBe(400);
    expect((await call('POST', '/v1/templates', { name: 'x', nonsense: true })).status).toBe(400);
    expect(
      (await call('PATCH', '/v1/templates/01900000-0000-7000-8000-000000000000', { name: 'y' })).status,
    ).toBe(404);
    expect(
      (await call('POST', '/v1/templates', { name: 'x', format: 'html', subject: 's', body: 'b' }, readOnly))
        .status,
    ).toBe(403);
    const anonymous = await t.app.inject({ method: 'POST', url: '/v1/lists', payload: { name: 'x' } });
    expect(anonymous.statusCode).toBe(401);
    const list = await call('POST', '/v1/lists', { name: 'Twice', opt_in: 'single' });
    expect(list.status).toBe(201);
    expect((await call('POST', '/v1/lists', { name: 'Twice', opt_in: 'single' })).status).toBe(409);
    expect(await count()).toBe(before + 1);
  });

  it('never holds an email address', async () => {
    const email = 'Private.Person+audit@example.org';
    const contact = await call('POST', '/v1/contacts', { email, attributes: { first_name: 'Zoltan' } });
    expect(contact.status, JSON.stringify(contact.body)).toBe(201);
    expect((await call('PATCH', `/v1/contacts/${contact.body.id}`, { email: `x${email}` })).status).toBe(200);
    const list = await call('POST', '/v1/lists', { name: 'Private', opt_in: 'single' });
    expect((await call('POST', `/v1/lists/${list.body.id}/members`, { emails: [email] })).status).toBe(200);
    const suppressed = await call('POST', '/v1/suppressions', { email });
    expect(suppressed.status, JSON.stringify(suppressed.body)).toBeLessThan(300);
    const removed = await call('DELETE', `/v1/suppressions/${encodeURIComponent(email)}?reason=test`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);

    const erased = await call('DELETE', `/v1/contacts/${contact.body.id}`);
    expect(erased.status).toBe(204);
    const erasures = await entries('&action=contact.erase');
    expect(erasures.map((e) => e.target)).toEqual([{ type: 'contact', id: contact.body.id }]);

    const stored = await sql<{ row: string }>`SELECT row_to_json(a)::text AS row FROM audit_log a`.execute(
      t.container.db,
    );
    const everything = stored.rows
      .map((r) => r.row)
      .join('\n')
      .toLowerCase();
    expect(everything).toContain('suppression.delete');
    expect(everything).toContain('contact.update');
    for (const needle of ['private.person', 'example.org', 'zoltan', encodeURIComponent(email).toLowerCase()])
      expect(everything).not.toContain(needle);
  });

  it('keeps a valid, gapless chain under 50 parallel writes', async () => {
    const before = await count();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call('POST', '/v1/lists', { name: `Parallel ${i}`, opt_in: 'single' }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));
    const log = await entries();
    expect(log.length).toBe(before + 50);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
    const created = new Set(log.filter((e) => e.action === 'list.create').map((e) => e.target?.id));
    for (const r of results) expect(created.has(r.body.id)).toBe(true);
    const [verified] = await t.container.audit.verify(t.workspaceId);
    expect(verified).toMatchObject({ workspace_id: t.workspaceId, entries: log.length });
    expect(verified?.broken).toBeUndefined();
  });

  it('fails the request when the entry cannot be written', async () => {
    // A real failure of the audit table, not a stand-in: a constraint no entry of this action passes.
    await sql`ALTER TABLE audit_log ADD CONSTRAINT audit_test_refuse CHECK (action <> 'list.create') NOT VALID`.execute(
      t.container.db,
    );
    try {
      const before = await count();
      const res = await call('POST', '/v1/lists', { name: 'Unrecorded', opt_in: 'single' });
      expect(res.status).toBe(500);
      expect(res.body.status).toBe(500);
      expect(await count()).toBe(before);
    } finally {
      await sql`ALTER TABLE audit_log DROP CONSTRAINT audit_test_refuse`.execute(t.container.db);
    }
    const [verified] = await t.container.audit.verify(t.workspaceId);
    expect(verified?.broken).toBeUndefined();
  });

  it('does not record ingestion routes that opt out', async () => {
    const before = await count();
    const tracked = await call('POST', '/v1/track', {
      userId: 'u-1',
      event: 'Viewed',
      messageId: 'm-audit-1',
    });
    expect(tracked.status, JSON.stringify(tracked.body)).toBe(200);
    expect(await count()).toBe(before);
  });
});

describe('audit log trigger', () => {
  it('refuses UPDATE, DELETE and TRUNCATE, and moving a chain head back', async () => {
    const [first] = await entries();
    expect(first).toBeDefined();
    await expect(
      sql`UPDATE audit_log SET action = 'nothing' WHERE id = ${first?.id}`.execute(t.container.db),
    ).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log WHERE id = ${first?.id}`.execute(t.container.db)).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`TRUNCATE audit_log`.execute(t.container.db)).rejects.toThrow(/append-only/);
    await expect(
      sql`UPDATE audit_chain_heads SET seq = 1 WHERE workspace_id = ${t.workspaceId}`.execute(t.container.db),
    ).rejects.toThrow(/forward/);
    await expect(
      sql`DELETE FROM audit_chain_heads WHERE workspace_id = ${t.workspaceId}`.execute(t.container.db),
    ).rejects.toThrow(/cannot be deleted/);
    expect((await entries())[0]).toEqual(first);
  });
});

describe('GET /v1/audit-log', () => {
  it('pages with a cursor and filters by action, actor, target and time', async () => {
    const all = await entries();
    const firstPage = await call('GET', '/v1/audit-log?limit=2');
    expect(firstPage.body.data).toEqual(all.slice(0, 2));
    const second = await call('GET', `/v1/audit-log?limit=2&cursor=${firstPage.body.next_cursor}`);
    expect(second.body.data).toEqual(all.slice(2, 4));

    const sends = await entries('&action=campaign.send');
    expect(sends.length).toBe(1);
    const byKey = await entries(`&actor=api_key:${adminKeyId}`);
    expect(byKey.length).toBe(all.filter((e) => e.actor.id === adminKeyId).length);
    expect(await entries('&actor=cli')).toEqual([]);
    const templateId = all.find((e) => e.action === 'template.create')?.target?.id;
    const aboutTemplate = await entries(`&target=template:${templateId}`);
    expect(aboutTemplate.map((e) => e.action)).toEqual(['template.create', 'template.update']);
    expect((await entries('&target=template')).length).toBeGreaterThanOrEqual(2);

    const later = new Date(t.clock.now().getTime() + 60_000).toISOString();
    expect(await entries(`&from=${encodeURIComponent(later)}`)).toEqual([]);
    expect((await entries(`&to=${encodeURIComponent(later)}`)).length).toBe(all.length);
  });

  it('refuses bad filters and cursors with a clear error', async () => {
    for (const [query, needle] of [
      ['actor=robot', 'actor'],
      ['target=Template', 'target'],
      ['action=DROP%20TABLE', 'action'],
      ['from=yesterday', 'from'],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['cursor=bm9wZQ', 'cursor'],
      ['limit=0', 'limit'],
      ['unknown=1', 'unknown'],
    ] as const) {
      const res = await call('GET', `/v1/audit-log?${query}`);
      expect(res.status, query).toBe(400);
      expect(JSON.stringify(res.body), query).toContain(needle);
    }
  });

  it('is readable with audit:read only, and never across workspaces', async () => {
    const contactsReader = await t.createKey(['contacts:read']);
    expect((await call('GET', '/v1/audit-log', undefined, contactsReader)).status).toBe(403);
    expect((await call('GET', '/v1/audit-log/export', undefined, contactsReader)).status).toBe(403);
    const auditor = await t.createKey(['audit:read']);
    expect((await call('GET', '/v1/audit-log?limit=1', undefined, auditor)).status).toBe(200);

    const other = await t.createWorkspace('Tenant B');
    const otherList = await call('POST', '/v1/lists', { name: 'B list', opt_in: 'single' }, other.adminKey);
    expect(otherList.status).toBe(201);
    const seenByB = await call('GET', '/v1/audit-log?limit=1000', undefined, other.adminKey);
    expect(seenByB.body.data.map((e: Entry) => e.action)).toEqual(['list.create']);
    expect(seenByB.body.data[0].seq).toBe(1);
    const templateId = (await entries()).find((e) => e.action === 'template.create')?.target?.id;
    const probe = await call('GET', `/v1/audit-log?target=template:${templateId}`, undefined, other.adminKey);
    expect(probe.body.data).toEqual([]);
    const exportB = await t.app.inject({
      method: 'GET',
      url: '/v1/audit-log/export',
      headers: t.auth(other.adminKey),
    });
    expect(exportB.body).not.toContain(t.workspaceId);
    expect(exportB.body).not.toContain(adminKeyId);
    // A's log does not show B's list either.
    expect((await entries()).some((e) => e.target?.id === otherList.body.id)).toBe(false);
  });

  it('exports NDJSON in seq order, the same entries as the list, and records the export', async () => {
    const listed = await entries();
    const res = await t.app.inject({ method: 'GET', url: '/v1/audit-log/export', headers: t.auth() });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/x-ndjson');
    const lines = res.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    // The export's own entry is written before the file streams, so the file ends with it.
    expect(lines.slice(0, -1)).toEqual(listed);
    expect(lines.at(-1)).toMatchObject({
      action: 'audit_log.export',
      seq: (listed.at(-1)?.seq ?? 0) + 1,
      request_id: res.headers['x-request-id'],
    });
    expect(await entries()).toEqual(lines);
    const filtered = await t.app.inject({
      method: 'GET',
      url: '/v1/audit-log/export?action=template.update',
      headers: t.auth(),
    });
    expect(
      filtered.body
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).action),
    ).toEqual(['template.update']);
  });
});
