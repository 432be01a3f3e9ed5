import { sql } from 'kysely';
import { simpleParser } from 'mailparser';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { parseSecretKeys } from '../../src/lib/secret-keys.js';
import { createAddressToken, createReturnPathToken, createToken } from '../../src/lib/signed-tokens.js';
import { createCampaignSender, type SendingPorts } from '../../src/modules/campaigns/index.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The public pages over plain HTTP: RFC 8058 one-click unsubscribe in both
 * form encodings, the confirm-first GET page, the preference center, view in
 * browser, the hosted subscribe form, tokens that must never work, and an
 * unsubscribe (one-click, or mail to the List-Unsubscribe mailto address
 * through POST /v1/inbound/raw) that takes effect in a campaign still sending.
 */

let t: TestApp;
let sink: SmtpSink;
let templateId: string;
let news: string; // public, single opt-in
let offers: string; // public, double opt-in
let internal: string; // private, single opt-in

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function contactByEmail(email: string) {
  const found = (await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`)).body.data[0];
  return found ? (await call('GET', `/v1/contacts/${found.id}`)).body : undefined;
}

async function membership(listId: string, email: string): Promise<string | undefined> {
  const contact = await contactByEmail(email);
  return contact?.lists.find((m: { list_id: string }) => m.list_id === listId)?.status;
}

async function consent(email: string) {
  const contact = await contactByEmail(email);
  return (await call('GET', `/v1/contacts/${contact.id}/consent?limit=1000`)).body.data as {
    action: string;
    list_id: string | null;
    source: string;
    source_id: string | null;
    ip: string | null;
    user_agent: string | null;
    detail: Record<string, unknown> | null;
  }[];
}

async function addContacts(listId: string, emails: string[]) {
  const res = await call('POST', `/v1/lists/${listId}/members`, { emails, status: 'confirmed' });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function sendCampaign(name: string, lists: string[]): Promise<string> {
  const campaign = await call('POST', '/v1/campaigns', {
    name,
    from_email: 'news@shop.example',
    template_id: templateId,
    lists,
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  return campaign.body.id;
}

/** The public links in the last message the sink holds for `to`, as paths. */
async function linksFor(to: string) {
  const message = sink.messages.filter((m) => m.to[0] === to).at(-1);
  expect(message, `no message for ${to}`).toBeDefined();
  const parsed = await simpleParser(message?.raw as Buffer);
  const raw = message?.raw as Buffer;
  const header =
    /^List-Unsubscribe:\s*(.*)$/im.exec(
      raw
        .subarray(0, raw.indexOf('\r\n\r\n'))
        .toString('latin1')
        .replace(/\r\n[ \t]+/g, ' '),
    )?.[1] ?? '';
  const html = String(parsed.html);
  const path = (re: RegExp, text: string) => {
    const match = re.exec(text);
    expect(match, text).not.toBeNull();
    return new URL(match?.[0] as string).pathname;
  };
  return {
    html,
    mailto: /<mailto:(u-[a-z2-7]+@[^>\s]+)>/.exec(header)?.[1] as string,
    unsubscribe: path(/https?:\/\/[^\s>"]+\/u\/[A-Za-z0-9_-]+/, header),
    bodyUnsubscribe: path(/https?:\/\/[^\s>"]+\/u\/[A-Za-z0-9_-]+/, html),
    preferences: path(/https?:\/\/[^\s>"]+\/p\/[A-Za-z0-9_-]+/, html),
    view: path(/https?:\/\/[^\s>"]+\/m\/[A-Za-z0-9_-]+/, html),
  };
}

function expectPageHeaders(res: { headers: Record<string, unknown> }) {
  expect(res.headers['content-type']).toContain('text/html');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'");
  expect(res.headers['set-cookie']).toBeUndefined();
  expect(res.headers.location).toBeUndefined();
}

function multipart(fields: Record<string, string>) {
  const boundary = '----herald-test-boundary';
  const body = Object.entries(fields)
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  return {
    payload: `${body}--${boundary}--\r\n`,
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let mailSerial = 0;
/** What a mail client sends for a List-Unsubscribe mailto link; `headers` as the receiving MTA adds them. */
function unsubscribeMail(to: string, headers: string[] = []): string {
  mailSerial++;
  return [
    ...headers,
    'From: Ann <ann.private@example.net>',
    `To: ${to}`,
    'Subject: unsubscribe',
    `Message-ID: <unsub-${mailSerial}@mail.example.net>`,
    'Date: Wed, 02 Dec 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'This message was automatically generated by Mail to unsubscribe you from this list.',
    '',
  ].join('\r\n');
}

async function pipe(raw: string, key?: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/inbound/raw',
    headers: { ...t.auth(key), 'content-type': 'message/rfc822' },
    payload: raw,
  });
  return { status: res.statusCode, body: res.json() };
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 } });
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News for {{ contact.attributes.first_name | default: "you" }}',
    body:
      '<p>Hello {{ contact.attributes.first_name | default: "there" }} from {{ workspace.name }} in {{ campaign.name }}</p>' +
      '<p><a href="{{ view_in_browser_url }}">View in browser</a> <a href="{{ preferences_url }}">Preferences</a> ' +
      '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
  });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  templateId = template.body.id;
  news = (await call('POST', '/v1/lists', { name: 'Weekly <news>', opt_in: 'single', visibility: 'public' }))
    .body.id;
  offers = (
    await call('POST', '/v1/lists', {
      name: 'Offers',
      description: 'Deals & coupons',
      opt_in: 'double',
      visibility: 'public',
      confirmation_from_email: 'news@shop.example',
    })
  ).body.id;
  internal = (
    await call('POST', '/v1/lists', { name: 'Churn risk', opt_in: 'single', visibility: 'private' })
  ).body.id;
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('one-click unsubscribe (RFC 8058)', () => {
  let campaignId: string;
  beforeAll(async () => {
    await addContacts(news, ['ann@example.com', 'bo@example.com', 'cy@example.com', 'dee@example.com']);
    await addContacts(internal, ['dee@example.com']);
    campaignId = await sendCampaign('Week 1', [news, internal]);
    await t.container.sender.drain();
  });

  it('GET shows a confirm button and the preference center, and changes nothing', async () => {
    const links = await linksFor('ann@example.com');
    expect(links.bodyUnsubscribe).toBe(links.unsubscribe);
    const before = await databaseSnapshot(t.container.database.pool);
    const res = await t.app.inject({ method: 'GET', url: links.unsubscribe });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res);
    expect(res.body).toContain('<form method="post">');
    expect(res.body).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(res.body).toContain('Weekly &#60;news&#62;');
    // The private list is counted, not named.
    expect(res.body).not.toContain('Churn risk');
    expect(res.body).toContain('1 other mailing list');
    expect(res.body).toMatch(/href="http:\/\/[^"]+\/p\/[A-Za-z0-9_-]+"/);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
    expect(await membership(news, 'ann@example.com')).toBe('confirmed');
  });

  it('unsubscribes on a urlencoded POST without cookies or redirect, records consent, and answers 200 to repeats', async () => {
    const links = await linksFor('ann@example.com');
    const res = await t.app.inject({
      method: 'POST',
      url: links.unsubscribe,
      headers: { ...FORM, 'user-agent': 'Mailbox/1.0' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(res.statusCode, res.body).toBe(200);
    expectPageHeaders(res);
    expect(res.body).toContain('You will no longer receive');
    expect(await membership(news, 'ann@example.com')).toBe('unsubscribed');
    const records = (await consent('ann@example.com')).filter((r) => r.action === 'unsubscribe');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      list_id: news,
      source: 'form',
      source_id: campaignId,
      // Stored as the workspace's IP anonymization says (truncate by default).
      ip: '127.0.0.0',
      user_agent: 'Mailbox/1.0',
      detail: { method: 'one-click', campaign_id: campaignId, from: 'confirmed' },
    });
    // The contact stays active: only the campaign's lists were left.
    expect((await contactByEmail('ann@example.com')).status).toBe('active');

    for (let i = 0; i < 2; i++) {
      const again = await t.app.inject({
        method: 'POST',
        url: links.unsubscribe,
        headers: FORM,
        payload: 'List-Unsubscribe=One-Click',
      });
      expect(again.statusCode).toBe(200);
      expectPageHeaders(again);
      expect(again.body).toContain('already unsubscribed');
    }
    expect((await consent('ann@example.com')).filter((r) => r.action === 'unsubscribe')).toHaveLength(1);
  });

  it('unsubscribes on a multipart/form-data POST, and on a POST with no body at all', async () => {
    const links = await linksFor('bo@example.com');
    const body = multipart({ 'List-Unsubscribe': 'One-Click' });
    const res = await t.app.inject({
      method: 'POST',
      url: links.unsubscribe,
      headers: { 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(res.statusCode, res.body).toBe(200);
    expectPageHeaders(res);
    expect(await membership(news, 'bo@example.com')).toBe('unsubscribed');
    const repeat = await t.app.inject({
      method: 'POST',
      url: links.unsubscribe,
      headers: { 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(repeat.statusCode).toBe(200);

    const cy = await linksFor('cy@example.com');
    const bare = await t.app.inject({ method: 'POST', url: cy.unsubscribe });
    expect(bare.statusCode).toBe(200);
    expect(await membership(news, 'cy@example.com')).toBe('unsubscribed');
  });

  it('the page form can opt out of all marketing email', async () => {
    const links = await linksFor('dee@example.com');
    const res = await t.app.inject({
      method: 'POST',
      url: links.unsubscribe,
      headers: FORM,
      payload: 'List-Unsubscribe=One-Click&source=page&scope=all',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('You will no longer receive any marketing email.');
    const dee = await contactByEmail('dee@example.com');
    expect(dee.status).toBe('unsubscribed');
    expect(dee.lists.map((m: { status: string }) => m.status)).toEqual(['unsubscribed', 'unsubscribed']);
    const records = await consent('dee@example.com');
    const unsubscribes = records.filter((r) => r.action === 'unsubscribe');
    expect(unsubscribes.map((r) => r.list_id).sort()).toEqual([internal, news, null].sort());
    for (const r of unsubscribes) {
      expect(r).toMatchObject({ source: 'form', source_id: campaignId });
      expect(r.detail).toMatchObject({ method: 'page', scope: 'all', campaign_id: campaignId });
    }
    expect(records.some((r) => r.action === 'status_change' && r.detail?.to === 'unsubscribed')).toBe(true);
  });

  it('answers 404, never a redirect, to tampered, wrong-kind, foreign and orphaned tokens, and changes nothing', async () => {
    const links = await linksFor('ann@example.com');
    const token = links.unsubscribe.split('/').pop() as string;
    const flipped = `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`;
    const keyring = t.container.keyring;
    const ann = await contactByEmail('ann@example.com');
    const other = await t.createWorkspace('Foreign');
    const foreignContact = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: t.auth(other.adminKey),
      payload: { email: 'foreign@example.com' },
    });
    // A validly signed token pairing this workspace with another workspace's contact (and vice versa).
    const kinds = { '/u/': 'unsubscribe', '/p/': 'preferences', '/m/': 'view' } as const;
    const wrong = { '/u/': 'preferences', '/p/': 'view', '/m/': 'unsubscribe' } as const;
    const before = await databaseSnapshot(t.container.database.pool);
    for (const prefix of ['/u/', '/p/', '/m/'] as const) {
      const kind = kinds[prefix];
      const bad = [
        flipped,
        `${token}x`,
        'not-a-token',
        // Validly signed, but pairing this workspace with another workspace's contact, and the reverse.
        createToken(keyring, kind, {
          workspaceId: t.workspaceId,
          contactId: foreignContact.json().id,
          campaignId,
        }),
        createToken(keyring, kind, { workspaceId: other.workspaceId, contactId: ann.id, campaignId }),
        // Another kind of token for the right contact.
        createToken(keyring, wrong[prefix], { workspaceId: t.workspaceId, contactId: ann.id, campaignId }),
        // A contact that does not exist (erased).
        createToken(keyring, kind, {
          workspaceId: t.workspaceId,
          contactId: '00000000-0000-7000-8000-000000000000',
          campaignId,
        }),
        createToken(
          keyring,
          kind,
          { workspaceId: t.workspaceId, contactId: ann.id, campaignId },
          { expiresAt: new Date(t.clock.now().getTime() - 1000) },
        ),
      ];
      // The control: the same token unexpired works.
      const good = createToken(keyring, kind, { workspaceId: t.workspaceId, contactId: ann.id, campaignId });
      expect((await t.app.inject({ method: 'GET', url: `${prefix}${good}` })).statusCode).toBe(200);
      for (const value of bad) {
        for (const method of ['GET', 'POST'] as const) {
          if (prefix === '/m/' && method === 'POST') continue;
          const res = await t.app.inject({
            method,
            url: `${prefix}${value}`,
            ...(method === 'POST' ? { headers: FORM, payload: 'List-Unsubscribe=One-Click' } : {}),
          });
          expect(res.statusCode, `${method} ${prefix}${value}`).toBe(404);
          expectPageHeaders(res);
          expect(res.body).toContain('not valid');
        }
      }
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });
});

describe('unsubscribe by mail to the List-Unsubscribe mailto address', () => {
  let campaignId: string;
  let mailList: string;
  beforeAll(async () => {
    mailList = (await call('POST', '/v1/lists', { name: 'By mail', opt_in: 'single', visibility: 'public' }))
      .body.id;
    await addContacts(mailList, ['mo@example.com', 'mu@example.com', 'my@example.com']);
    campaignId = await sendCampaign('By mail 1', [mailList]);
    await t.container.sender.drain();
  });

  it('unsubscribes like the one-click POST, records the same consent, and changes nothing on repeats', async () => {
    const { mailto } = await linksFor('mo@example.com');
    expect(mailto).toMatch(/^u-[a-z2-7]{58}@shop\.example$/);
    const res = await pipe(unsubscribeMail(`<${mailto}>`));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const mo = await contactByEmail('mo@example.com');
    expect(res.body).toEqual({
      kind: 'unsubscribe',
      format: 'mailto',
      results: [],
      unsubscribe: {
        outcome: 'unsubscribed',
        scope: 'lists',
        contact_id: mo.id,
        campaign_id: campaignId,
        message_ref: null,
      },
    });
    expect(await membership(mailList, 'mo@example.com')).toBe('unsubscribed');
    expect((await contactByEmail('mo@example.com')).status).toBe('active');
    const records = (await consent('mo@example.com')).filter((r) => r.action === 'unsubscribe');
    expect(records).toEqual([
      expect.objectContaining({
        list_id: mailList,
        source: 'form',
        source_id: campaignId,
        ip: null,
        user_agent: null,
        detail: { method: 'mailto', campaign_id: campaignId, from: 'confirmed' },
      }),
    ]);
    // Nothing was taken for a bounce or a complaint.
    const events = await t.container.database.pool.query('SELECT count(*)::int AS n FROM bounce_events');
    expect(events.rows[0].n).toBe(0);

    // The same request again (a mail client retrying), or another copy with the MTA's headers: no change.
    const before = await databaseSnapshot(t.container.database.pool);
    for (const raw of [
      unsubscribeMail(`<${mailto}>`),
      unsubscribeMail('lists@shop.example', [`Delivered-To: ${mailto.toUpperCase()}`]),
    ]) {
      const again = await pipe(raw);
      expect(again.status).toBe(200);
      expect(again.body.unsubscribe).toMatchObject({ outcome: 'already_unsubscribed', contact_id: mo.id });
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('finds the address in the envelope headers an MTA adds, whatever the visible To says', async () => {
    const { mailto } = await linksFor('mu@example.com');
    for (const header of ['X-Original-To', 'Envelope-To']) {
      const res = await pipe(unsubscribeMail('Newsletter <news@shop.example>', [`${header}: ${mailto}`]));
      expect(res.status, header).toBe(200);
      expect(res.body.unsubscribe.outcome, header).toBe(
        header === 'X-Original-To' ? 'unsubscribed' : 'already_unsubscribed',
      );
    }
    expect(await membership(mailList, 'mu@example.com')).toBe('unsubscribed');
  });

  it('ignores tampered, retired-key, unknown-message and foreign tokens: 200, nothing changes, nothing said', async () => {
    const { mailto } = await linksFor('my@example.com');
    const [local, domain] = mailto.split('@') as [string, string];
    const token = local.slice(2);
    const flipped = `${token.slice(0, 20)}${token[20] === 'a' ? 'b' : 'a'}${token.slice(21)}`;
    const messageId = String(
      (
        await t.container.database.pool.query(
          `SELECT split_part(s.message_id, '@', 1) AS id FROM campaign_sends s JOIN contacts c ON c.id = s.contact_id
           WHERE c.email = 'my@example.com'`,
        )
      ).rows[0].id,
    );
    const retired = parseSecretKeys(Buffer.alloc(32, 9).toString('base64'));
    const other = await t.createWorkspace('Foreign mail');
    const before = await databaseSnapshot(t.container.database.pool);
    const ignored = [
      { to: `u-${flipped}@${domain}` },
      { to: `u-${token.slice(0, 57)}@${domain}` },
      // Signed with a key this Herald no longer (or never) had.
      { to: `u-${createAddressToken(retired, 'unsubscribe', messageId)}@${domain}` },
      // Validly signed, for a message that was never sent.
      { to: `u-${createAddressToken(t.container.keyring, 'unsubscribe', uuidv7())}@${domain}` },
      // The VERP token of the same message is no unsubscribe token.
      { to: `u-${createReturnPathToken(t.container.keyring, messageId)}@${domain}` },
      // The right address, piped into another workspace.
      { to: mailto, key: other.adminKey },
    ];
    for (const { to, key } of ignored) {
      const res = await pipe(unsubscribeMail(to), key);
      expect(res.status, to).toBe(200);
      expect(res.body, to).toEqual({
        kind: 'unsubscribe',
        format: 'mailto',
        results: [],
        unsubscribe: {
          outcome: 'ignored',
          scope: null,
          contact_id: null,
          campaign_id: null,
          message_ref: null,
        },
      });
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
    expect(await membership(mailList, 'my@example.com')).toBe('confirmed');

    // A bounce quoting the email (its List-Unsubscribe and To in the embedded headers) is a bounce, not a request.
    const verp = `b-${createReturnPathToken(t.container.keyring, messageId)}@${domain}`;
    const dsn = [
      'From: MAILER-DAEMON@mx.example.org',
      `To: ${verp}`,
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
      '',
      '--B',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.org',
      '',
      'Final-Recipient: rfc822; my@example.com',
      'Action: failed',
      'Status: 4.2.2',
      'Diagnostic-Code: smtp; 452 4.2.2 Mailbox full',
      '',
      '--B',
      'Content-Type: text/rfc822-headers',
      '',
      `To: ${mailto}`,
      `List-Unsubscribe: <mailto:${mailto}>`,
      '',
      '--B--',
      '',
    ].join('\r\n');
    const bounced = await pipe(dsn);
    expect(bounced.status, JSON.stringify(bounced.body)).toBe(200);
    expect(bounced.body).toMatchObject({
      kind: 'bounce',
      results: [{ matched_by: 'verp', severity: 'soft' }],
    });
    expect(bounced.body.unsubscribe).toBeUndefined();
    expect(await membership(mailList, 'my@example.com')).toBe('confirmed');
  });
});

describe('preference center', () => {
  beforeAll(async () => {
    await addContacts(news, ['eve@example.com']);
    await addContacts(internal, ['eve@example.com']);
    await sendCampaign('Week 2', [news]);
    await t.container.sender.drain();
  });

  it('shows the public lists with the contact status, never private ones', async () => {
    const links = await linksFor('eve@example.com');
    const res = await t.app.inject({ method: 'GET', url: links.preferences });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res);
    expect(res.body).toContain('eve@example.com');
    expect(res.body).toMatch(new RegExp(`value="${news}" checked`));
    expect(res.body).toMatch(new RegExp(`value="${offers}">`));
    expect(res.body).toContain('Deals &#38; coupons');
    expect(res.body).not.toContain('Churn risk');
    expect(res.body).not.toContain(internal);
    expect(res.body).toMatch(/name="nonce" value="[A-Za-z0-9_-]{22}"/);
  });

  it('refuses a POST without the page nonce and changes nothing', async () => {
    const links = await linksFor('eve@example.com');
    const before = await databaseSnapshot(t.container.database.pool);
    for (const payload of [
      `list=${offers}&action=save`,
      `nonce=AAAAAAAAAAAAAAAAAAAAAA&action=unsubscribe_all`,
    ]) {
      const res = await t.app.inject({ method: 'POST', url: links.preferences, headers: FORM, payload });
      expect(res.statusCode).toBe(403);
      expectPageHeaders(res);
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('subscribes and unsubscribes per list, ignores lists it does not offer, and records every change', async () => {
    const links = await linksFor('eve@example.com');
    const page = await t.app.inject({ method: 'GET', url: links.preferences });
    const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)?.[1] as string;
    const res = await t.app.inject({
      method: 'POST',
      url: links.preferences,
      headers: { ...FORM, 'user-agent': 'Browser/2' },
      payload: new URLSearchParams([
        ['nonce', nonce],
        ['list', offers],
        ['list', internal],
        ['list', '00000000-0000-7000-8000-000000000000'],
        ['action', 'save'],
      ]).toString(),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('Your preferences are saved.');
    expect(res.body).toMatch(new RegExp(`value="${offers}" checked`));
    // A double opt-in list chosen from the signed link is confirmed: the link came to this mailbox.
    expect(await membership(offers, 'eve@example.com')).toBe('confirmed');
    expect(await membership(news, 'eve@example.com')).toBe('unsubscribed');
    // Private lists are not the preference center's to change.
    expect(await membership(internal, 'eve@example.com')).toBe('confirmed');
    const records = (await consent('eve@example.com')).filter((r) => r.source === 'form');
    expect(records.map((r) => `${r.action}:${r.list_id === offers ? 'offers' : 'news'}`).sort()).toEqual([
      'confirm:offers',
      'subscribe:offers',
      'unsubscribe:news',
    ]);
    for (const r of records) {
      expect(r).toMatchObject({ ip: '127.0.0.0', user_agent: 'Browser/2' });
      expect(r.detail).toMatchObject({ method: 'preferences' });
    }
    expect(records.find((r) => r.action === 'confirm')?.detail).toMatchObject({ reason: 'signed_link' });
    // No confirmation email for a list confirmed this way.
    await t.container.runner.drain();
    expect(sink.messages.filter((m) => m.to[0] === 'eve@example.com')).toHaveLength(1);
  });

  it('unsubscribes from everything, and a later choice re-activates the contact', async () => {
    const links = await linksFor('eve@example.com');
    const nonceOf = async () =>
      /name="nonce" value="([^"]+)"/.exec(
        (await t.app.inject({ method: 'GET', url: links.preferences })).body,
      )?.[1];
    const all = await t.app.inject({
      method: 'POST',
      url: links.preferences,
      headers: FORM,
      payload: `nonce=${await nonceOf()}&action=unsubscribe_all`,
    });
    expect(all.statusCode).toBe(200);
    expect(all.body).toContain('You are unsubscribed from all marketing email.');
    const eve = await contactByEmail('eve@example.com');
    expect(eve.status).toBe('unsubscribed');
    expect(eve.lists.every((m: { status: string }) => m.status === 'unsubscribed')).toBe(true);

    const back = await t.app.inject({
      method: 'POST',
      url: links.preferences,
      headers: FORM,
      payload: `nonce=${await nonceOf()}&list=${news}&action=save`,
    });
    expect(back.statusCode).toBe(200);
    expect((await contactByEmail('eve@example.com')).status).toBe('active');
    expect(await membership(news, 'eve@example.com')).toBe('confirmed');
    expect(await membership(internal, 'eve@example.com')).toBe('unsubscribed');
  });

  it('records a do-not-track choice as tracking consent, not as an unsubscribe', async () => {
    const links = await linksFor('eve@example.com');
    const page = await t.app.inject({ method: 'GET', url: links.preferences });
    expect(page.body).toMatch(/name="no_tracking" value="1">/);
    const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)?.[1] as string;
    const unsubscribesBefore = (await consent('eve@example.com')).filter(
      (r) => r.action === 'unsubscribe',
    ).length;
    const res = await t.app.inject({
      method: 'POST',
      url: links.preferences,
      headers: FORM,
      payload: `nonce=${nonce}&list=${news}&tracking=1&no_tracking=1&action=save`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/name="no_tracking" value="1" checked>/);
    const eve = await contactByEmail('eve@example.com');
    expect(eve.tracking_consent).toBe(false);
    expect(eve.status).toBe('active');
    const records = await consent('eve@example.com');
    const tracking = records.filter((r) => (r as { purpose?: string }).purpose === 'tracking');
    expect(tracking).toHaveLength(1);
    expect(tracking[0]).toMatchObject({ action: 'status_change', detail: { from: true, to: false } });
    expect(records.filter((r) => r.action === 'unsubscribe')).toHaveLength(unsubscribesBefore);
    // Saving again with the box still ticked changes nothing.
    await t.app.inject({
      method: 'POST',
      url: links.preferences,
      headers: FORM,
      payload: `nonce=${nonce}&list=${news}&tracking=1&no_tracking=1&action=save`,
    });
    expect((await consent('eve@example.com')).length).toBe(records.length);
  });

  it('does not accept a nonce from two days ago', async () => {
    const links = await linksFor('eve@example.com');
    const page = await t.app.inject({ method: 'GET', url: links.preferences });
    const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)?.[1] as string;
    t.clock.advance(49 * 3_600_000);
    const res = await t.app.inject({
      method: 'POST',
      url: links.preferences,
      headers: FORM,
      payload: `nonce=${nonce}&action=unsubscribe_all`,
    });
    expect(res.statusCode).toBe(403);
    expect((await contactByEmail('eve@example.com')).status).toBe('active');
  });
});

describe('view in browser', () => {
  it('renders the campaign as the contact received it, and 404 once the contact is erased', async () => {
    await addContacts(news, ['fay@example.com']);
    await t.container.db
      .updateTable('contacts')
      .set({ attributes: JSON.stringify({ first_name: 'Fay' }) })
      .where('email', '=', 'fay@example.com')
      .execute();
    await sendCampaign('Week 3', [news]);
    await t.container.sender.drain();
    const links = await linksFor('fay@example.com');
    const res = await t.app.inject({ method: 'GET', url: links.view });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(String(res.headers['content-security-policy'])).not.toContain('script-src');
    expect(res.body).toContain('Hello Fay from');
    expect(res.body).toContain('in Week 3');
    // The same links as in the email.
    for (const path of [links.preferences, links.view, links.bodyUnsubscribe])
      expect(res.body).toContain(path);

    // A template deleted after sending: its versions stay, and so does the page.
    const other = await call('POST', '/v1/templates', {
      name: 'One-off',
      format: 'html',
      subject: 'One-off',
      body: '<p>One-off for {{ contact.email }}</p>',
    });
    const oneOff = await call('POST', '/v1/campaigns', {
      name: 'One-off',
      from_email: 'news@shop.example',
      template_id: other.body.id,
      lists: [news],
    });
    await call('POST', `/v1/campaigns/${oneOff.body.id}/send`);
    await t.container.sender.drain();
    const viewToken = createToken(t.container.keyring, 'view', {
      workspaceId: t.workspaceId,
      contactId: (await contactByEmail('fay@example.com')).id,
      campaignId: oneOff.body.id,
    });
    // (Its template has no view link: the token is the one the email would carry.)
    expect((await call('DELETE', `/v1/templates/${other.body.id}`)).status).toBe(204);
    const archived = await t.app.inject({ method: 'GET', url: `/m/${viewToken}` });
    expect(archived.statusCode).toBe(200);
    expect(archived.body).toContain('One-off for fay@example.com');

    const fay = await contactByEmail('fay@example.com');
    expect((await call('DELETE', `/v1/contacts/${fay.id}`)).status).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: links.view })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: links.preferences })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: links.unsubscribe })).statusCode).toBe(404);
  });
});

describe('hosted subscribe form', () => {
  const ua = { 'user-agent': 'FormBrowser/3' };

  it('is served for public lists only', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/f/${news}` });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res);
    expect(res.body).toContain('Subscribe to Weekly &#60;news&#62;');
    expect(res.body).toContain('name="website"');
    for (const url of [
      `/f/${internal}`,
      '/f/00000000-0000-7000-8000-000000000000',
      '/f/nope',
      '/f/%3Cx%3E',
    ]) {
      for (const method of ['GET', 'POST'] as const) {
        const r = await t.app.inject({ method, url, headers: FORM, payload: 'email=x%40example.com' });
        expect(r.statusCode, `${method} ${url}`).toBe(404);
        expect(r.headers['content-type']).toContain('text/html');
      }
    }
    expect(await contactByEmail('x@example.com')).toBeUndefined();
  });

  it('subscribes a new address to a single opt-in list at once, with the consent text and its hash', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: { ...FORM, ...ua },
      payload: 'email=Gil%40Example.com&first_name=Gil&website=',
    });
    expect(res.statusCode, res.body).toBe(200);
    expectPageHeaders(res);
    expect(await membership(news, 'Gil@example.com')).toBe('confirmed');
    const gil = await contactByEmail('Gil@example.com');
    expect(gil.attributes).toEqual({ first_name: 'Gil' });
    const records = await consent('Gil@example.com');
    const subscribe = records.find((r) => r.action === 'subscribe');
    expect(subscribe).toMatchObject({ source: 'form', ip: '127.0.0.0', user_agent: 'FormBrowser/3' });
    expect(subscribe?.detail?.consent_text).toContain('Weekly <news>');
    expect(subscribe?.detail?.consent_text_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(records.find((r) => r.action === 'confirm')?.detail).toMatchObject({ reason: 'single_opt_in' });
  });

  it('answers a known address exactly like a new one and changes nothing that is known about it', async () => {
    const fresh = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: FORM,
      payload: 'email=hal%40example.com',
    });
    const known = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: FORM,
      payload: 'email=gil%40example.com&first_name=Mallory',
    });
    expect(known.statusCode).toBe(fresh.statusCode);
    expect(known.body).toBe(fresh.body);
    expect((await contactByEmail('gil@example.com')).attributes).toEqual({ first_name: 'Gil' });
    // Unsubscribed from a single opt-in list: a form anyone can fill does not re-subscribe.
    const again = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: FORM,
      payload: 'email=ann%40example.com',
    });
    expect(again.body).toBe(fresh.body);
    expect(await membership(news, 'ann@example.com')).toBe('unsubscribed');
  });

  it('sends the confirmation email for a double opt-in list and says to check the inbox', async () => {
    const body = multipart({ email: 'ida@example.com', first_name: '' });
    const res = await t.app.inject({
      method: 'POST',
      url: `/f/${offers}`,
      headers: { 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('Check your inbox');
    expect(await membership(offers, 'ida@example.com')).toBe('unconfirmed');
    await t.container.runner.drain();
    const mail = sink.messages.filter((m) => m.to[0] === 'ida@example.com');
    expect(mail).toHaveLength(1);
    expect(mail[0]?.raw.toString()).toMatch(/\/confirm\/[A-Za-z0-9_-]+/);
  });

  it('drops honeypot submissions, re-shows the form for a bad address, and refuses JSON bodies as empty forms', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const bot = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: FORM,
      payload: 'email=bot%40example.com&website=http%3A%2F%2Fspam.example',
    });
    expect(bot.statusCode).toBe(200);
    expect(bot.body).toContain('Thank you');
    const bad = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: FORM,
      payload: 'email=%3Cscript%3E&first_name=%3Cb%3E',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('Please check your email address.');
    expect(bad.body).toContain('value="&#60;script&#62;"');
    expect(bad.body).not.toContain('<script>');
    const json = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'json@example.com' }),
    });
    expect(json.statusCode).toBe(400);
    expect(json.body).toContain('Please enter your email address.');
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('limits submissions per IP address, and the limit resets after an hour', async () => {
    let limited = 0;
    for (let i = 0; i < 25; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/f/${news}`,
        headers: FORM,
        payload: `email=flood-${i}%40example.com`,
      });
      if (res.statusCode === 429) {
        limited += 1;
        expect(res.headers['content-type']).toContain('text/html');
      } else expect(res.statusCode).toBe(200);
    }
    expect(limited).toBeGreaterThan(0);
    expect(limited).toBeLessThan(25);
    t.clock.advance(3_600_000);
    const later = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: FORM,
      payload: 'email=later%40example.com',
    });
    expect(later.statusCode).toBe(200);
  });
});

describe('languages', () => {
  it("speaks the contact's language behind signed links and the browser's on the form", async () => {
    await addContacts(news, ['jorg@example.com']);
    const jorg = await contactByEmail('jorg@example.com');
    await call('PATCH', `/v1/contacts/${jorg.id}`, { locale: 'de-AT' });
    await sendCampaign('Woche 1', [news]);
    await t.container.sender.drain();
    const links = await linksFor('jorg@example.com');
    const prefs = await t.app.inject({
      method: 'GET',
      url: links.preferences,
      headers: { 'accept-language': 'en' },
    });
    expect(prefs.body).toContain('<html lang="de">');
    expect(prefs.body).toContain('Ihre E-Mail-Einstellungen');
    const unsubscribe = await t.app.inject({ method: 'GET', url: links.unsubscribe });
    expect(unsubscribe.body).toContain('Allen Werbe-E-Mails');
    const done = await t.app.inject({ method: 'POST', url: links.unsubscribe });
    expect(done.body).toContain(
      'Sie erhalten keine E-Mails von <strong>Weekly &#60;news&#62;</strong> mehr.',
    );

    const de = { 'accept-language': 'fr-FR, de;q=0.8, en;q=0.5' };
    const form = await t.app.inject({ method: 'GET', url: `/f/${news}`, headers: de });
    expect(form.body).toContain('E-Mail-Adresse');
    const posted = await t.app.inject({
      method: 'POST',
      url: `/f/${news}`,
      headers: { ...FORM, ...de },
      payload: 'email=kai%40example.com',
    });
    expect(posted.body).toContain('Vielen Dank');
    const subscribe = (await consent('kai@example.com')).find((r) => r.action === 'subscribe');
    expect(subscribe?.detail).toMatchObject({ language: 'de' });
    expect(subscribe?.detail?.consent_text).toContain('Ich möchte die E-Mails „Weekly <news>“');
    const english = await t.app.inject({ method: 'GET', url: '/p/not-a-token' });
    expect(english.body).toContain('Link not valid');
    const german404 = await t.app.inject({ method: 'GET', url: '/p/not-a-token', headers: de });
    expect(german404.body).toContain('Link ungültig');
  });
});

describe('an unsubscribe during a running campaign', () => {
  it.each(['one-click', 'mailto'] as const)('(%s) stops every later send to that contact', async (way) => {
    const list = (await call('POST', '/v1/lists', { name: `Running ${way}`, opt_in: 'single' })).body.id;
    const emails = Array.from({ length: 20 }, (_, i) => `run-${way}-${i}@example.com`);
    await addContacts(list, emails);
    // Campaign 1 reaches everyone; its unsubscribe link is what the person clicks later.
    await sendCampaign('Running 1', [list]);
    await t.container.sender.drain();
    // The contact claimed last (claims go in contact id order).
    const last = (
      await sql<{ id: string; email: string }>`
        SELECT c.id, c.email FROM contacts c JOIN list_memberships m ON m.contact_id = c.id
        WHERE m.list_id = ${list} ORDER BY c.id DESC LIMIT 1`.execute(t.container.db)
    ).rows[0] as { id: string; email: string };
    const links = await linksFor(last.email);

    const campaign2 = await sendCampaign('Running 2', [list]);
    const progress = (await call('GET', `/v1/campaigns/${campaign2}`)).body.progress;
    expect(progress.to_send).toBe(20);
    let sends = 0;
    let clicked = false;
    const ports: SendingPorts = {
      ...t.container.sendingPorts,
      async prepare(campaign, lists) {
        const prepared = await t.container.sendingPorts.prepare(campaign, lists);
        return {
          ...prepared,
          async send(message) {
            const result = await prepared.send(message);
            sends += 1;
            if (sends === 1) {
              // The person clicks "unsubscribe" in the mail client while the first batch is out: it
              // posts to the HTTPS link, or (older clients) sends a mail to the mailto address.
              if (way === 'one-click') {
                const res = await t.app.inject({
                  method: 'POST',
                  url: links.unsubscribe,
                  headers: FORM,
                  payload: 'List-Unsubscribe=One-Click',
                });
                expect(res.statusCode).toBe(200);
              } else {
                const res = await pipe(unsubscribeMail(links.mailto));
                expect(res.body.unsubscribe?.outcome).toBe('unsubscribed');
              }
              clicked = true;
            }
            return result;
          },
        };
      },
    };
    const sender = createCampaignSender({
      db: t.container.db,
      clock: t.clock,
      logger: pino({ level: 'silent' }),
      campaigns: t.container.campaigns,
      ports,
      workerId: 'small-batches',
      batchSize: 5,
      lanes: 1,
    });
    const before = sink.messages.length;
    await sender.drain();
    expect(clicked).toBe(true);
    const received = sink.messages.slice(before).map((m) => m.to[0]);
    expect(received).toHaveLength(19);
    expect(received).not.toContain(last.email);
    const rows = await t.container.db
      .selectFrom('campaign_sends')
      .select('contact_id')
      .where('campaign_id', '=', campaign2)
      .execute();
    expect(rows.map((r) => r.contact_id)).not.toContain(last.id);
    expect((await call('GET', `/v1/campaigns/${campaign2}`)).body.status).toBe('sent');
  });
});

describe('form limits from the configuration', () => {
  it('honours HERALD_FORM_RATE_LIMIT_PER_IP_PER_HOUR and _PER_ADDRESS_PER_HOUR', async () => {
    const app = await createTestApp({
      HERALD_FORM_RATE_LIMIT_PER_IP_PER_HOUR: '3',
      HERALD_FORM_RATE_LIMIT_PER_ADDRESS_PER_HOUR: '1',
    });
    try {
      const list = await app.app.inject({
        method: 'POST',
        url: '/v1/lists',
        headers: app.auth(),
        payload: { name: 'Open', opt_in: 'single', visibility: 'public' },
      });
      const submit = (email: string) =>
        app.app.inject({
          method: 'POST',
          url: `/f/${list.json().id}`,
          headers: FORM,
          payload: `email=${encodeURIComponent(email)}`,
        });
      // Per address: the second submission of one address is accepted but changes nothing.
      expect((await submit('one@example.com')).statusCode).toBe(200);
      const before = await databaseSnapshot(app.container.database.pool);
      expect((await submit('one@example.com')).statusCode).toBe(200);
      expect(await databaseSnapshot(app.container.database.pool)).toBe(before);
      // Per IP: the fourth submission from the address is refused.
      expect((await submit('three@example.com')).statusCode).toBe(200);
      expect((await submit('four@example.com')).statusCode).toBe(429);
    } finally {
      await app.close();
    }
  });
});
