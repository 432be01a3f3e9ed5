import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;

const MJML = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hi {{ contact.attributes.first_name | default: "there" }}</mj-text>
        <mj-text>{% if contact.tags contains "vip" %}VIP{% endif %} {% render 'footer' %}</mj-text>
        <mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

async function call(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  payload?: object,
  key?: string,
) {
  return t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
}

async function counts(): Promise<string> {
  const r = await t.container.database.pool.query(
    "SELECT (SELECT count(*) FROM templates)::text || '/' || (SELECT count(*) FROM template_versions)::text AS v",
  );
  return r.rows[0].v;
}

let templateId: string;

beforeAll(async () => {
  t = await createTestApp();
  const snippet = await call('POST', '/v1/snippets', {
    name: 'footer',
    source: '<p class="footer">Sent by {{ workspace.name }} to {{ contact.email }}</p>',
  });
  expect(snippet.statusCode, snippet.body).toBe(201);
  const res = await call('POST', '/v1/templates', {
    name: 'Welcome',
    kind: 'marketing',
    format: 'mjml',
    subject: 'Welcome {{ contact.attributes.first_name | default: "friend" }}',
    preheader: 'Hello from {{ workspace.name }}',
    body: MJML,
  });
  expect(res.statusCode, res.body).toBe(201);
  templateId = res.json().id;
});
afterAll(async () => {
  await t?.close();
});

describe('templates', () => {
  it('stores the compiled HTML and text with the version and previews for a sample contact', async () => {
    const got = (await call('GET', `/v1/templates/${templateId}`)).json();
    expect(got.latest_version).toBe(1);
    expect(got.version.compiled_html).toContain('{{ contact.attributes.first_name | default: "there" }}');
    expect(got.version.compiled_html).toContain('<table');
    expect(got.version.compiled_text).toContain('Hi {{ contact.attributes.first_name | default: "there" }}');
    const res = await call('POST', `/v1/templates/${templateId}/preview`, {
      contact: { email: 'ann@example.com', attributes: { first_name: 'Ann' }, tags: ['vip'] },
    });
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json();
    expect(r.subject).toBe('Welcome Ann');
    expect(r.preheader).toBe('Hello from Default');
    expect(r.html).toContain('Hi Ann');
    expect(r.html).toContain('VIP');
    expect(r.html).toContain('Sent by Default to ann@example.com');
    expect(r.html).toContain('href="https://example.invalid/unsubscribe"');
    expect(r.text).toContain('Hi Ann');
    expect(r.text).toContain('Sent by Default to ann@example.com');
    expect(r.text).not.toContain('<p');
    const fallback = (await call('POST', `/v1/templates/${templateId}/preview`, {})).json();
    expect(fallback.subject).toBe('Welcome friend');
    expect(fallback.html).toContain('Hi there');
  });

  it('previews for a stored contact', async () => {
    const contact = (
      await call('POST', '/v1/contacts', { email: 'bob@example.com', attributes: { first_name: 'Bob' } })
    ).json();
    const r = (await call('POST', `/v1/templates/${templateId}/preview`, { contact_id: contact.id })).json();
    expect(r.subject).toBe('Welcome Bob');
    expect(r.html).toContain('to bob@example.com');
  });

  it('saves a change as version 2 while version 1 renders as before, without compiling again', async () => {
    const v1 = (await call('GET', `/v1/templates/${templateId}/versions/1`)).json();
    const before = (await call('POST', `/v1/templates/${templateId}/preview`, { version_id: v1.id })).json();
    const res = await call('POST', `/v1/templates/${templateId}/versions`, {
      format: 'html',
      subject: 'Changed',
      body: '<style>p { color: #00ff00 }</style><p>New {{ contact.email }}</p>',
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().version).toBe(2);
    expect(res.json().compiled_html).toMatch(/<p style="color: ?#00ff00;?">/);
    const list = (await call('GET', `/v1/templates/${templateId}/versions?limit=1`)).json();
    expect(list.data).toHaveLength(1);
    expect(list.next_cursor).not.toBeNull();
    expect((await call('GET', `/v1/templates/${templateId}`)).json().latest_version).toBe(2);

    const compiles = t.container.templateCompiler.stats.compiles;
    const again = (await call('POST', `/v1/templates/${templateId}/preview`, { version_id: v1.id })).json();
    expect(again).toEqual(before);
    const prepared = await t.container.templates.compileForSend(t.workspaceId, v1.id);
    for (let i = 0; i < 20; i++) {
      const r = await prepared.render({
        contact: {
          email: `c${i}@example.com`,
          external_id: null,
          attributes: { first_name: `N${i}` },
          tags: [],
          timezone: null,
          locale: null,
          status: 'active',
        },
        lists: [],
        workspace: { name: 'W' },
        unsubscribe_url: 'https://u.test/x',
        preferences_url: 'https://u.test/p',
        view_in_browser_url: 'https://u.test/v',
      });
      expect(r.subject).toBe(`Welcome N${i}`);
    }
    expect(t.container.templateCompiler.stats.compiles).toBe(compiles);
    const latest = (await call('POST', `/v1/templates/${templateId}/preview`, {})).json();
    expect(latest.html).toContain('New jane.doe@example.com');
  });

  it('refuses invalid Liquid, MJML, subject and unknown snippets with line and column, saving nothing', async () => {
    const before = await counts();
    const cases: [object, object][] = [
      [
        { format: 'html', subject: 'ok', body: 'line one\n  {% if x %}no end' },
        { path: '/body', line: 2, column: 3 },
      ],
      [
        { format: 'html', subject: 'Hi {{ x | bogus }}', body: '<p>x</p>' },
        { path: '/subject', line: 1, column: 4 },
      ],
      [
        { format: 'mjml', subject: 's', body: MJML.replace('<mj-button', '<mj-nope />\n<mj-button') },
        { path: '/body', line: 7 },
      ],
      [
        { format: 'html', subject: 's', body: "<p>x</p>\n{% include '/etc/passwd' %}" },
        { path: '/body', line: 2, column: 1, snippet: '/etc/passwd' },
      ],
    ];
    for (const [body, detail] of cases) {
      const res = await call('POST', `/v1/templates/${templateId}/versions`, body);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().code).toBe('TEMPLATE_INVALID');
      expect(res.json().errors).toEqual(expect.arrayContaining([expect.objectContaining(detail)]));
      const created = await call('POST', '/v1/templates', { name: `Bad ${Math.random()}`, ...body });
      expect(created.statusCode).toBe(400);
    }
    const passwd = await call('POST', `/v1/templates/${templateId}/versions`, cases[3]?.[0]);
    expect(passwd.json().detail).toContain('snippet "/etc/passwd" does not exist');
    expect(await counts()).toBe(before);
  });

  it('names an unknown variable and its position in strict preview', async () => {
    const created = (
      await call('POST', '/v1/templates', {
        name: 'Strict',
        format: 'html',
        subject: 'Hi',
        body: '<p>Hello</p>\n<p>{{ contact.attributes.plan }}</p>',
        strict_variables: true,
      })
    ).json();
    const res = await call('POST', `/v1/templates/${created.id}/preview`, {});
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('TEMPLATE_RENDER_FAILED');
    expect(res.json().errors[0]).toMatchObject({ variable: 'contact.attributes.plan', line: 2, column: 7 });
    const lax = await call('POST', `/v1/templates/${created.id}/preview`, { strict: false });
    expect(lax.statusCode).toBe(200);
  });

  it('fails a runaway loop clearly', async () => {
    const created = (
      await call('POST', '/v1/templates', {
        name: 'Loop',
        format: 'html',
        subject: 'Hi',
        body: '{% for i in (1..10000000) %}{{ i }}{% endfor %}',
      })
    ).json();
    const res = await call('POST', `/v1/templates/${created.id}/preview`, {});
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/loop over fewer items/);
  });

  it('keeps a saved version unchanged when its snippet changes; manages snippets', async () => {
    const list = (await call('GET', '/v1/snippets')).json();
    const footer = list.data.find((s: { name: string }) => s.name === 'footer');
    const put = await call('PUT', `/v1/snippets/${footer.id}`, {
      name: 'footer',
      source: '<p>NEW FOOTER</p>',
    });
    expect(put.statusCode).toBe(200);
    const v1 = (await call('GET', `/v1/templates/${templateId}/versions/1`)).json();
    const r = (await call('POST', `/v1/templates/${templateId}/preview`, { version_id: v1.id })).json();
    expect(r.html).toContain('Sent by Default');
    const dup = await call('POST', '/v1/snippets', { name: 'footer', source: 'x' });
    expect(dup.statusCode).toBe(409);
    const bad = await call('POST', '/v1/snippets', { name: 'broken', source: '{% if %}' });
    expect(bad.json().code).toBe('TEMPLATE_INVALID');
    expect((await call('DELETE', `/v1/snippets/${footer.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/snippets/${footer.id}`)).statusCode).toBe(404);
    const again = (await call('POST', `/v1/templates/${templateId}/preview`, { version_id: v1.id })).json();
    expect(again.html).toContain('Sent by Default');
  });

  it('renames, refuses duplicate names, deletes', async () => {
    const dup = await call('PATCH', `/v1/templates/${templateId}`, { name: 'strict' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('TEMPLATE_EXISTS');
    const ok = await call('PATCH', `/v1/templates/${templateId}`, {
      name: 'Welcome 2',
      kind: 'transactional',
    });
    expect(ok.json()).toMatchObject({ name: 'Welcome 2', kind: 'transactional' });
    const temp = (
      await call('POST', '/v1/templates', { name: 'Temp', format: 'html', subject: 's', body: 'b' })
    ).json();
    expect((await call('DELETE', `/v1/templates/${temp.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/templates/${temp.id}`)).statusCode).toBe(404);
  });

  it("hides one workspace's templates, versions and snippets from another", async () => {
    const other = await t.createWorkspace('Other');
    const v1 = (await call('GET', `/v1/templates/${templateId}/versions/1`)).json();
    for (const [method, url, body] of [
      ['GET', `/v1/templates/${templateId}`, undefined],
      ['GET', `/v1/templates/${templateId}/versions`, undefined],
      ['GET', `/v1/templates/${templateId}/versions/1`, undefined],
      ['POST', `/v1/templates/${templateId}/preview`, {}],
      ['POST', `/v1/templates/${templateId}/versions`, { format: 'html', subject: 's', body: 'b' }],
    ] as const) {
      const res = await call(method, url, body, other.adminKey);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    await expect(t.container.templates.getVersion(other.workspaceId, v1.id)).rejects.toMatchObject({
      code: 'TEMPLATE_VERSION_NOT_FOUND',
    });
    expect((await call('GET', '/v1/templates', undefined, other.adminKey)).json().data).toEqual([]);
  });
});
