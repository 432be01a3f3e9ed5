import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReturnPathToken } from '../../src/lib/signed-tokens.js';
import { type CapturedMessage, type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * A sending domain with a dedicated Return-Path domain, through a real SMTP
 * server: campaigns, transactional messages and double opt-in confirmations
 * leave with MAIL FROM b-<token>@<return_path_domain>, their DKIM signatures
 * (d= the sending domain) still verify with an independent verifier, and a
 * bounce addressed to that Return-Path is matched to its message.
 */

let t: TestApp;
let sink: SmtpSink;
const dns = new Map<string, string>();
const resolver = async (name: string, type: string) => {
  const value = dns.get(name.toLowerCase());
  if (type === 'TXT' && value) return [[value]];
  throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
};

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function addDomain(domain: string, returnPathDomain?: string) {
  const res = await call('POST', '/v1/sending-domains', {
    domain,
    algorithm: 'rsa',
    ...(returnPathDomain ? { return_path_domain: returnPathDomain } : {}),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  dns.set(res.body.dns_record.name, res.body.dns_record.value);
  return res.body as { id: string; return_path_domain: string | null };
}

const receivedBy = (to: string) => sink.messages.filter((m) => m.to[0] === to);

async function expectSignedBy(message: CapturedMessage, domain: string) {
  const result = await dkimVerify(message.raw, { resolver, curTime: t.clock.now() });
  expect(result.results).toHaveLength(1);
  expect(result.results[0]?.status.result, result.results[0]?.info).toBe('pass');
  expect(result.results[0]?.signingDomain).toBe(domain);
}

/** The id of the message whose Return-Path this is, from its signed token. */
function messageIdOf(envelopeFrom: string): string | undefined {
  const local = envelopeFrom.split('@')[0] as string;
  return verifyReturnPathToken(t.container.keyring, local.slice(2));
}

/** A DSN as an MTA sends one to the envelope sender: only its To names the Return-Path. */
function dsnTo(returnPath: string, recipient: string): string {
  return [
    'Return-Path: <>',
    'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
    `To: ${returnPath}`,
    'Subject: Undelivered Mail Returned to Sender',
    `Message-Id: <dsn-${recipient}@mx.example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    '',
    '--B',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '',
    '--B',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
    '',
    '--B--',
    '',
  ].join('\r\n');
}

async function bounce(returnPath: string, recipient: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/inbound/raw',
    headers: { ...t.auth(), 'content-type': 'message/rfc822' },
    payload: dsnTo(returnPath, recipient),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().results[0] as Record<string, unknown>;
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 } });
  await addDomain('rp.example', 'bounces.rp.example');
  await addDomain('plain.example');
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('a sending domain with a Return-Path domain', () => {
  it('sends a campaign with MAIL FROM at the Return-Path domain, DKIM-signed by the sending domain', async () => {
    const list = await call('POST', '/v1/lists', { name: 'Readers', opt_in: 'single' });
    const members = ['c1@example.com', 'c2@example.com', 'c3@example.com'];
    await call('POST', `/v1/lists/${list.body.id}/members`, { emails: members });
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News',
      body: '<p>Hello {{ contact.email }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'With a bounce domain',
      from_email: 'news@rp.example',
      template_id: template.body.id,
      lists: [list.body.id],
    });
    const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    await t.container.sender.drain();

    for (const to of members) {
      const [message] = receivedBy(to);
      expect(message, to).toBeDefined();
      expect(message?.from).toMatch(/^b-[a-z2-7]{58}@bounces\.rp\.example$/);
      await expectSignedBy(message as CapturedMessage, 'rp.example');
      expect(message?.raw.toString()).toContain(
        `Message-ID: <${messageIdOf(message?.from as string)}@rp.example>`,
      );
    }
    // A bounce to that Return-Path is the campaign message's.
    const first = receivedBy('c1@example.com')[0] as CapturedMessage;
    const result = await bounce(first.from, 'c1@example.com');
    // Campaign sends are named by their campaign (message_ref is for transactional messages).
    expect(result).toMatchObject({ matched_by: 'verp', campaign_id: campaign.body.id, message_ref: null });
    expect(result.effects).toEqual(['contact_bounced', 'suppressed']);
  });

  it('sends transactional messages from the domain and its subdomains with MAIL FROM at the Return-Path domain, and matches their bounces', async () => {
    for (const [from, to] of [
      ['orders@rp.example', 'buyer@example.com'],
      ['orders@shop.rp.example', 'sub@example.com'],
    ] as const) {
      const res = await call('POST', '/v1/messages', {
        to,
        from_email: from,
        inline: { subject: 'Receipt', text: 'Thanks' },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      await t.container.runner.drain();
      const [message] = receivedBy(to);
      expect(message?.from).toMatch(/^b-[a-z2-7]{58}@bounces\.rp\.example$/);
      expect(messageIdOf(message?.from as string)).toBe(res.body.id);
      await expectSignedBy(message as CapturedMessage, 'rp.example');

      const result = await bounce(message?.from as string, to);
      expect(result).toMatchObject({
        matched_by: 'verp',
        message_ref: res.body.id,
        contact_id: res.body.contact_id,
        effects: ['contact_bounced', 'suppressed'],
      });
    }
  });

  it('sends double opt-in confirmations with MAIL FROM at the Return-Path domain', async () => {
    const list = await call('POST', '/v1/lists', {
      name: 'Confirmed',
      opt_in: 'double',
      confirmation_from_email: 'news@rp.example',
    });
    expect(list.status, JSON.stringify(list.body)).toBe(201);
    await call('POST', `/v1/lists/${list.body.id}/members`, { emails: ['fan@example.com'] });
    await t.container.runner.drain();
    const [message] = receivedBy('fan@example.com');
    expect(message?.from).toMatch(/^b-[a-z2-7]{58}@bounces\.rp\.example$/);
    await expectSignedBy(message as CapturedMessage, 'rp.example');
  });

  it('keeps the Return-Path at the From domain without one, and follows a change at once', async () => {
    const send = async (from: string, to: string) => {
      const res = await call('POST', '/v1/messages', {
        to,
        from_email: from,
        inline: { subject: 'Hi', text: 'Hi' },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      await t.container.runner.drain();
      return receivedBy(to)[0] as CapturedMessage;
    };
    const plain = await send('hello@plain.example', 'plain@example.com');
    expect(plain.from).toMatch(/^b-[a-z2-7]{58}@plain\.example$/);
    await expectSignedBy(plain, 'plain.example');

    const domains = (await call('GET', '/v1/sending-domains')).body.data as { id: string; domain: string }[];
    const rp = domains.find((d) => d.domain === 'rp.example') as { id: string };
    const plainDomain = domains.find((d) => d.domain === 'plain.example') as { id: string };
    await call('PATCH', `/v1/sending-domains/${rp.id}`, { return_path_domain: null });
    await call('PATCH', `/v1/sending-domains/${plainDomain.id}`, {
      return_path_domain: 'bounce.plain.example',
    });
    expect((await send('hello@rp.example', 'cleared@example.com')).from).toMatch(/@rp\.example$/);
    expect((await send('hello@plain.example', 'moved@example.com')).from).toMatch(/@bounce\.plain\.example$/);
  });
});
