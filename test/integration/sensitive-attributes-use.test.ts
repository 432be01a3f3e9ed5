import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Sensitive attribute values written by an import are stored encrypted, and
 * every place that shows or renders them gets the plain text: exports, the
 * data subject's access export, campaign and transactional emails.
 */

let t: TestApp;
let sink: SmtpSink;
beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink);
  expect((await call('POST', '/v1/sending-domains', { domain: 'shop.example' })).status).toBe(201);
  expect(
    (await call('POST', '/v1/attributes', { name: 'member_code', type: 'string', sensitive: true })).status,
  ).toBe(201);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: object | string, headers = {}) {
  const res = await t.app.inject({
    method,
    url,
    headers: { ...t.auth(), ...headers },
    ...(payload ? { payload } : {}),
  });
  return {
    status: res.statusCode,
    text: res.body,
    body:
      res.body && /^application\/(problem\+)?json/.test(String(res.headers['content-type']))
        ? res.json()
        : undefined,
  };
}

async function storedCode(email: string): Promise<unknown> {
  const row = await t.container.db
    .selectFrom('contacts')
    .select('attributes')
    .where('workspace_id', '=', t.workspaceId)
    .where('email', '=', email)
    .executeTakeFirstOrThrow();
  return row.attributes.member_code;
}

describe('sensitive attributes through imports and exports', () => {
  it('a CSV import stores the values encrypted', async () => {
    const csv =
      'email,member_code,city\nimp1@example.com,CODE-AAA-1,Lyon\nimp2@example.com,CODE-BBB-2,Oslo\n';
    const res = await call('POST', '/v1/imports', csv, { 'content-type': 'text/csv' });
    expect(res.status, res.text).toBe(202);
    await t.container.runner.drain();
    const done = await call('GET', `/v1/imports/${res.body.id}`);
    expect(done.body).toMatchObject({ status: 'completed' });
    for (const email of ['imp1@example.com', 'imp2@example.com']) {
      const stored = String(await storedCode(email));
      expect(stored).toMatch(/^hdk1\./);
      expect(stored).not.toContain('CODE-');
    }
    const list = await call('GET', '/v1/contacts?limit=10');
    const codes = list.body.data.map(
      (c: { attributes: { member_code?: string } }) => c.attributes.member_code,
    );
    expect(codes.sort()).toEqual(['CODE-AAA-1', 'CODE-BBB-2']);
  });

  it('exports show the plain values, CSV and NDJSON', async () => {
    const csv = await call('GET', '/v1/exports/contacts?format=csv');
    expect(csv.status).toBe(200);
    expect(csv.text).toContain('CODE-AAA-1');
    expect(csv.text).not.toContain('hdk1.');
    const ndjson = await call('GET', '/v1/exports/contacts?format=ndjson');
    expect(ndjson.text).toContain('"member_code":"CODE-BBB-2"');
    expect(ndjson.text).not.toContain('hdk1.');
  });

  it("the person's access export shows the plain value", async () => {
    const contact = (await call('GET', '/v1/contacts?limit=10')).body.data.find(
      (c: { email: string }) => c.email === 'imp1@example.com',
    );
    const exported = await call('GET', `/v1/contacts/${contact.id}/data-export`);
    expect(exported.status).toBe(200);
    expect(exported.body.profile.attributes).toEqual({ member_code: 'CODE-AAA-1', city: 'Lyon' });
  });
});

describe('sensitive attributes in emails', () => {
  it('a campaign email carries the plain value', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Code',
      format: 'html',
      subject: 'Your code',
      body: '<p>Your member code is {{ contact.attributes.member_code }}.</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    });
    expect(template.status, template.text).toBe(201);
    const list = await call('POST', '/v1/lists', { name: 'Members' });
    await call('PUT', '/v1/contacts', {
      email: 'camp@example.com',
      attributes: { member_code: 'CODE-CAMP-7' },
    });
    expect(String(await storedCode('camp@example.com'))).toMatch(/^hdk1\./);
    const added = await call('POST', `/v1/lists/${list.body.id}/members`, {
      emails: ['camp@example.com'],
      status: 'confirmed',
    });
    expect(added.status, added.text).toBe(200);
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Codes',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list.body.id],
    });
    const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(started.status, started.text).toBe(200);
    await t.container.sender.drain();
    const message = sink.messages.find((m) => m.to[0] === 'camp@example.com');
    expect(message).toBeDefined();
    const raw = message?.raw.toString('utf8') ?? '';
    expect(raw).toContain('CODE-CAMP-7');
    expect(raw).not.toContain('hdk1.');
  });

  it('a template preview for a stored contact shows the plain value', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Preview',
      format: 'html',
      subject: 'Code {{ contact.attributes.member_code }}',
      body: '<p>Code {{ contact.attributes.member_code }}</p>',
    });
    const contact = (
      await call('PUT', '/v1/contacts', {
        email: 'preview@example.com',
        attributes: { member_code: 'CODE-PREV-3' },
      })
    ).body;
    const preview = await call('POST', `/v1/templates/${template.body.id}/preview`, {
      contact_id: contact.id,
    });
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body.subject).toBe('Code CODE-PREV-3');
    expect(preview.body.html).toContain('Code CODE-PREV-3');
  });

  it('a transactional message carries the plain value', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Receipt',
      format: 'html',
      subject: 'Receipt',
      body: '<p>Member {{ contact.attributes.member_code }}</p>',
    });
    expect(template.status, template.text).toBe(201);
    await call('PUT', '/v1/contacts', { email: 'tx@example.com', attributes: { member_code: 'CODE-TX-9' } });
    const sent = await call('POST', '/v1/messages', {
      to: 'tx@example.com',
      template_id: template.body.id,
      from_email: 'orders@shop.example',
    });
    expect(sent.status, sent.text).toBe(202);
    await t.container.runner.drain();
    const message = sink.messages.find((m) => m.to[0] === 'tx@example.com');
    const raw = message?.raw.toString('utf8') ?? '';
    expect(raw).toContain('CODE-TX-9');
    expect(raw).not.toContain('hdk1.');
  });
});

describe('sensitive attributes from other writers', () => {
  it('identify traits are stored encrypted', async () => {
    const res = await call('POST', '/v1/identify', {
      userId: 'user-sens-1',
      traits: { email: 'ident@example.com', member_code: 'CODE-IDENT-5', plan: 'pro' },
    });
    expect(res.status, res.text).toBe(200);
    const stored = String(await storedCode('ident@example.com'));
    expect(stored).toMatch(/^hdk1\./);
    expect(stored).not.toContain('CODE-IDENT-5');
    const list = await call('GET', '/v1/contacts?limit=50');
    const contact = list.body.data.find((c: { email: string }) => c.email === 'ident@example.com');
    expect(contact.attributes).toEqual({ member_code: 'CODE-IDENT-5', plan: 'pro' });
  });
});
