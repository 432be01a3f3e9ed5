import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * An idempotency key names one request: the same request again returns the
 * first message, a different request with the key is refused (409). Inline
 * content may use the workspace's snippets, like templates.
 */

let t: TestApp;
let sink: SmtpSink;
let templateId: string;
let otherTemplateId: string;

async function call(method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function count(where: string, params: unknown[] = []): Promise<number> {
  const result = await t.container.database.pool.query(
    `SELECT count(*)::int AS n FROM messages WHERE ${where}`,
    params,
  );
  return result.rows[0].n;
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink);
  for (const name of ['Receipt', 'Other']) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: `${name} {{ data.order }}`,
      body: '<p>Order {{ data.order }}</p>',
    });
    expect(res.status).toBe(201);
    if (name === 'Receipt') templateId = res.body.id;
    else otherTemplateId = res.body.id;
  }
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

const base = () => ({
  to: 'buyer@example.com',
  template_id: templateId,
  data: { order: 'A-1', lines: [{ sku: 'x', qty: 1 }] },
  from_email: 'orders@shop.example',
  from_name: 'Shop',
});

describe('idempotency keys', () => {
  it('returns the first message for the same request, also written differently', async () => {
    const first = await call('POST', '/v1/messages', { ...base(), idempotency_key: 'same-1' });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    // Same meaning: keys in another order, the address in other case, absent optional data as before.
    const again = await call('POST', '/v1/messages', {
      idempotency_key: 'same-1',
      from_name: 'Shop',
      from_email: 'Orders@Shop.example',
      data: { lines: [{ qty: 1, sku: 'x' }], order: 'A-1' },
      template_id: templateId,
      to: 'BUYER@example.com',
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await count('idempotency_key = $1', ['same-1'])).toBe(1);
    await t.container.runner.drain();
    expect(sink.messages.filter((m) => m.to[0] === 'buyer@example.com')).toHaveLength(1);
  });

  it('refuses the key with a different request (409), sending and storing nothing more', async () => {
    const key = 'reused-1';
    const first = await call('POST', '/v1/messages', { ...base(), idempotency_key: key });
    expect(first.status).toBe(202);
    const variants: [string, object][] = [
      ['to', { to: 'someone.else@example.com' }],
      ['template', { template_id: otherTemplateId }],
      ['data', { data: { order: 'A-2', lines: [{ sku: 'x', qty: 1 }] } }],
      ['nested data', { data: { order: 'A-1', lines: [{ sku: 'x', qty: 2 }] } }],
      ['sender', { from_email: 'billing@shop.example' }],
      ['sender name', { from_name: 'Other' }],
      ['reply-to', { reply_to: 'help@shop.example' }],
      ['content', { template_id: undefined, inline: { subject: 'Hi', text: 'Hello' } }],
    ];
    const before = sink.messages.length;
    for (const [what, change] of variants) {
      const res = await call('POST', '/v1/messages', { ...base(), ...change, idempotency_key: key });
      expect(res.status, what).toBe(409);
      expect(res.body.code, what).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(res.body.detail, what).toContain(first.body.id);
      expect(res.body.errors[0], what).toMatchObject({ path: '/idempotency_key', message_id: first.body.id });
    }
    expect(await count('idempotency_key = $1', [key])).toBe(1);
    await t.container.runner.drain();
    expect(sink.messages.length - before).toBe(1);
    // The identical request still gets the first message.
    const same = await call('POST', '/v1/messages', { ...base(), idempotency_key: key });
    expect([same.status, same.body.id]).toEqual([200, first.body.id]);
  });

  it('answers one 202 and one 200 or 409 for racing requests with one key, never a 500', async () => {
    const [a, b] = await Promise.all([
      call('POST', '/v1/messages', { ...base(), idempotency_key: 'race-1' }),
      call('POST', '/v1/messages', { ...base(), idempotency_key: 'race-1' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(a.body.id).toBe(b.body.id);
    const [c, d] = await Promise.all([
      call('POST', '/v1/messages', { ...base(), idempotency_key: 'race-2' }),
      call('POST', '/v1/messages', { ...base(), to: 'other@example.com', idempotency_key: 'race-2' }),
    ]);
    expect([c.status, d.status].sort()).toEqual([202, 409]);
    expect(await count('idempotency_key = $1', ['race-2'])).toBe(1);
  });

  it('treats a message stored before request hashes as matching any request with its key', async () => {
    const first = await call('POST', '/v1/messages', { ...base(), idempotency_key: 'legacy-1' });
    await t.container.database.pool.query('UPDATE messages SET request_hash = NULL WHERE id = $1', [
      first.body.id,
    ]);
    const res = await call('POST', '/v1/messages', {
      ...base(),
      to: 'x@example.com',
      idempotency_key: 'legacy-1',
    });
    expect([res.status, res.body.id]).toEqual([200, first.body.id]);
  });
});

describe('inline content', () => {
  it("renders the workspace's snippets, keeping the copy it was accepted with", async () => {
    const snippet = await call('POST', '/v1/snippets', {
      name: 'signoff',
      source: '<p>Thanks, {{ workspace.name }} ({{ data.order }})</p>',
    });
    expect(snippet.status).toBe(201);
    const res = await call('POST', '/v1/messages', {
      to: 'inline@example.com',
      inline: { subject: 'Order {{ data.order }}', html: "<p>Hi</p>{% render 'signoff' %}" },
      data: { order: 'B-7' },
      from_email: 'orders@shop.example',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    // A later change to the snippet does not change an accepted message.
    await call('PUT', `/v1/snippets/${snippet.body.id}`, { name: 'signoff', source: 'CHANGED' });
    await t.container.runner.drain();
    const got = sink.messages.filter((m) => m.to[0] === 'inline@example.com');
    expect(got).toHaveLength(1);
    const parsed = await simpleParser(got[0]?.raw as Buffer);
    expect(parsed.html).toContain('Thanks, Default (B-7)');
    expect(parsed.text).toContain('Thanks, Default (B-7)');
    expect(parsed.html).not.toContain('CHANGED');
  });

  it('refuses an unknown snippet and a snippet cycle in inline content with line and column', async () => {
    const res = await call('POST', '/v1/messages', {
      to: 'inline@example.com',
      inline: { subject: 'Hi', html: "<p>Hi</p>\n{% render 'nope' %}" },
      from_email: 'orders@shop.example',
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('TEMPLATE_INVALID');
    expect(res.body.errors[0]).toMatchObject({ path: '/body', line: 2, column: 1, snippet: 'nope' });
    expect(await count("to_email = 'inline@example.com' AND payload::text LIKE '%nope%'")).toBe(0);
  });
});
