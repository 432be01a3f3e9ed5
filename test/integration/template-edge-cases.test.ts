import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Templates and snippets that something still needs: deleting what an
 * unfinished campaign uses is refused naming the campaigns; deleting what
 * only finished campaigns or messages used archives it, so what they pinned
 * keeps working. Snippet include cycles are refused with their path.
 */

let t: TestApp;
let dataDir: string;
let listId: string;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function count(sqlText: string, params: unknown[] = []): Promise<number> {
  const result = await t.container.database.pool.query(sqlText, params);
  return Number(result.rows[0].n);
}

async function template(name: string, body = '<p>Hello {{ contact.email }}</p>') {
  const res = await call('POST', '/v1/templates', { name, format: 'html', subject: 'Hi', body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; version: { id: string } };
}

async function campaign(name: string, templateId: string) {
  const res = await call('POST', '/v1/campaigns', {
    name,
    template_id: templateId,
    from_email: 'news@shop.example',
    lists: [listId],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'herald-template-edges-'));
  t = await createTestApp({ HERALD_DATA_DIR: dataDir });
  listId = (await call('POST', '/v1/lists', { name: 'Readers', opt_in: 'single' })).body.id;
  const added = await call('POST', `/v1/lists/${listId}/members`, {
    emails: ['reader-1@example.com', 'reader-2@example.com'],
  });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('deleting a template', () => {
  it('is refused with 409 naming every unfinished campaign, deleting nothing', async () => {
    const tpl = await template('In use');
    const draft = await campaign('Draft one', tpl.id);
    const scheduled = await campaign('Scheduled one', tpl.id);
    const sched = await call('POST', `/v1/campaigns/${scheduled.id}/schedule`, {
      send_at: new Date(t.clock.now().getTime() + 86_400_000).toISOString(),
    });
    expect(sched.status, JSON.stringify(sched.body)).toBe(200);
    const sending = await campaign('Sending one', tpl.id);
    expect((await call('POST', `/v1/campaigns/${sending.id}/send`)).status).toBe(200);
    const paused = await campaign('Paused one', tpl.id);
    expect((await call('POST', `/v1/campaigns/${paused.id}/send`)).status).toBe(200);
    expect((await call('POST', `/v1/campaigns/${paused.id}/pause`)).status).toBe(200);

    const res = await call('DELETE', `/v1/templates/${tpl.id}`);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('TEMPLATE_IN_USE');
    for (const [c, name, status] of [
      [draft, 'Draft one', 'draft'],
      [scheduled, 'Scheduled one', 'scheduled'],
      [sending, 'Sending one', 'sending'],
      [paused, 'Paused one', 'paused'],
    ] as const) {
      expect(res.body.detail).toContain(`"${name}" (${c.id}, ${status})`);
      expect(res.body.errors).toContainEqual(
        expect.objectContaining({ campaign_id: c.id, campaign_name: name, campaign_status: status }),
      );
    }
    expect((await call('GET', `/v1/templates/${tpl.id}`)).status).toBe(200);
    expect(await count('SELECT count(*) AS n FROM template_versions WHERE template_id = $1', [tpl.id])).toBe(
      1,
    );

    // Still refused while any one of them is unfinished.
    for (const c of [draft, scheduled, sending]) {
      expect((await call('POST', `/v1/campaigns/${c.id}/cancel`)).status).toBe(200);
    }
    const still = await call('DELETE', `/v1/templates/${tpl.id}`);
    expect([still.status, still.body.code]).toEqual([409, 'TEMPLATE_IN_USE']);
    expect(still.body.detail).toContain('Paused one');
    expect(still.body.detail).not.toContain('Draft one');
  });

  it('archives a template only finished campaigns and messages used: gone from the API, their version kept', async () => {
    const tpl = await template('Used once', '<p>Once {{ contact.email }}</p>');
    const done = await campaign('Cancelled', tpl.id);
    expect((await call('POST', `/v1/campaigns/${done.id}/send`)).status).toBe(200);
    expect((await call('POST', `/v1/campaigns/${done.id}/cancel`)).status).toBe(200);
    const finished = await campaign('Sent', tpl.id);
    expect((await call('POST', `/v1/campaigns/${finished.id}/send`)).status).toBe(200);
    await t.container.sender.drain();
    expect((await call('GET', `/v1/campaigns/${finished.id}`)).body.status).toBe('sent');
    const message = await call('POST', '/v1/messages', {
      to: 'buyer@example.com',
      template_id: tpl.id,
      from_email: 'orders@shop.example',
    });
    expect(message.status, JSON.stringify(message.body)).toBe(202);
    const confirming = await call('POST', '/v1/lists', {
      name: 'Double',
      opt_in: 'double',
      confirmation_template_id: tpl.id,
    });
    expect(confirming.status, JSON.stringify(confirming.body)).toBe(201);

    const res = await call('DELETE', `/v1/templates/${tpl.id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    expect((await call('GET', `/v1/templates/${tpl.id}`)).status).toBe(404);
    expect((await call('GET', `/v1/templates/${tpl.id}/versions/1`)).status).toBe(404);
    expect((await call('POST', `/v1/templates/${tpl.id}/preview`, {})).status).toBe(404);
    expect((await call('DELETE', `/v1/templates/${tpl.id}`)).status).toBe(404);
    const listed = (await call('GET', '/v1/templates?limit=100')).body.data.map((x: { id: string }) => x.id);
    expect(listed).not.toContain(tpl.id);
    // Nothing new can use it.
    const reuse = await call('POST', '/v1/messages', {
      to: 'buyer@example.com',
      template_id: tpl.id,
      from_email: 'orders@shop.example',
    });
    expect([reuse.status, reuse.body.code]).toEqual([404, 'TEMPLATE_NOT_FOUND']);
    const retarget = await call('POST', '/v1/campaigns', { name: 'New', template_id: tpl.id });
    const send = await call('POST', `/v1/campaigns/${retarget.body.id}/send`);
    expect(send.status).toBe(409);
    // The list falls back to the built-in confirmation text, as before.
    expect((await call('GET', `/v1/lists/${confirming.body.id}`)).body.confirmation_template_id).toBeNull();
    // Its name is free again.
    expect((await template('Used once')).id).not.toBe(tpl.id);

    // What pinned the version still has it: the cancelled campaign and the queued message.
    const pinned = (await call('GET', `/v1/campaigns/${done.id}`)).body.template_version_id;
    expect(pinned).toBe(tpl.version.id);
    expect((await call('GET', `/v1/campaigns/${finished.id}`)).body.template_version_id).toBe(pinned);
    const prepared = await t.container.templates.compileForSend(t.workspaceId, pinned);
    expect(prepared).toBeDefined();
    const version = await t.container.templates.getVersion(t.workspaceId, pinned);
    expect(version.body).toContain('Once');
    await t.container.runner.drain();
    const sent = await call('GET', `/v1/messages/${message.body.id}`);
    expect(sent.body).toMatchObject({ status: 'sent', template_version_id: tpl.version.id });
  });

  it('deletes an unused template', async () => {
    const tpl = await template('Unused');
    expect((await call('DELETE', `/v1/templates/${tpl.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/templates/${tpl.id}`)).status).toBe(404);
  });

  it("is not affected by another workspace's campaigns, and cannot reach another workspace's template", async () => {
    const tpl = await template('Mine');
    const other = await t.createWorkspace('Elsewhere');
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/templates/${tpl.id}`,
      headers: t.auth(other.adminKey),
    });
    expect(res.statusCode).toBe(404);
    expect((await call('GET', `/v1/templates/${tpl.id}`)).status).toBe(200);
  });
});

describe('deleting or renaming a snippet', () => {
  it('is refused while an unfinished campaign uses it through its template, allowed once none does', async () => {
    const inner = await call('POST', '/v1/snippets', { name: 'legal', source: '<small>Legal</small>' });
    const outer = await call('POST', '/v1/snippets', {
      name: 'signature',
      source: "Bye {% render 'legal' %}",
    });
    expect([inner.status, outer.status]).toEqual([201, 201]);
    const tpl = await template('Signed', "<p>Hi</p>{% render 'signature' %}");
    const draft = await campaign('Signed draft', tpl.id);

    // Used through another snippet counts too.
    for (const snippet of [inner.body, outer.body]) {
      const del = await call('DELETE', `/v1/snippets/${snippet.id}`);
      expect(del.status).toBe(409);
      expect(del.body.code).toBe('SNIPPET_IN_USE');
      expect(del.body.detail).toContain(`"Signed draft" (${draft.id}, draft)`);
      expect((await call('GET', `/v1/snippets/${snippet.id}`)).status).toBe(200);
    }
    const rename = await call('PUT', `/v1/snippets/${inner.body.id}`, { name: 'legal-2', source: 'x' });
    expect([rename.status, rename.body.code]).toEqual([409, 'SNIPPET_IN_USE']);
    expect((await call('GET', `/v1/snippets/${inner.body.id}`)).body.name).toBe('legal');
    // Changing its source keeps the name: allowed.
    const edit = await call('PUT', `/v1/snippets/${inner.body.id}`, {
      name: 'legal',
      source: '<small>L2</small>',
    });
    expect(edit.status).toBe(200);

    // A new template version without the snippet frees it: a draft pins the latest version when it sends.
    const v2 = await call('POST', `/v1/templates/${tpl.id}/versions`, {
      format: 'html',
      subject: 'Hi',
      body: '<p>No signature</p>',
    });
    expect(v2.status).toBe(201);
    expect((await call('DELETE', `/v1/snippets/${outer.body.id}`)).status).toBe(204);
    // Cancelled campaigns do not hold snippets either.
    const tpl2 = await template('Legal only', "{% render 'legal' %}");
    const c2 = await campaign('Legal campaign', tpl2.id);
    expect((await call('DELETE', `/v1/snippets/${inner.body.id}`)).status).toBe(409);
    expect((await call('POST', `/v1/campaigns/${c2.id}/cancel`)).status).toBe(200);
    expect((await call('DELETE', `/v1/snippets/${inner.body.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/snippets/${inner.body.id}`)).status).toBe(404);
  });

  it('holds a snippet a sending campaign pinned even when the template moved on', async () => {
    await call('POST', '/v1/snippets', { name: 'promo', source: 'PROMO' });
    const tpl = await template('Promo', "{% render 'promo' %}");
    const running = await campaign('Promo run', tpl.id);
    expect((await call('POST', `/v1/campaigns/${running.id}/send`)).status).toBe(200);
    await call('POST', `/v1/templates/${tpl.id}/versions`, { format: 'html', subject: 'Hi', body: 'plain' });
    const snippet = (await call('GET', '/v1/snippets?limit=100')).body.data.find(
      (s: { name: string }) => s.name === 'promo',
    );
    const del = await call('DELETE', `/v1/snippets/${snippet.id}`);
    expect([del.status, del.body.code]).toEqual([409, 'SNIPPET_IN_USE']);
    expect(del.body.detail).toContain('Promo run');
  });
});

describe('snippet include cycles', () => {
  it('refuses a snippet that includes itself, saving nothing', async () => {
    const res = await call('POST', '/v1/snippets', { name: 'loop', source: "x\n  {% render 'loop' %}" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('TEMPLATE_INVALID');
    expect(res.body.detail).toContain('loop -> loop');
    expect(res.body.errors).toContainEqual(
      expect.objectContaining({ path: '/source', line: 2, column: 3, cycle: ['loop', 'loop'] }),
    );
    expect(await count("SELECT count(*) AS n FROM snippets WHERE name = 'loop'")).toBe(0);
  });

  it('refuses closing a cycle through another snippet, on change and on rename', async () => {
    const a = await call('POST', '/v1/snippets', { name: 'cyc-a', source: 'A' });
    const b = await call('POST', '/v1/snippets', { name: 'cyc-b', source: "B {% include 'cyc-a' %}" });
    expect([a.status, b.status]).toEqual([201, 201]);
    const res = await call('PUT', `/v1/snippets/${a.body.id}`, {
      name: 'cyc-a',
      source: "line one\nA {% render 'cyc-b' %}",
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('cyc-a -> cyc-b -> cyc-a');
    expect(res.body.detail).toContain('snippet "cyc-b" includes "cyc-a" at line 1, column 3');
    expect(res.body.errors).toContainEqual(
      expect.objectContaining({ line: 2, column: 3, cycle: ['cyc-a', 'cyc-b', 'cyc-a'] }),
    );
    expect((await call('GET', `/v1/snippets/${a.body.id}`)).body.source).toBe('A');

    // Renaming into the name another snippet includes closes a cycle too.
    const c = await call('POST', '/v1/snippets', { name: 'cyc-c', source: "C {% render 'cyc-b' %}" });
    expect(c.status).toBe(201);
    const renamed = await call('PUT', `/v1/snippets/${c.body.id}`, {
      name: 'cyc-a',
      source: "C {% render 'cyc-b' %}",
    });
    // cyc-a exists, so this is a name clash; a free name that cyc-b would include is the cycle case.
    expect(renamed.status).toBe(409);
    const d = await call('POST', '/v1/snippets', { name: 'cyc-d', source: "D {% render 'cyc-future' %}" });
    expect(d.status).toBe(201);
    const e = await call('POST', '/v1/snippets', { name: 'cyc-e', source: "E {% render 'cyc-d' %}" });
    const cycle = await call('PUT', `/v1/snippets/${e.body.id}`, {
      name: 'cyc-future',
      source: "E {% render 'cyc-d' %}",
    });
    expect(cycle.status).toBe(400);
    expect(cycle.body.detail).toContain('cyc-future -> cyc-d -> cyc-future');
  });

  it('refuses a template entering a cycle stored before this check, with where it enters', async () => {
    const now = t.clock.now();
    for (const [name, source] of [
      ['old-x', "X {% render 'old-y' %}"],
      ['old-y', "Y {% render 'old-x' %}"],
    ]) {
      await t.container.database.pool.query(
        'INSERT INTO snippets (id, workspace_id, name, source, created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $4)',
        [t.workspaceId, name, source, now],
      );
    }
    const res = await call('POST', '/v1/templates', {
      name: 'Cyclic',
      format: 'html',
      subject: 'Hi',
      body: "<p>one</p>\n<p>{% render 'old-x' %}</p>",
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('TEMPLATE_INVALID');
    expect(res.body.detail).toContain('old-x -> old-y -> old-x');
    expect(res.body.errors).toContainEqual(expect.objectContaining({ path: '/body', line: 2, column: 4 }));
    expect(await count("SELECT count(*) AS n FROM templates WHERE name = 'Cyclic'")).toBe(0);
  });

  it('saves and renders deep acyclic nesting and a snippet used twice', async () => {
    const depth = 25;
    for (let i = depth; i >= 1; i--) {
      const source = i === depth ? "[{% render 'shared' %}]" : `L${i} {% render 'deep-${i + 1}' %}`;
      if (i === depth) await call('POST', '/v1/snippets', { name: 'shared', source: 'S' });
      const res = await call('POST', '/v1/snippets', { name: `deep-${i}`, source });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const tpl = await call('POST', '/v1/templates', {
      name: 'Deep',
      format: 'html',
      subject: 'Hi',
      body: "<p>{% render 'deep-1' %} {% render 'shared' %}</p>",
    });
    expect(tpl.status, JSON.stringify(tpl.body)).toBe(201);
    const preview = await call('POST', `/v1/templates/${tpl.body.id}/preview`, {});
    expect(preview.status).toBe(200);
    expect(preview.body.html).toContain('L1 L2');
    expect(preview.body.html).toContain(`L${depth - 1} [S]`);
  });

  it('refuses a snippet name that is not quoted, saying how to write it', async () => {
    const res = await call('POST', '/v1/templates', {
      name: 'Dynamic',
      format: 'html',
      subject: 'Hi',
      body: '<p>{% render contact.attributes.plan %}</p>',
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain("must be a quoted name, like {% render 'footer' %}");
  });

  it('keeps the layout a template uses with its version, so it renders', async () => {
    const frame = await call('POST', '/v1/snippets', {
      name: 'frame',
      source: '<div class="frame">{% block content %}{% endblock %}</div>',
    });
    expect(frame.status).toBe(201);
    const tpl = await call('POST', '/v1/templates', {
      name: 'Framed',
      format: 'html',
      subject: 'Hi',
      body: "{% layout 'frame' %}{% block content %}Inside {{ contact.email }}{% endblock %}",
    });
    expect(tpl.status, JSON.stringify(tpl.body)).toBe(201);
    const preview = await call('POST', `/v1/templates/${tpl.body.id}/preview`, {});
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body.html).toContain('<div class="frame">Inside jane.doe@example.com</div>');
  });
});
