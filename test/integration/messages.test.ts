import { simpleParser } from 'mailparser';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer } from '../../src/main/container.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Transactional messages end to end: the API accepts a message durably, the
 * job runner renders, builds, signs and sends it through a real SMTP server.
 */

let t: TestApp;
let sink: SmtpSink;
let templateId: string;

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const received = (to: string) => sink.messages.filter((m) => m.to[0] === to);

async function count(table: string, where = 'true'): Promise<number> {
  const result = await t.container.database.pool.query(
    `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`,
  );
  return result.rows[0].n;
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 } });
  const domain = await call('POST', '/v1/sending-domains', { domain: 'shop.example', algorithm: 'rsa' });
  expect(domain.status).toBe(201);
  const template = await call('POST', '/v1/templates', {
    name: 'Receipt',
    format: 'html',
    subject: 'Order {{ data.order_id }}',
    body: '<p>Hello {{ contact.email }}, order {{ data.order_id }} costs {{ data.total }}.</p>',
  });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  templateId = template.body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('POST /v1/messages', () => {
  it('accepts a message (202), sends it once with the data rendered, and reports it sent', async () => {
    const res = await call('POST', '/v1/messages', {
      to: 'buyer@example.com',
      template_id: templateId,
      data: { order_id: 'A-42', total: '9.90 EUR' },
      from_email: 'orders@shop.example',
      from_name: 'Shop',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ to: 'buyer@example.com', status: 'queued', template_id: templateId });
    expect(sink.messages).toHaveLength(0);

    await t.container.runner.drain();
    const got = received('buyer@example.com');
    expect(got).toHaveLength(1);
    const parsed = await simpleParser(got[0]?.raw as Buffer);
    expect(parsed.subject).toBe('Order A-42');
    expect(parsed.html).toContain('order A-42 costs 9.90 EUR');
    expect(parsed.text).toContain('order A-42 costs 9.90 EUR');
    expect(parsed.messageId).toBe(res.body.message_id);
    // Transactional: no list headers; DKIM-signed by the sending domain.
    expect(parsed.headers.has('list-unsubscribe')).toBe(false);
    expect(parsed.headers.has('list-id')).toBe(false);
    expect(parsed.headers.has('dkim-signature')).toBe(true);

    const done = await call('GET', `/v1/messages/${res.body.id}`);
    expect(done.body).toMatchObject({ status: 'sent', error: null });
    expect(done.body.provider_message_id).toEqual(expect.any(String));
    // The recipient became a contact.
    const contact = await call('GET', '/v1/contacts?email=buyer@example.com');
    expect(contact.body.data[0]).toMatchObject({ id: res.body.contact_id, status: 'active' });
  });

  it('tracks opens and clicks only when asked, and only for template messages', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Shipped',
      format: 'html',
      subject: 'Shipped',
      body: '<p>Your parcel is on its way: <a href="https://shop.example/track/{{ data.parcel }}">follow it</a> or <a href="https://shop.example/help">get help</a>.</p>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const send = (to: string, track?: boolean) =>
      call('POST', '/v1/messages', {
        to,
        template_id: template.body.id,
        data: { parcel: 'P1' },
        from_email: 'orders@shop.example',
        ...(track === undefined ? {} : { track }),
      });
    const tracked = await send('tracked@example.com', true);
    const plain = await send('plain@example.com');
    expect([tracked.status, plain.status]).toEqual([202, 202]);
    await t.container.runner.drain();

    const plainHtml = String((await simpleParser(received('plain@example.com')[0]?.raw as Buffer)).html);
    expect(plainHtml).not.toMatch(/\/[oc]\//);
    expect(plainHtml).toContain('href="https://shop.example/help"');

    const html = String((await simpleParser(received('tracked@example.com')[0]?.raw as Buffer)).html);
    const pixel = /<img src="https?:\/\/[^/]+(\/o\/[A-Za-z0-9_-]+)"/.exec(html)?.[1];
    const links = [...html.matchAll(/href="https?:\/\/[^/]+(\/c\/[A-Za-z0-9_-]+)"/g)].map(
      (m) => m[1] as string,
    );
    expect(pixel).toBeDefined();
    // The help link and the hidden honeypot; the per-recipient parcel link stays as it is.
    expect(links).toHaveLength(2);
    expect(html).toContain('href="https://shop.example/track/P1"');
    expect((await t.app.inject({ method: 'GET', url: pixel as string })).statusCode).toBe(200);
    const redirects = [];
    for (const link of links) {
      const res = await t.app.inject({ method: 'GET', url: link });
      if (res.statusCode === 302) redirects.push(new URL(res.headers.location as string).pathname);
    }
    expect(redirects).toEqual(['/help']);
    await t.container.tracking.flush();
    const hits = await t.container.db
      .selectFrom('tracking_hits')
      .select(['kind', 'campaign_id', 'message_id', 'contact_id', 'link_id', 'classification'])
      .where('message_id', '=', tracked.body.id)
      .execute();
    const mine = { campaign_id: null, message_id: tracked.body.id, contact_id: tracked.body.contact_id };
    // The open, the help link's click, and the honeypot's click (labelled a scanner).
    expect(hits).toHaveLength(3);
    expect(hits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'open', ...mine }),
        expect.objectContaining({ kind: 'click', link_id: expect.any(String), ...mine }),
        expect.objectContaining({ kind: 'click', link_id: null, classification: 'scanner', ...mine }),
      ]),
    );

    const inline = await call('POST', '/v1/messages', {
      to: 'tracked@example.com',
      inline: { subject: 'Hi', html: '<a href="https://shop.example/">Shop</a>' },
      from_email: 'orders@shop.example',
      track: true,
    });
    expect(inline.status).toBe(400);
    expect(inline.body.errors).toEqual([expect.objectContaining({ path: '/track' })]);
  });

  it('sends inline content compiled per request', async () => {
    const res = await call('POST', '/v1/messages', {
      to: 'inline@example.com',
      inline: { subject: 'Code {{ data.code }}', text: 'Your code is {{ data.code }}.' },
      data: { code: '123456' },
      from_email: 'auth@shop.example',
      reply_to: 'help@shop.example',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await t.container.runner.drain();
    const parsed = await simpleParser(received('inline@example.com')[0]?.raw as Buffer);
    expect(parsed.subject).toBe('Code 123456');
    expect(parsed.text?.trim()).toBe('Your code is 123456.');
    expect(parsed.html).toBe(false);
    expect(parsed.replyTo?.text).toBe('help@shop.example');
  });

  it('sends once for a repeated idempotency key and returns the first message (200)', async () => {
    const body = {
      to: 'twice@example.com',
      template_id: templateId,
      data: { order_id: 'B-1', total: '1' },
      from_email: 'orders@shop.example',
      idempotency_key: 'order-B-1',
    };
    const first = await call('POST', '/v1/messages', body);
    const second = await call('POST', '/v1/messages', body);
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    await t.container.runner.drain();
    // The same request after sending still returns the first message; another request with the key is refused.
    const third = await call('POST', '/v1/messages', body);
    expect(third.status).toBe(200);
    expect(third.body).toMatchObject({ id: first.body.id, status: 'sent' });
    const other = await call('POST', '/v1/messages', { ...body, data: { order_id: 'other', total: '2' } });
    expect([other.status, other.body.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
    await t.container.runner.drain();
    expect(received('twice@example.com')).toHaveLength(1);
    expect(await count('messages', "idempotency_key = 'order-B-1'")).toBe(1);
  });

  it('reaches unsubscribed contacts but never bounced ones', async () => {
    for (const [email, status] of [
      ['unsub@example.com', 'unsubscribed'],
      ['bounced@example.com', 'bounced'],
      ['blocked@example.com', 'blocked'],
    ] as const) {
      const created = await call('POST', '/v1/contacts', { email });
      const patched = await call('PATCH', `/v1/contacts/${created.body.id}`, { status });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    }
    const send = (to: string) =>
      call('POST', '/v1/messages', {
        to,
        template_id: templateId,
        data: { order_id: 'C', total: '3' },
        from_email: 'orders@shop.example',
      });
    const unsub = await send('unsub@example.com');
    const bounced = await send('bounced@example.com');
    const blocked = await send('blocked@example.com');
    expect(unsub.status).toBe(202);
    expect(bounced.body).toMatchObject({ status: 'failed', error: 'suppressed' });
    expect(blocked.body).toMatchObject({ status: 'failed', error: 'suppressed' });
    await t.container.runner.drain();
    expect(received('unsub@example.com')).toHaveLength(1);
    expect(received('bounced@example.com')).toHaveLength(0);
    expect(received('blocked@example.com')).toHaveLength(0);
    expect((await call('GET', `/v1/messages/${unsub.body.id}`)).body.status).toBe('sent');
  });

  it('fails a message suppressed after acceptance without sending it', async () => {
    const res = await call('POST', '/v1/messages', {
      to: 'late@example.com',
      inline: { subject: 'Hi', text: 'Hi' },
      from_email: 'orders@shop.example',
    });
    expect(res.status).toBe(202);
    await call('PATCH', `/v1/contacts/${res.body.contact_id}`, { status: 'complained' });
    await t.container.runner.drain();
    expect(received('late@example.com')).toHaveLength(0);
    expect((await call('GET', `/v1/messages/${res.body.id}`)).body).toMatchObject({
      status: 'failed',
      error: 'suppressed',
    });
  });

  it('fails on a permanent refusal and retries a temporary one with backoff', async () => {
    sink.reject.set('gone@example.com', { code: 550, message: '5.1.1 no such user' });
    sink.reject.set('busy@example.com', { code: 451, message: '4.3.0 try later' });
    const gone = await call('POST', '/v1/messages', {
      to: 'gone@example.com',
      inline: { subject: 'Hi', text: 'Hi' },
      from_email: 'orders@shop.example',
    });
    const busy = await call('POST', '/v1/messages', {
      to: 'busy@example.com',
      inline: { subject: 'Hi', text: 'Hi' },
      from_email: 'orders@shop.example',
    });
    await t.container.runner.drain();
    const failed = (await call('GET', `/v1/messages/${gone.body.id}`)).body;
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('no such user');
    expect((await call('GET', `/v1/messages/${busy.body.id}`)).body.status).toBe('queued');

    sink.reject.delete('busy@example.com');
    t.clock.advance(3_600_000);
    await t.container.runner.drain();
    expect((await call('GET', `/v1/messages/${busy.body.id}`)).body.status).toBe('sent');
    expect(received('busy@example.com')).toHaveLength(1);
    expect(received('gone@example.com')).toHaveLength(0);
  });

  it('refuses invalid Liquid with line and column and stores nothing', async () => {
    const before = [await count('messages'), await count('contacts'), await count('jobs')];
    const res = await call('POST', '/v1/messages', {
      to: 'nobody@example.com',
      inline: { subject: 'Hi', html: '<p>Hello</p>\n<p>{% if data.x %}unclosed</p>' },
      from_email: 'orders@shop.example',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.code).toBe('TEMPLATE_INVALID');
    expect(res.body.errors[0]).toMatchObject({ line: expect.any(Number), column: expect.any(Number) });

    const filter = await call('POST', '/v1/messages', {
      to: 'nobody@example.com',
      inline: { subject: 'Hi', text: 'Total: {{ data.total | no_such_filter }}' },
      from_email: 'orders@shop.example',
    });
    expect(filter.status, JSON.stringify(filter.body)).toBe(400);
    expect(filter.body.errors[0]).toMatchObject({ line: 1, column: expect.any(Number) });

    const missing = await call('POST', '/v1/messages', {
      to: 'nobody@example.com',
      template_id: '0190a000-0000-7000-8000-000000000000',
      from_email: 'orders@shop.example',
    });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('TEMPLATE_NOT_FOUND');

    const both = await call('POST', '/v1/messages', {
      to: 'nobody@example.com',
      template_id: templateId,
      inline: { subject: 'x', text: 'x' },
      from_email: 'orders@shop.example',
    });
    expect(both.status).toBe(400);
    expect([await count('messages'), await count('contacts'), await count('jobs')]).toEqual(before);
  });

  it('sends a message accepted before a restart with a fresh runner on the same database', async () => {
    const res = await call('POST', '/v1/messages', {
      to: 'durable@example.com',
      template_id: templateId,
      data: { order_id: 'D-1', total: '4' },
      from_email: 'orders@shop.example',
    });
    expect(res.status).toBe(202);
    // The first process stops without running anything.
    await t.container.runner.stop();

    const restarted = createContainer({
      config: t.config,
      database: t.container.database,
      logger: pino({ level: 'silent' }),
      clock: t.clock,
    });
    try {
      expect(await restarted.runner.drain()).toBe(1);
      await restarted.runner.drain();
    } finally {
      await restarted.runner.stop();
      await restarted.transports.closeAll();
    }
    const got = received('durable@example.com');
    expect(got).toHaveLength(1);
    expect(got[0]?.raw.toString()).toContain('order D-1');
    expect((await call('GET', `/v1/messages/${res.body.id}`)).body.status).toBe('sent');
  });
});
