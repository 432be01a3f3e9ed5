import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Analytics on real tracking: a campaign sent to a real SMTP server, its
 * pixel and link requested over real HTTP (the tracking module records the
 * hits), a conversion posted with the `hid` of the redirect, and the report
 * read after the rollup.
 */

let t: TestApp;
let sink: SmtpSink;
let origin: string;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

type Method = 'GET' | 'POST';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const local = (url: string) => `${origin}${new URL(url).pathname}`;

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  sink = await startSmtpSink();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await t.addSinkTransport(sink);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('a campaign report from real opens, clicks and a conversion', () => {
  it('counts what the tracking endpoints recorded and attributes the conversion by hid', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Sale',
      format: 'html',
      subject: 'Sale',
      body: '<p>Hi</p><p><a href="https://shop.example/sale">Sale</a></p>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const list = (await call('POST', '/v1/lists', { name: 'Buyers', opt_in: 'single' })).body.id;
    await call('POST', `/v1/lists/${list}/members`, { emails: ['buyer@gmail.com', 'quiet@outlook.com'] });
    const campaign = (
      await call('POST', '/v1/campaigns', {
        name: 'Sale',
        from_email: 'news@shop.example',
        template_id: template.body.id,
        lists: [list],
      })
    ).body.id;
    expect((await call('POST', `/v1/campaigns/${campaign}/send`)).status).toBe(200);
    await t.container.sender.drain();
    const message = sink.messages.find((m) => m.to[0] === 'buyer@gmail.com');
    const html = String((await simpleParser(message?.raw as Buffer)).html || '');
    const pixel = /<img src="(https:\/\/mail\.shop\.example\/o\/[A-Za-z0-9_-]+)"/.exec(html)?.[1];
    const links = [...html.matchAll(/href="(https:\/\/mail\.shop\.example\/c\/[A-Za-z0-9_-]+)"/g)].map(
      (m) => m[1] as string,
    );
    expect(pixel).toBeDefined();
    expect(links).toHaveLength(2);

    t.clock.advance(10 * 60_000);
    expect((await fetch(local(pixel as string), { headers: { 'user-agent': CHROME } })).status).toBe(200);
    t.clock.advance(30_000);
    // The visible link (a hidden honeypot link comes first).
    const click = await fetch(local(links.at(-1) as string), {
      headers: { 'user-agent': CHROME },
      redirect: 'manual',
    });
    expect(click.status).toBe(302);
    const hid = new URL(click.headers.get('location') as string).searchParams.get('hid');
    expect(hid).toEqual(expect.any(String));
    await t.container.tracking.flush();

    t.clock.advance(3_600_000);
    const conversion = await call('POST', '/v1/conversions', {
      click_id: hid,
      revenue: '49.90',
      currency: 'EUR',
      idempotency_key: 'order-1',
    });
    expect(conversion.status, JSON.stringify(conversion.body)).toBe(201);
    expect(conversion.body).toMatchObject({ attribution: 'click_id', campaign_id: campaign, click_id: hid });

    await t.container.analyticsRollup.catchUp();
    const report = await call('GET', `/v1/campaigns/${campaign}/report`);
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({
      sent: 2,
      opens: { total: 1, unique: 1, human: 1, human_unique: 1 },
      clicks: { total: 1, unique: 1, human: 1, human_unique: 1 },
      rates: { open_rate: 0.5, click_rate: 0.5, click_to_open_rate: 1 },
      conversions: { count: 1, revenue: [{ currency: 'EUR', amount: '49.90', conversions: 1 }] },
    });
    expect(report.body.links).toEqual([
      expect.objectContaining({ url: 'https://shop.example/sale', clicks: 1, human_unique: 1 }),
    ]);
    const gmail = report.body.providers.find((p: { provider: string }) => p.provider === 'gmail');
    expect(gmail).toMatchObject({ sent: 1, human_unique_opens: 1, human_unique_clicks: 1 });
    expect(report.body.providers.find((p: { provider: string }) => p.provider === 'outlook')).toMatchObject({
      sent: 1,
      unique_opens: 0,
    });
  });
});
