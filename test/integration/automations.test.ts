import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** The automation API: drafts, validation with references, versioned publishing, status changes, isolation. */

let t: TestApp;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function createTemplate(name: string, body = `<p>${name}</p>`) {
  const res = await call('POST', '/v1/templates', { name, format: 'html', subject: name, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; version: { id: string } };
}

/** A small journey: one email, a day's wait, another email. */
function journey(first = 'Hello', second = 'Follow-up') {
  return {
    trigger: { type: 'event', event: 'Signed Up' },
    sender: { from_email: 'news@shop.example', from_name: 'Shop' },
    start: 'first',
    nodes: [
      { id: 'first', type: 'send_email', template: first, next: 'wait' },
      { id: 'wait', type: 'wait', for: { days: 1 }, next: 'second' },
      { id: 'second', type: 'send_email', template: second, next: 'done' },
      { id: 'done', type: 'exit' },
    ],
  };
}

let hello: { id: string; version: { id: string } };

beforeAll(async () => {
  t = await createTestApp();
  hello = await createTemplate('Hello');
  await createTemplate('Follow-up');
});
afterAll(async () => {
  await t?.close();
});

describe('automation drafts', () => {
  let id: string;

  it('creates, reads, lists and changes a draft', async () => {
    const created = await call('POST', '/v1/automations', {
      name: 'Onboarding',
      description: 'First week',
      definition: journey(),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Onboarding',
      description: 'First week',
      status: 'draft',
      current_version: null,
      draft_definition: journey(),
    });
    id = created.body.id;
    expect((await call('GET', `/v1/automations/${id}`)).body.draft_definition).toEqual(journey());
    const changed = await call('PATCH', `/v1/automations/${id}`, {
      name: 'Onboarding v2',
      description: null,
      definition: journey('Follow-up', 'Hello'),
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: 'Onboarding v2', description: null, status: 'draft' });
    expect(changed.body.draft_definition.nodes[0].template).toBe('Follow-up');
  });

  it('refuses a second automation of the same name, in any case', async () => {
    const res = await call('POST', '/v1/automations', { name: 'ONBOARDING V2', definition: journey() });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('AUTOMATION_EXISTS');
    expect(res.body.detail).toContain(id);
    const other = await call('POST', '/v1/automations', { name: 'Other', definition: journey() });
    const rename = await call('PATCH', `/v1/automations/${other.body.id}`, { name: 'onboarding v2' });
    expect(rename.status).toBe(409);
    expect(rename.body.code).toBe('AUTOMATION_EXISTS');
    expect((await call('DELETE', `/v1/automations/${other.body.id}`)).status).toBe(204);
  });

  it('refuses a structurally bad definition with 422 and every error, writing nothing', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const bad = journey();
    bad.nodes[1]!.next = 'secnd';
    (bad.nodes as Record<string, unknown>[]).push({ id: 'orphan', type: 'exit' });
    const res = await call('POST', '/v1/automations', { name: 'Broken', definition: bad });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      code: 'AUTOMATION_INVALID',
      status: 422,
      title: 'Unprocessable Content',
    });
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: '/definition/nodes/1/next',
          node: 'wait',
          message: expect.stringContaining('next names "secnd", which is not a node'),
        }),
        expect.objectContaining({ path: '/definition/nodes/2', node: 'second' }),
        expect.objectContaining({ path: '/definition/nodes/4', node: 'orphan' }),
      ]),
    );
    expect(res.body.detail).toContain('/definition/nodes/1/next');
    const patch = await call('PATCH', `/v1/automations/${id}`, { definition: bad });
    expect(patch.status).toBe(422);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('lists with a cursor and filters by status', async () => {
    for (const name of ['List A', 'List B', 'List C'])
      expect((await call('POST', '/v1/automations', { name, definition: journey() })).status).toBe(201);
    const first = await call('GET', '/v1/automations?limit=2');
    expect(first.body.data).toHaveLength(2);
    const second = await call('GET', `/v1/automations?limit=2&cursor=${first.body.next_cursor}`);
    const names = [...first.body.data, ...second.body.data].map((a: { name: string }) => a.name);
    expect(names.slice(0, 4)).toEqual(['Onboarding v2', 'List A', 'List B', 'List C']);
    const drafts = await call('GET', '/v1/automations?status=draft&limit=100');
    expect(drafts.body.data.length).toBeGreaterThanOrEqual(4);
    expect((await call('GET', '/v1/automations?status=active')).body.data).toEqual([]);
    expect((await call('GET', '/v1/automations?status=sleeping')).status).toBe(400);
  });
});

describe('validate', () => {
  it('checks structure and references without saving', async () => {
    const ok = await call('POST', '/v1/automations/validate', { definition: journey() });
    expect(ok).toMatchObject({ status: 200, body: { valid: true, errors: [] } });
    const unknown = await call('POST', '/v1/automations/validate', { definition: journey('Hello', 'Nope') });
    expect(unknown.body.valid).toBe(false);
    expect(unknown.body.errors).toEqual([
      {
        path: '/definition/nodes/2/template',
        node: 'second',
        message:
          'node "second": no template named "Nope" in this workspace; create it (POST /v1/templates) or correct the name',
      },
    ]);
    const structural = await call('POST', '/v1/automations/validate', {
      definition: { ...journey(), instance_key: 'cart_id', trigger: { type: 'api' } },
    });
    expect(structural.body.valid).toBe(false);
    expect(structural.body.errors[0]).toMatchObject({ path: '/definition/instance_key' });
  });

  it('needs a sender with valid addresses and a transport of this workspace when the graph sends email', async () => {
    const { sender: _, ...noSender } = journey();
    const missing = await call('POST', '/v1/automations/validate', { definition: noSender });
    expect(missing.body.valid).toBe(false);
    expect(missing.body.errors).toEqual([
      expect.objectContaining({ path: '/definition/sender', message: expect.stringContaining('no sender') }),
    ]);
    const bad = await call('POST', '/v1/automations/validate', {
      definition: { ...journey(), sender: { from_email: 'not an address', reply_to: 'x@', extra: 1 } },
    });
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      '/definition/sender/extra',
      '/definition/sender/from_email',
      '/definition/sender/reply_to',
    ]);
    const noTransport = await call('POST', '/v1/automations/validate', {
      definition: {
        ...journey(),
        sender: { from_email: 'news@shop.example', transport_id: '0190a000-0000-7000-8000-000000000099' },
      },
    });
    expect(noTransport.body.errors).toEqual([
      expect.objectContaining({ path: '/definition/sender/transport_id' }),
    ]);
    // Without a send_email node no sender is needed.
    const quiet = await call('POST', '/v1/automations/validate', {
      definition: { trigger: { type: 'api' }, start: 'e', nodes: [{ id: 'e', type: 'exit' }] },
    });
    expect(quiet.body).toEqual({ valid: true, errors: [] });
  });

  it('checks the lists, segments and campaigns a definition names', async () => {
    const missing = '0190a000-0000-7000-8000-000000000099';
    const res = await call('POST', '/v1/automations/validate', {
      definition: {
        trigger: { type: 'list_confirmed', list_id: missing },
        start: 'b',
        nodes: [
          {
            id: 'b',
            type: 'branch',
            branches: [
              {
                condition: { any: [{ segment: missing }, { engagement: 'opened', campaign: missing }] },
                next: 'u',
              },
            ],
            else: 'u',
          },
          { id: 'u', type: 'update_contact', add_to_lists: [missing], next: 'e' },
          { id: 'e', type: 'exit' },
        ],
      },
    });
    expect(res.body.valid).toBe(false);
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(
      [
        '/definition/trigger/list_id',
        '/definition/nodes/1/add_to_lists/0',
        '/definition/nodes/0/branches/0/condition/any/0/segment',
        '/definition/nodes/0/branches/0/condition/any/1/campaign',
      ].sort(),
    );
  });
});

describe('attribute types', () => {
  it('checks the attributes a definition uses against the attribute schema', async () => {
    expect((await call('POST', '/v1/attributes', { name: 'plan', type: 'string' })).status).toBe(201);
    expect((await call('POST', '/v1/attributes', { name: 'renews_on', type: 'date' })).status).toBe(201);
    const res = await call('POST', '/v1/automations/validate', {
      definition: {
        trigger: { type: 'date_attribute', attribute: 'plan', hour: 9 },
        start: 'b',
        nodes: [
          {
            id: 'b',
            type: 'branch',
            branches: [{ condition: { attribute: 'plan', operator: 'greater_than', value: 3 }, next: 'w' }],
            else: 'w',
          },
          { id: 'w', type: 'wait', until_attribute: { attribute: 'renews_on', offset_days: -7 }, next: 'u' },
          {
            id: 'u',
            type: 'update_contact',
            set_attributes: { plan: 3, renews_on: '2027-01-01' },
            next: 'e',
          },
          { id: 'e', type: 'exit' },
        ],
      },
    });
    expect(res.body.valid).toBe(false);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        path: '/definition/trigger/attribute',
        message:
          'attribute "plan" is a string in the attribute schema; a date_attribute trigger needs a date attribute',
      }),
      expect.objectContaining({ path: '/definition/nodes/0/branches/0/condition/operator', node: 'b' }),
      expect.objectContaining({ path: '/definition/nodes/2/set_attributes/plan', node: 'u' }),
    ]);
  });
});

describe('publishing', () => {
  let id: string;

  it('refuses a draft whose template does not exist, naming the node', async () => {
    const created = await call('POST', '/v1/automations', {
      name: 'Publish me',
      definition: journey('Hello', 'Later'),
    });
    id = created.body.id;
    const res = await call('POST', `/v1/automations/${id}/publish`);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('AUTOMATION_INVALID');
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        path: '/definition/nodes/2/template',
        node: 'second',
        message: expect.stringContaining('"Later"'),
      }),
    ]);
    expect((await call('GET', `/v1/automations/${id}`)).body).toMatchObject({
      status: 'draft',
      current_version: null,
    });
  });

  it('publishes version 1 with pinned templates, and version 2 leaves version 1 as it was', async () => {
    const later = await createTemplate('Later');
    const v1 = await call('POST', `/v1/automations/${id}/publish`);
    expect(v1.status, JSON.stringify(v1.body)).toBe(201);
    expect(v1.body).toMatchObject({ automation_id: id, version: 1 });
    expect(v1.body.resolved.emails).toEqual({
      first: { template_id: hello.id, template_version_id: hello.version.id, template_name: 'Hello' },
      second: { template_id: later.id, template_version_id: later.version.id, template_name: 'Later' },
    });
    // Defaults are written out in the version, not in the draft.
    expect(v1.body.definition.entry).toEqual({ mode: 'once_at_a_time' });
    expect(v1.body.definition.nodes[0].kind).toBe('marketing');
    expect((await call('GET', `/v1/automations/${id}`)).body).toMatchObject({
      status: 'active',
      current_version: 1,
    });

    // A new template version and a changed draft: version 2 pins the new content.
    const newer = await call('POST', `/v1/templates/${later.id}/versions`, {
      format: 'html',
      subject: 'Later, again',
      body: '<p>v2</p>',
    });
    expect(newer.status).toBe(201);
    const draft = journey('Hello', 'Later');
    draft.nodes[1]!.for = { days: 3 };
    expect((await call('PATCH', `/v1/automations/${id}`, { definition: draft })).status).toBe(200);
    const v2 = await call('POST', `/v1/automations/${id}/publish`);
    expect(v2.status).toBe(201);
    expect(v2.body.version).toBe(2);
    expect(v2.body.resolved.emails.second.template_version_id).toBe(newer.body.id);
    expect(v2.body.definition.nodes[1].for).toEqual({ days: 3 });

    const again = await call('GET', `/v1/automations/${id}/versions/1`);
    expect(again.body).toEqual(v1.body);
    const versions = await call('GET', `/v1/automations/${id}/versions?limit=1`);
    expect(versions.body.data.map((v: { version: number }) => v.version)).toEqual([1]);
    const rest = await call('GET', `/v1/automations/${id}/versions?cursor=${versions.body.next_cursor}`);
    expect(rest.body).toMatchObject({ data: [{ version: 2 }], next_cursor: null });
    expect((await call('GET', `/v1/automations/${id}/versions/3`)).body.code).toBe(
      'AUTOMATION_VERSION_NOT_FOUND',
    );
    expect((await call('GET', `/v1/automations/${id}/versions/0`)).status).toBe(400);
  });

  it('gives concurrent publishes consecutive versions', async () => {
    const created = await call('POST', '/v1/automations', { name: 'Raced', definition: journey() });
    const results = await Promise.all(
      [1, 2, 3].map(() => call('POST', `/v1/automations/${created.body.id}/publish`)),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(results.map((r) => r.body.version).sort()).toEqual([1, 2, 3]);
    expect((await call('GET', `/v1/automations/${created.body.id}`)).body.current_version).toBe(3);
  });

  it('pauses and resumes, refusing moves from the wrong state', async () => {
    const resumeActive = await call('POST', `/v1/automations/${id}/resume`);
    expect(resumeActive.status).toBe(409);
    expect(resumeActive.body.code).toBe('AUTOMATION_STATE');
    expect(resumeActive.body.detail).toContain('already active');
    expect((await call('POST', `/v1/automations/${id}/pause`)).body.status).toBe('paused');
    const pauseAgain = await call('POST', `/v1/automations/${id}/pause`);
    expect(pauseAgain.status).toBe(409);
    expect(pauseAgain.body.detail).toContain('already paused');
    // Publishing a paused automation keeps it paused.
    const v3 = await call('POST', `/v1/automations/${id}/publish`);
    expect(v3.body.version).toBe(3);
    expect((await call('GET', `/v1/automations/${id}`)).body).toMatchObject({
      status: 'paused',
      current_version: 3,
    });
    expect((await call('POST', `/v1/automations/${id}/resume`)).body.status).toBe('active');

    const draft = await call('POST', '/v1/automations', { name: 'Never published', definition: journey() });
    for (const action of ['pause', 'resume']) {
      const res = await call('POST', `/v1/automations/${draft.body.id}/${action}`);
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/never published; publish it first/);
    }
  });

  it('archives; an archived automation cannot change; a published one cannot be deleted', async () => {
    const del = await call('DELETE', `/v1/automations/${id}`);
    expect(del.status).toBe(409);
    expect(del.body.code).toBe('AUTOMATION_STATE');
    expect(del.body.detail).toContain(`archive it instead (POST /v1/automations/${id}/archive)`);
    expect((await call('POST', `/v1/automations/${id}/archive`)).body.status).toBe('archived');
    for (const [method, url, payload] of [
      ['POST', `/v1/automations/${id}/archive`, undefined],
      ['POST', `/v1/automations/${id}/publish`, undefined],
      ['POST', `/v1/automations/${id}/resume`, undefined],
      ['POST', `/v1/automations/${id}/pause`, undefined],
      ['PATCH', `/v1/automations/${id}`, { name: 'Renamed' }],
    ] as const) {
      const res = await call(method, url, payload);
      expect(res.status, url).toBe(409);
      expect(res.body.code).toBe('AUTOMATION_STATE');
    }
    expect((await call('GET', `/v1/automations/${id}/versions`)).body.data).toHaveLength(3);

    const draft = await call('POST', '/v1/automations', { name: 'Throwaway', definition: journey() });
    expect((await call('DELETE', `/v1/automations/${draft.body.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/automations/${draft.body.id}`)).body.code).toBe('AUTOMATION_NOT_FOUND');
  });
});

describe('tenant isolation and scopes', () => {
  it("gives another workspace's key 404 and no listing, and resolves references in the caller's workspace only", async () => {
    const own = await call('POST', '/v1/automations', { name: 'Private', definition: journey() });
    await call('POST', `/v1/automations/${own.body.id}/publish`);
    const intruder = await t.createWorkspace('Intruder');
    const before = await databaseSnapshot(t.container.database.pool);
    for (const [method, url, payload] of [
      ['GET', `/v1/automations/${own.body.id}`, undefined],
      ['PATCH', `/v1/automations/${own.body.id}`, { name: 'hacked' }],
      ['POST', `/v1/automations/${own.body.id}/publish`, undefined],
      ['POST', `/v1/automations/${own.body.id}/pause`, undefined],
      ['POST', `/v1/automations/${own.body.id}/archive`, undefined],
      ['DELETE', `/v1/automations/${own.body.id}`, undefined],
      ['GET', `/v1/automations/${own.body.id}/versions`, undefined],
      ['GET', `/v1/automations/${own.body.id}/versions/1`, undefined],
    ] as const) {
      const res = await call(method, url, payload, intruder.adminKey);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.code).toBe('AUTOMATION_NOT_FOUND');
    }
    const listed = await call('GET', '/v1/automations', undefined, intruder.adminKey);
    expect(listed.body.data).toEqual([]);
    // Template names are looked up in the intruder's workspace, where "Hello" does not exist.
    const validated = await call(
      'POST',
      '/v1/automations/validate',
      { definition: journey() },
      intruder.adminKey,
    );
    expect(validated.body.valid).toBe(false);
    expect(validated.body.errors.map((e: { node: string }) => e.node)).toEqual(['first', 'second']);
    const byId = journey();
    (byId.nodes[0] as Record<string, unknown>).template_id = hello.id;
    delete (byId.nodes[0] as Record<string, unknown>).template;
    const foreign = await call('POST', '/v1/automations/validate', { definition: byId }, intruder.adminKey);
    expect(foreign.body.errors[0]).toMatchObject({ node: 'first', path: '/definition/nodes/0/template_id' });
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('lets a read-only key read and validate but not write', async () => {
    const reader = await t.createKey(['automations:read']);
    const own = await call('POST', '/v1/automations', { name: 'Read only', definition: journey() });
    expect((await call('GET', '/v1/automations', undefined, reader)).status).toBe(200);
    expect((await call('GET', `/v1/automations/${own.body.id}`, undefined, reader)).status).toBe(200);
    expect((await call('POST', '/v1/automations/validate', { definition: journey() }, reader)).status).toBe(
      200,
    );
    for (const [method, url, payload] of [
      ['POST', '/v1/automations', { name: 'Nope', definition: journey() }],
      ['PATCH', `/v1/automations/${own.body.id}`, { name: 'Nope' }],
      ['POST', `/v1/automations/${own.body.id}/publish`, undefined],
      ['POST', `/v1/automations/${own.body.id}/pause`, undefined],
      ['DELETE', `/v1/automations/${own.body.id}`, undefined],
    ] as const) {
      const res = await call(method, url, payload, reader);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.detail).toContain('automations:write');
    }
    const writer = await t.createKey(['automations:write']);
    expect((await call('GET', '/v1/automations', undefined, writer)).status).toBe(403);
  });
});

describe('the shipped examples', () => {
  const dir = join(process.cwd(), 'examples', 'automations');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('includes the four journeys the README describes', () => {
    expect(files.sort()).toEqual([
      'abandoned-cart.json',
      'birthday.json',
      're-engagement.json',
      'welcome-series.json',
    ]);
  });

  it('each publishes once its templates, list and segment exist', async () => {
    const w = await t.createWorkspace('Examples');
    const as = (method: Method, url: string, payload?: unknown) => call(method, url, payload, w.adminKey);
    const list = await as('POST', '/v1/lists', {
      name: 'Newsletter',
      opt_in: 'double',
      visibility: 'public',
    });
    const segment = await as('POST', '/v1/segments', {
      name: 'No opens in 90 days',
      definition: { not: { engagement: 'opened', window: { within_last_days: 90 } } },
    });
    expect(segment.status, JSON.stringify(segment.body)).toBe(201);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      const shipped = JSON.parse(text);
      // As shipped it passes the structural check: only the placeholder ids are missing in a workspace.
      const created = await as('POST', '/v1/automations', { name: file, definition: shipped });
      expect(created.status, `${file}: ${JSON.stringify(created.body)}`).toBe(201);
      const before = await as('POST', `/v1/automations/${created.body.id}/publish`);
      expect(before.status, file).toBe(422);
      for (const node of shipped.nodes as { type: string; template?: string }[])
        if (node.type === 'send_email' && node.template) {
          const res = await as('POST', '/v1/templates', {
            name: node.template,
            format: 'html',
            subject: node.template,
            body: `<p>${node.template}</p>`,
          });
          expect([201, 409]).toContain(res.status);
        }
      const definition = JSON.parse(
        text
          .replaceAll('00000000-0000-0000-0000-00000000115e', list.body.id)
          .replaceAll('00000000-0000-0000-0000-0000005e6e00', segment.body.id),
      );
      expect((await as('PATCH', `/v1/automations/${created.body.id}`, { definition })).status).toBe(200);
      const published = await as('POST', `/v1/automations/${created.body.id}/publish`);
      expect(published.status, `${file}: ${JSON.stringify(published.body)}`).toBe(201);
      const emails = (shipped.nodes as { type: string }[]).filter((n) => n.type === 'send_email').length;
      expect(Object.keys(published.body.resolved.emails)).toHaveLength(emails);
    }
  });
});

describe('templates used by automations', () => {
  it('refuses deleting a template a draft or the current version uses, until the automation is archived', async () => {
    const doomed = await createTemplate('Doomed');
    await createTemplate('Replacement');
    const byName = await call('POST', '/v1/automations', {
      name: 'Uses Doomed',
      definition: journey('DOOMED', 'Hello'),
    });
    const refused = await call('DELETE', `/v1/templates/${doomed.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('TEMPLATE_IN_USE');
    expect(refused.body.detail).toContain('"Uses Doomed"');
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ automation_id: byName.body.id, automation_status: 'draft' }),
    ]);

    // Published with it, then the draft moves on: the current version still sends it.
    expect((await call('POST', `/v1/automations/${byName.body.id}/publish`)).status).toBe(201);
    await call('PATCH', `/v1/automations/${byName.body.id}`, { definition: journey('Replacement', 'Hello') });
    const still = await call('DELETE', `/v1/templates/${doomed.id}`);
    expect(still.status).toBe(409);
    expect(still.body.errors[0]).toMatchObject({ automation_status: 'active' });

    expect((await call('POST', `/v1/automations/${byName.body.id}/archive`)).status).toBe(200);
    expect((await call('DELETE', `/v1/templates/${doomed.id}`)).status).toBe(204);
  });

  it('refuses deleting a template a draft names by id', async () => {
    const pinned = await createTemplate('By id');
    const definition = journey();
    definition.nodes[2] = { id: 'second', type: 'send_email', template_id: pinned.id, next: 'done' } as never;
    const created = await call('POST', '/v1/automations', { name: 'By id user', definition });
    expect(created.status).toBe(201);
    expect((await call('DELETE', `/v1/templates/${pinned.id}`)).status).toBe(409);
    expect((await call('DELETE', `/v1/automations/${created.body.id}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/templates/${pinned.id}`)).status).toBe(204);
  });
});
