import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretKeys } from '../../src/lib/secret-keys.js';
import { createReturnPathToken } from '../../src/lib/signed-tokens.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';

/**
 * The right of access and the right to erasure, end to end: a person who
 * went through everything Herald does (attributes, lists and consent, events
 * with an anonymous id, a campaign sent through a real SMTP server with an
 * open and a click on the real tracking endpoints, a conversion, a
 * transactional message, an automation email, a hard bounce through the raw
 * inbound endpoint) is exported, then erased; afterwards no text, JSON or
 * binary column of any table holds their address or attribute values, no
 * uuid column their contact id, and the address cannot come back through
 * the API, a list, an identify call or a CSV import.
 */

let t: TestApp;
let sink: SmtpSink;
let origin: string;
const keyring = parseSecretKeys(TEST_SECRET_KEY);

const EMAIL = 'Erin.Erasable@Example.ORG';
const EMAIL_KEY = 'erin.erasable@example.org';
const FIRST_NAME = 'Zebulonius';
const CITY = 'Quixoticaville';
const USER_ID = 'user-erin-77';
const ANONYMOUS_ID = 'anon-erin-5150';
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function ok(method: Method, url: string, payload?: object) {
  const res = await call(method, url, payload);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

async function importCsv(csv: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/imports?mode=upsert',
    headers: { ...t.auth(), 'content-type': 'text/csv' },
    payload: csv,
  });
  expect(res.statusCode, res.body).toBe(202);
  await t.container.runner.drain();
  return ok('GET', `/v1/imports/${res.json().id}`);
}

/** Runs everything due: automation runs, then the message jobs they queued. */
async function settle() {
  for (let i = 0; i < 5; i++) {
    const steps = await t.container.automationEngine.drain();
    const jobs = await t.container.runner.drain();
    if (steps === 0 && jobs === 0) return;
  }
}

/** The request path of a tracked URL, served from the test server instead of the public URL. */
const local = (url: string) => `${origin}${new URL(url).pathname}`;

function dsn(recipient: string, verp: string): string {
  return [
    'Return-Path: <>',
    'Date: Tue, 10 Mar 2026 09:00:03 +0000',
    'From: MAILER-DAEMON@mail.shop.example (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    `To: ${verp}`,
    'Message-Id: <dsn-erin@mail.shop.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    '',
    '--B',
    'Content-Type: text/plain',
    '',
    `Your message to ${recipient} could not be delivered.`,
    '',
    '--B',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mail.shop.example',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx.example.org',
    `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: user unknown`,
    '',
    '--B',
    'Content-Type: text/rfc822-headers',
    '',
    `Return-Path: <${verp}>`,
    'From: shop@shop.example',
    `To: ${recipient}`,
    'Subject: Receipt',
    '',
    '--B--',
    '',
  ].join('\r\n');
}

interface Column {
  table_name: string;
  column_name: string;
  data_type: string;
}

/**
 * Every row of every table whose text, JSON, array or binary columns mention one of the needles
 * (any case), and whose uuid columns equal the contact id: "table.column" per finding. The tables
 * and columns come from information_schema, so a table added later is scanned without a list to keep.
 */
async function findPersonalData(needles: string[], contactId: string): Promise<string[]> {
  const { rows: columns } = await t.container.database.pool.query<Column>(
    `SELECT c.table_name, c.column_name, c.data_type
       FROM information_schema.columns c
       JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND tb.table_type = 'BASE TABLE'
        AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'uuid')
      ORDER BY c.table_name, c.column_name`,
  );
  expect(columns.length).toBeGreaterThan(100);
  const found: string[] = [];
  for (const column of columns) {
    const ref = `"${column.table_name}"."${column.column_name}"`;
    if (column.data_type === 'uuid') {
      const { rows } = await t.container.database.pool.query(
        `SELECT 1 FROM "${column.table_name}" WHERE ${ref} = $1 LIMIT 1`,
        [contactId],
      );
      if (rows.length > 0) found.push(`${column.table_name}.${column.column_name} (contact id)`);
      continue;
    }
    const text = column.data_type === 'bytea' ? `encode(${ref}, 'escape')` : `${ref}::text`;
    for (const needle of needles) {
      const { rows } = await t.container.database.pool.query(
        `SELECT 1 FROM "${column.table_name}" WHERE position($1 in lower(${text})) > 0 LIMIT 1`,
        [needle.toLowerCase()],
      );
      if (rows.length > 0) found.push(`${column.table_name}.${column.column_name} (${needle})`);
    }
  }
  return found;
}

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: 'https://mail.shop.example' });
  sink = await startSmtpSink();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await sql`SELECT herald_events_partition(${t.clock.now().toISOString().slice(0, 10)}::date)`.execute(
    t.container.db,
  );
  await t.addSinkTransport(sink, { name: 'Sink' });
  await ok('POST', '/v1/attributes', { name: 'first_name', type: 'string' });
  await ok('POST', '/v1/attributes', { name: 'city', type: 'string' });
  // Outbound webhook events carry the address: one endpoint makes Herald record them. A public
  // address literal needs no DNS, and no request is made (no worker runs in this test).
  await ok('POST', '/v1/webhooks/endpoints', { url: 'https://93.184.215.14/hook' });
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('a person who went through everything Herald does', () => {
  let contactId: string;
  let bystanderId: string;
  let listId: string;

  it('is in every kind of data before the erasure, and the access export shows all of it', async () => {
    const contact = await ok('POST', '/v1/contacts', {
      email: EMAIL,
      external_id: USER_ID,
      attributes: { first_name: FIRST_NAME, city: CITY },
    });
    contactId = contact.id;
    bystanderId = (await ok('POST', '/v1/contacts', { email: 'bystander@example.org' })).id;
    listId = (await ok('POST', '/v1/lists', { name: 'News', opt_in: 'single' })).id;
    await ok('POST', `/v1/lists/${listId}/members`, { contact_ids: [contactId, bystanderId] });

    // Events: an anonymous visit, then identify links the anonymous id; a track event of the contact.
    await ok('POST', '/v1/track', {
      anonymousId: ANONYMOUS_ID,
      event: 'Viewed Product',
      properties: { note: `seen in ${CITY}` },
      context: { ip: '203.0.113.9' },
    });
    await ok('POST', '/v1/identify', {
      userId: USER_ID,
      anonymousId: ANONYMOUS_ID,
      traits: { email: EMAIL, first_name: FIRST_NAME },
    });
    await ok('POST', '/v1/track', { userId: USER_ID, event: 'Ordered', properties: { city: CITY } });

    // A campaign through the SMTP sink, opened and clicked on the real tracking endpoints.
    const template = await ok('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News for {{ contact.attributes.first_name }}',
      body: '<p>Hi {{ contact.attributes.first_name }}</p><p><a href="https://shop.example/sale">Sale</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    });
    const campaign = await ok('POST', '/v1/campaigns', {
      name: 'News',
      from_email: 'news@shop.example',
      template_id: template.id,
      lists: [listId],
    });
    await ok('POST', `/v1/campaigns/${campaign.id}/send`);
    await t.container.sender.drain();
    const mail = sink.messages.find((m) => m.to[0]?.toLowerCase() === EMAIL_KEY);
    if (!mail) throw new Error('the campaign email did not arrive');
    const raw = mail.raw.toString('utf8').replace(/=\r\n/g, '').replace(/=3D/g, '=');
    const pixel = /https:\/\/mail\.shop\.example\/o\/[A-Za-z0-9_-]+/.exec(raw)?.[0];
    const links = [...raw.matchAll(/https:\/\/mail\.shop\.example\/c\/[A-Za-z0-9_-]+/g)].map((m) => m[0]);
    expect(pixel).toBeDefined();
    expect(links.length).toBeGreaterThan(0);
    t.clock.advance(10 * 60_000);
    expect((await fetch(local(pixel as string), { headers: { 'user-agent': CHROME } })).status).toBe(200);
    t.clock.advance(30_000);
    const click = await fetch(local(links[links.length - 1] as string), {
      headers: { 'user-agent': CHROME },
      redirect: 'manual',
    });
    expect(click.status).toBe(302);
    await t.container.tracking.flush();
    await ok('POST', '/v1/conversions', {
      contact: { email: EMAIL },
      event: 'purchase',
      revenue: '42.00',
      currency: 'EUR',
    });

    // An automation email with trigger data.
    await ok('POST', '/v1/templates', {
      name: 'Welcome',
      format: 'html',
      subject: 'Welcome',
      body: '<p>Welcome {{ automation.data.city }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    });
    const journey = await ok('POST', '/v1/automations', {
      name: 'Welcome',
      definition: {
        trigger: { type: 'api' },
        sender: { from_email: 'news@shop.example' },
        start: 'hello',
        nodes: [
          { id: 'hello', type: 'send_email', template: 'Welcome', next: 'done' },
          { id: 'done', type: 'exit' },
        ],
      },
    });
    await ok('POST', `/v1/automations/${journey.id}/publish`);
    await ok('POST', `/v1/automations/${journey.id}/enroll`, {
      contact: { id: contactId },
      data: { city: CITY },
    });

    // A transactional message with personal template data, which then hard-bounces.
    const message = await ok('POST', '/v1/messages', {
      to: EMAIL,
      from_email: 'shop@shop.example',
      inline: { subject: 'Receipt', text: 'Deliver to {{ data.city }}' },
      data: { city: CITY },
    });
    await settle();
    const verp = `b-${createReturnPathToken(keyring, message.id)}@shop.example`;
    const bounce = await t.app.inject({
      method: 'POST',
      url: '/v1/inbound/raw',
      headers: { ...t.auth(), 'content-type': 'message/rfc822' },
      payload: dsn(EMAIL, verp),
    });
    expect(bounce.statusCode, bounce.body).toBe(200);

    const exported = await ok('GET', `/v1/contacts/${contactId}/data-export`);
    expect(exported.profile).toMatchObject({
      id: contactId,
      email: 'Erin.Erasable@example.org', // the domain normalized, the local part as given
      attributes: { first_name: FIRST_NAME, city: CITY },
    });
    for (const kind of [
      'list_memberships',
      'consent_records',
      'campaign_sends',
      'messages',
      'automation_runs',
      'events',
      'anonymous_ids',
      'tracking_hits',
      'conversions',
      'bounce_events',
      'suppressions',
    ]) {
      expect(exported[kind].length, kind).toBeGreaterThan(0);
    }
    expect(exported.tracking_hits.map((h: { kind: string }) => h.kind).sort()).toEqual(['click', 'open']);
    expect(exported.suppressions[0]).toMatchObject({ reason: 'hard_bounce' });
    const byEmail = await ok(
      'GET',
      `/v1/privacy/access?email=${encodeURIComponent(EMAIL_KEY.toUpperCase())}`,
    );
    expect(byEmail.profile.id).toBe(contactId);
    expect(byEmail.events.length).toBe(exported.events.length);

    // The scan finds the person before the erasure: it is not a scan that cannot fail.
    const before = await findPersonalData([EMAIL, FIRST_NAME, CITY, USER_ID, ANONYMOUS_ID], contactId);
    for (const where of [
      'contacts.email',
      'messages.to_email',
      'bounce_events.recipient',
      'suppressions.email',
      'events.properties',
      'automation_runs.data',
      'tracking_hits.contact_id',
      'campaign_sends.contact_id',
    ])
      expect(
        before.some((f) => f.startsWith(where)),
        where,
      ).toBe(true);
  });

  it('refuses a bad erasure request and changes nothing', async () => {
    const writer = await t.createKey(['contacts:write', 'contacts:export']);
    const before = await databaseSnapshot(t.container.database.pool);
    const blank = await call('POST', `/v1/contacts/${contactId}/erase`, { reason: '   ' });
    expect(blank.status).toBe(400);
    expect(blank.body.errors[0]).toMatchObject({ path: '/reason' });
    const missing = await call('POST', `/v1/contacts/${contactId}/erase`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toContain('reason');
    const unknown = await call('POST', '/v1/contacts/0190a000-0000-7000-8000-000000000000/erase', {
      reason: 'request',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('CONTACT_NOT_FOUND');
    const badEmail = await call('POST', '/v1/privacy/erase', { email: 'not-an-address', reason: 'request' });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.code).toBe('INVALID_EMAIL');
    const forbidden = await call('POST', `/v1/contacts/${contactId}/erase`, { reason: 'request' }, writer);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.detail).toContain('privacy:erase');
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('erases everything about them in one request and returns a receipt without personal data', async () => {
    const eraser = await t.createKey(['privacy:erase']);
    const res = await call(
      'POST',
      `/v1/contacts/${contactId}/erase`,
      { reason: 'GDPR art. 17 request' },
      eraser,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const receipt = res.body;
    expect(receipt).toMatchObject({ reason: 'GDPR art. 17 request', contact_found: true });
    expect(receipt.counts).toMatchObject({
      contacts: 1,
      list_memberships: 1,
      campaign_sends: 1,
      tracking_hits: 2,
      anonymous_ids: 1,
      conversions_anonymized: 1,
      automation_runs: 1,
      bounce_events: 1,
      suppressions: 1,
    });
    expect(receipt.counts.events).toBeGreaterThanOrEqual(3);
    expect(receipt.counts.messages).toBe(2); // the automation email and the transactional one
    expect(receipt.counts.consent_records).toBeGreaterThan(0);
    expect(receipt.total).toBe(
      Object.values(receipt.counts as Record<string, number>).reduce((a, b) => a + b),
    );
    const text = JSON.stringify(receipt).toLowerCase();
    for (const needle of [EMAIL_KEY, FIRST_NAME.toLowerCase(), CITY.toLowerCase(), contactId])
      expect(text).not.toContain(needle);

    const found = await findPersonalData([EMAIL, FIRST_NAME, CITY, USER_ID, ANONYMOUS_ID], contactId);
    expect(found, `personal data left in: ${found.join(', ')}`).toEqual([]);

    // Aggregates stay: the campaign's rollup, the conversion's revenue; the bystander is untouched.
    const conversions = await t.container.database.pool.query(
      'SELECT contact_id, revenue FROM conversions WHERE workspace_id = $1',
      [t.workspaceId],
    );
    expect(conversions.rows.map((r) => [r.contact_id, Number(r.revenue)])).toEqual([[null, 42]]);
    const bystander = await ok('GET', `/v1/contacts/${bystanderId}`);
    expect(bystander.lists).toHaveLength(1);
    const entry = await t.container.database.pool.query(
      "SELECT email, source FROM suppressions WHERE workspace_id = $1 AND reason = 'erased'",
      [t.workspaceId],
    );
    expect(entry.rows).toHaveLength(1);
    expect(entry.rows[0].email).toMatch(/^erased:[0-9a-f]{64}$/);
    expect((await call('GET', `/v1/contacts/${contactId}`)).status).toBe(404);
    expect((await call('GET', `/v1/contacts/${contactId}/data-export`)).status).toBe(404);
  });

  it('refuses the address when it comes back through the API, a list, identify or a CSV import', async () => {
    const created = await call('POST', '/v1/contacts', { email: EMAIL_KEY.toUpperCase() });
    expect(created.status).toBe(409);
    expect(created.body.code).toBe('CONTACT_ERASED');
    expect(created.body.detail).toContain('erased');
    expect(created.body.detail).not.toContain(EMAIL_KEY);
    const upserted = await call('PUT', '/v1/contacts', { email: EMAIL, attributes: { city: CITY } });
    expect(upserted.status).toBe(409);
    expect(upserted.body.code).toBe('CONTACT_ERASED');
    // Changing another contact's address to the erased one is refused too.
    const renamed = await call('PATCH', `/v1/contacts/${bystanderId}`, { email: EMAIL });
    expect(renamed.status).toBe(409);
    expect(renamed.body.code).toBe('CONTACT_ERASED');

    const added = await ok('POST', `/v1/lists/${listId}/members`, {
      emails: [EMAIL, 'newcomer@example.org'],
    });
    expect(JSON.stringify(added)).toContain('erased');
    const identified = await call('POST', '/v1/identify', { userId: USER_ID, traits: { email: EMAIL } });
    expect(identified.status).toBeGreaterThanOrEqual(400);

    const report = await importCsv(`email,city\nfresh@example.org,Paris\n${EMAIL_KEY},${CITY}\n`);
    expect(report).toMatchObject({ status: 'completed', created_count: 1, failed_count: 1 });
    expect(report.errors).toEqual([{ line: 3, reason: expect.stringContaining('erased') }]);

    const { rows } = await t.container.database.pool.query(
      'SELECT email FROM contacts WHERE workspace_id = $1 ORDER BY email',
      [t.workspaceId],
    );
    expect(rows.map((r) => r.email)).toEqual([
      'bystander@example.org',
      'fresh@example.org',
      'newcomer@example.org',
    ]);
  });

  it('erases by email without a contact, and keeps other workspaces apart', async () => {
    const other = await t.createWorkspace('Other shop');
    const theirs = await call('POST', '/v1/contacts', { email: EMAIL }, other.adminKey);
    expect(theirs.status, 'an erasure in one workspace does not refuse the address in another').toBe(201);

    await ok('POST', '/v1/suppressions', { email: 'only-suppressed@example.org' });
    const res = await ok('POST', '/v1/privacy/erase', {
      email: 'Only-Suppressed@example.org',
      reason: 'CCPA delete',
    });
    expect(res).toMatchObject({ contact_found: false, counts: { suppressions: 1, contacts: 0 } });
    expect((await call('POST', '/v1/contacts', { email: 'only-suppressed@example.org' })).status).toBe(409);
    const access = await call('GET', '/v1/privacy/access?email=only-suppressed@example.org');
    expect(access.status).toBe(404);
    // The other workspace's contact is still there.
    expect((await call('GET', `/v1/contacts/${theirs.body.id}`, undefined, other.adminKey)).status).toBe(200);
  });
});
