import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Tracking end to end: a campaign is sent through a real SMTP server, the
 * pixel and a link are taken from a captured message and requested over real
 * HTTP, and the hits land in tracking_hits; the redirect carries the UTM
 * parameters and the click id.
 */

let t: TestApp;
let sink: SmtpSink;
let origin: string;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

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

/** The message's HTML and text parts, decoded. */
async function partsOf(raw: Buffer) {
  const parsed = await simpleParser(raw);
  return { html: String(parsed.html || ''), text: parsed.text ?? '' };
}

/**
 * Sends a campaign of one HTML template to a new list of `emails` through
 * the sink and waits until the sender is done.
 */
async function sendCampaign(name: string, body: string, emails: string[], settings: object = {}) {
  sink.messages.length = 0;
  const template = await call('POST', '/v1/templates', { name, format: 'html', subject: name, body });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  const list = (await call('POST', '/v1/lists', { name, opt_in: 'single' })).body.id;
  await call('POST', `/v1/lists/${list}/members`, { emails });
  const campaign = await call('POST', '/v1/campaigns', {
    name,
    from_email: 'news@shop.example',
    template_id: template.body.id,
    lists: [list],
    ...settings,
  });
  expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
  await t.container.sender.drain();
  return { campaignId: campaign.body.id as string, versionId: template.body.version.id as string };
}

/** The request path of a tracked URL, served from the test server instead of the public URL. */
const local = (url: string) => `${origin}${new URL(url).pathname}`;

describe('a sent campaign’s tracking', () => {
  it('carries a pixel and tracked links that record hits and redirect with UTM parameters and hid', async () => {
    const template = await call('POST', '/v1/templates', {
      name: 'Spring',
      format: 'html',
      subject: 'Spring sale',
      body: '<p>Hi {{ contact.email }}</p><p><a href="https://shop.example/sale?x=1">Sale</a></p><p><a href="https://shop.example/account" data-herald-notrack>Account</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const list = (await call('POST', '/v1/lists', { name: 'Spring', opt_in: 'single' })).body.id;
    const reader = (await call('POST', '/v1/contacts', { email: 'reader@example.com' })).body.id;
    const private_ = (
      await call('POST', '/v1/contacts', { email: 'private@example.com', tracking_consent: false })
    ).body.id;
    await call('POST', `/v1/lists/${list}/members`, { contact_ids: [reader, private_] });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Spring',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list],
      utm_source: 'herald',
      utm_campaign: 'spring',
    });
    expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).status).toBe(200);
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(2);

    const message = sink.messages.find((m) => m.to[0] === 'reader@example.com');
    const { html, text } = await partsOf(message?.raw as Buffer);
    const pixel = /<img src="(https:\/\/mail\.shop\.example\/o\/[A-Za-z0-9_-]+)" width="1" height="1"/.exec(
      html,
    )?.[1];
    const links = [...html.matchAll(/href="(https:\/\/mail\.shop\.example\/c\/[A-Za-z0-9_-]+)"/g)].map(
      (m) => m[1] as string,
    );
    expect(pixel).toBeDefined();
    expect(links).toHaveLength(2); // the hidden honeypot link and the sale link
    expect(html).toContain('href="https://shop.example/account"');
    expect(html).not.toContain('data-herald-notrack');
    expect(html).toMatch(/href="https:\/\/mail\.shop\.example\/u\//); // unsubscribe stays as it is
    expect(text).toContain(links[1]);
    expect(text).not.toContain('https://shop.example/sale');

    const other = await partsOf(sink.messages.find((m) => m.to[0] === 'private@example.com')?.raw as Buffer);
    expect(other.html).not.toContain('mail.shop.example/o/');
    expect(other.html).not.toContain('mail.shop.example/c/');
    expect(other.html).toContain('href="https://shop.example/sale?x=1"');

    t.clock.advance(10 * 60_000);
    const open = await fetch(local(pixel as string), { headers: { 'user-agent': CHROME } });
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toBe('image/gif');
    expect((await open.arrayBuffer()).byteLength).toBe(43);

    t.clock.advance(30_000);
    const click = await fetch(local(links[1] as string), {
      headers: { 'user-agent': CHROME },
      redirect: 'manual',
    });
    expect(click.status).toBe(302);
    const location = new URL(click.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example/sale');
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      x: '1',
      utm_source: 'herald',
      utm_campaign: 'spring',
      hid: expect.any(String),
    });

    await t.container.tracking.flush();
    const send = await t.container.db
      .selectFrom('campaign_sends')
      .select('message_id')
      .where('contact_id', '=', reader)
      .executeTakeFirstOrThrow();
    const hits = await t.container.db
      .selectFrom('tracking_hits')
      .selectAll()
      .where('campaign_id', '=', campaign.body.id)
      .orderBy('id')
      .execute();
    expect(hits).toMatchObject([
      { kind: 'open', contact_id: reader, link_id: null, classification: 'human', ip: '127.0.0.0' },
      { kind: 'click', contact_id: reader, id: location.searchParams.get('hid'), classification: 'human' },
    ]);
    expect(hits.every((h) => h.message_id === send.message_id.split('@')[0])).toBe(true);
    const link = await t.container.db
      .selectFrom('template_links')
      .select('url')
      .where('id', '=', hits[1]?.link_id as string)
      .executeTakeFirstOrThrow();
    expect(link.url).toBe('https://shop.example/sale?x=1');
  });

  it('labels a click within seconds of delivery a scanner’s, before and after the campaign finished sending', async () => {
    const emails = ['fast@example.com', 'edge@example.com', 'later@example.com', 'again@example.com'];
    const { campaignId } = await sendCampaign(
      'Timing',
      '<p><a href="https://shop.example/timing">Timing</a></p>',
      emails,
    );
    expect((await call('GET', `/v1/campaigns/${campaignId}`)).body.status).toBe('sent');
    const linkOf = async (email: string) => {
      const raw = sink.messages.find((m) => m.to[0] === email)?.raw as Buffer;
      const { html } = await partsOf(raw);
      const links = [...html.matchAll(/href="(https:\/\/mail\.shop\.example\/c\/[A-Za-z0-9_-]+)"/g)];
      return new URL(links.at(-1)?.[1] as string).pathname;
    };
    const click = async (email: string) => {
      const res = await t.app.inject({
        method: 'GET',
        url: await linkOf(email),
        headers: { 'user-agent': CHROME },
      });
      expect(res.statusCode).toBe(302);
      await t.container.tracking.flush();
    };

    // Delivered and finished at the same moment; the window is ten seconds.
    t.clock.advance(3_000);
    await click('fast@example.com');
    t.clock.advance(6_000);
    await click('edge@example.com');
    t.clock.advance(2_000);
    await click('later@example.com');
    t.clock.advance(60 * 60_000);
    await click('again@example.com');
    await click('fast@example.com');

    const rows = await t.container.db
      .selectFrom('tracking_hits as h')
      .innerJoin('contacts as c', 'c.id', 'h.contact_id')
      .select(['c.email', 'h.classification', 'h.reason'])
      .where('h.campaign_id', '=', campaignId)
      .orderBy('h.id')
      .execute();
    expect(rows).toEqual([
      { email: 'fast@example.com', classification: 'scanner', reason: 'too-fast' },
      { email: 'edge@example.com', classification: 'scanner', reason: 'too-fast' },
      { email: 'later@example.com', classification: 'human', reason: null },
      { email: 'again@example.com', classification: 'human', reason: null },
      { email: 'fast@example.com', classification: 'human', reason: null },
    ]);
  });

  it('sends untracked messages when the campaign turns tracking off', async () => {
    await sendCampaign(
      'Plain',
      '<p><a href="https://shop.example/plain">Plain</a></p>',
      ['plain@example.com'],
      {
        track_opens: false,
        track_clicks: false,
      },
    );
    const { html } = await partsOf(sink.messages[0]?.raw as Buffer);
    expect(html).toContain('href="https://shop.example/plain"');
    expect(html).not.toContain('mail.shop.example/o/');
    expect(html).not.toContain('mail.shop.example/c/');
  });

  it('tracks the links of snippets the template renders, in both parts', async () => {
    sink.messages.length = 0;
    const snippet = await call('POST', '/v1/snippets', {
      name: 'footer',
      source:
        '<p><a href="https://shop.example/stores">Find a store</a> <img src="https://cdn.shop.example/logo.png" alt=""></p>',
    });
    expect(snippet.status, JSON.stringify(snippet.body)).toBe(201);
    const { versionId } = await sendCampaign(
      'With footer',
      '<p><a href="https://shop.example/new">New</a></p>{% render \'footer\' %}',
      ['footer@example.com'],
    );
    const { html, text } = await partsOf(sink.messages[0]?.raw as Buffer);
    expect(html).not.toContain('href="https://shop.example/stores"');
    expect(html).not.toContain('href="https://shop.example/new"');
    expect(text).not.toContain('https://shop.example/stores');
    expect(html).toContain('src="https://cdn.shop.example/logo.png"');

    const tracked = [...html.matchAll(/href="(https:\/\/mail\.shop\.example\/c\/[A-Za-z0-9_-]+)"/g)].map(
      (m) => m[1] as string,
    );
    const destinations = [];
    for (const url of tracked) {
      const res = await fetch(local(url), { headers: { 'user-agent': CHROME }, redirect: 'manual' });
      if (res.status === 302) destinations.push(new URL(res.headers.get('location') as string).pathname);
    }
    expect(destinations.sort()).toEqual(['/new', '/stores']);
    const registered = await t.container.db
      .selectFrom('template_links')
      .select('url')
      .where('template_version_id', '=', versionId)
      .execute();
    expect(registered.map((r) => r.url).sort()).toEqual([
      'https://shop.example/new',
      'https://shop.example/stores',
    ]);
  });
});
