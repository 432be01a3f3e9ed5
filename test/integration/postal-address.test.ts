import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createToken } from '../../src/lib/signed-tokens.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * CAN-SPAM: the workspace's postal address is a workspace setting, and every
 * campaign carries it, as a footer when its template does not show it itself.
 */

let t: TestApp;
let sink: SmtpSink;
let listId: string;
let plainTemplate: string;
let addressTemplate: string;

const ADDRESS = 'Shop & Co. GmbH\nMain Street 1\n10115 Berlin <DE>';

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function template(name: string, body: string, text?: string): Promise<string> {
  const created = await call('POST', '/v1/templates', {
    name,
    format: 'html',
    subject: 'News',
    body,
    ...(text ? { text } : {}),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

/** Sends a campaign with the template to the one-contact list; the parsed message it delivered. */
async function sendCampaign(templateId: string) {
  const { html, text } = await sendCampaignWithId(templateId);
  return { html, text };
}

async function sendCampaignWithId(templateId: string) {
  const campaign = await call('POST', '/v1/campaigns', {
    name: `Campaign ${templateId}`,
    from_email: 'news@shop.example',
    template_id: templateId,
    lists: [listId],
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  await t.container.sender.drain();
  expect(sink.messages).toHaveLength(1);
  const parsed = await simpleParser(sink.messages[0]?.raw as Buffer);
  return { html: String(parsed.html || ''), text: parsed.text ?? '', campaignId: campaign.body.id as string };
}

/** The view-in-browser page of the campaign for the list's one reader (the link the email would carry). */
async function viewPage(campaignId: string) {
  const contacts = await call('GET', '/v1/contacts?email=reader@example.com');
  const contactId = contacts.body.data[0].id as string;
  const token = createToken(t.container.keyring, 'view', {
    workspaceId: t.workspaceId,
    contactId,
    campaignId,
  });
  const res = await t.app.inject({ method: 'GET', url: `/m/${token}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

const footerOf = (html: string) => /<div class="herald-postal-address"[^>]*>.*?<\/div>/s.exec(html)?.[0];

async function setWorkspace(patch: object) {
  const res = await call('PATCH', '/v1/workspace', patch);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink);
  listId = (await call('POST', '/v1/lists', { name: 'Readers', opt_in: 'single' })).body.id;
  const added = await call('POST', `/v1/lists/${listId}/members`, { emails: ['reader@example.com'] });
  expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
  plainTemplate = await template('Plain', '<html><body><p>Hello there</p></body></html>');
  addressTemplate = await template(
    'Own footer',
    '<p>Hello</p><address>{{ workspace.postal_address }}</address>',
    'Hello\n\nWrite to us: {{ workspace.postal_address }}',
  );
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});
beforeEach(() => {
  sink.messages.length = 0;
});

describe('postal address setting', () => {
  it('is unset by default and can be set, read back and removed', async () => {
    const initial = await call('GET', '/v1/workspace');
    expect(initial.body).toMatchObject({ postal_address: null, require_postal_address: false });
    const set = await setWorkspace({ postal_address: '  Main Street 1\r\n10115 Berlin  ' });
    expect(set.postal_address).toBe('Main Street 1\n10115 Berlin');
    expect((await call('GET', '/v1/workspace')).body.postal_address).toBe('Main Street 1\n10115 Berlin');
    expect((await setWorkspace({ postal_address: '' })).postal_address).toBeNull();
    await setWorkspace({ postal_address: 'x' });
    expect((await setWorkspace({ postal_address: null })).postal_address).toBeNull();
  });

  it('refuses a too long or Liquid-bearing address and changes nothing', async () => {
    await setWorkspace({ postal_address: 'Main Street 1', name: 'Before' });
    const tooLong = await call('PATCH', '/v1/workspace', { postal_address: 'x'.repeat(501), name: 'After' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(tooLong.body)).toContain('postal_address');
    const liquid = await call('PATCH', '/v1/workspace', {
      postal_address: 'Street {{ contact.email }}',
      name: 'After',
    });
    expect(liquid.status).toBe(400);
    expect(liquid.body.errors).toEqual([
      { path: '/postal_address', message: expect.stringContaining('Liquid delimiters') },
    ]);
    const notBoolean = await call('PATCH', '/v1/workspace', { require_postal_address: 'yes' });
    expect(notBoolean.status).toBe(400);
    const after = (await call('GET', '/v1/workspace')).body;
    expect(after).toMatchObject({
      name: 'Before',
      postal_address: 'Main Street 1',
      require_postal_address: false,
    });
    await setWorkspace({ postal_address: null });
  });
});

describe('marketing email', () => {
  it('appends the address to the HTML and text parts, escaped, when the template does not show it', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const { html, text } = await sendCampaign(plainTemplate);
    expect(html).toContain('Shop &amp; Co. GmbH<br>Main Street 1<br>10115 Berlin &lt;DE&gt;');
    expect(html).not.toContain('<DE>');
    // Inside the body, once.
    expect(html.indexOf('herald-postal-address')).toBeLessThan(html.indexOf('</body>'));
    expect(occurrences(html, 'Main Street 1')).toBe(1);
    expect(text).toContain(ADDRESS);
    expect(occurrences(text, 'Main Street 1')).toBe(1);
  });

  it('adds no second copy when the template renders {{ workspace.postal_address }}', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const { html, text } = await sendCampaign(addressTemplate);
    // HTML output is escaped by the template engine.
    expect(html).toContain('<address>Shop &amp; Co. GmbH\nMain Street 1\n10115 Berlin &lt;DE&gt;</address>');
    expect(html).not.toContain('herald-postal-address');
    expect(occurrences(html, 'Main Street 1')).toBe(1);
    expect(text).toContain(`Write to us: ${ADDRESS}`);
    expect(occurrences(text, 'Main Street 1')).toBe(1);
  });

  it('appends nothing when no address is set', async () => {
    await setWorkspace({ postal_address: null });
    const { html, text } = await sendCampaign(plainTemplate);
    expect(html).not.toContain('herald-postal-address');
    expect(text.trim()).toBe('Hello there');
  });
});

describe('view in browser', () => {
  it('shows the same postal address footer as the email', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const { html, campaignId } = await sendCampaignWithId(plainTemplate);
    const page = await viewPage(campaignId);
    expect(footerOf(html)).toBeDefined();
    expect(footerOf(page)).toBe(footerOf(html));
    expect(page).toContain('Shop &amp; Co. GmbH<br>Main Street 1<br>10115 Berlin &lt;DE&gt;');
    expect(page).not.toContain('<DE>');
    expect(page.indexOf('herald-postal-address')).toBeLessThan(page.indexOf('</body>'));
    expect(occurrences(page, 'Main Street 1')).toBe(1);
  });

  it('adds no footer to a template that shows the address, nor when none is set', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const shown = await viewPage((await sendCampaignWithId(addressTemplate)).campaignId);
    expect(shown).not.toContain('herald-postal-address');
    expect(occurrences(shown, 'Main Street 1')).toBe(1);
    sink.messages.length = 0;
    await setWorkspace({ postal_address: null });
    const none = await viewPage((await sendCampaignWithId(plainTemplate)).campaignId);
    expect(none).not.toContain('herald-postal-address');
  });

  it('shows the address as it is now after the workspace changes it', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const { campaignId } = await sendCampaignWithId(plainTemplate);
    expect(await viewPage(campaignId)).toContain('Main Street 1');
    await setWorkspace({ postal_address: 'New Road 9\n20095 Hamburg' });
    const page = await viewPage(campaignId);
    expect(page).toContain('New Road 9<br>20095 Hamburg');
    expect(page).not.toContain('Main Street 1');
  });
});

describe('warnings', () => {
  const missing = { code: 'POSTAL_ADDRESS_MISSING', message: expect.stringContaining('PATCH /v1/workspace') };

  it('warns on a campaign, its send and its schedule while the workspace has no address, and never refuses', async () => {
    await setWorkspace({ postal_address: null, require_postal_address: false });
    const draft = await call('POST', '/v1/campaigns', {
      name: 'Unaddressed',
      from_email: 'news@shop.example',
      template_id: plainTemplate,
      lists: [listId],
    });
    expect(draft.status).toBe(201);
    expect(draft.body.warnings).toEqual([missing]);
    const read = await call('GET', `/v1/campaigns/${draft.body.id}`);
    expect(read.body.warnings).toEqual([missing]);
    expect(read.body.warnings[0].message).toContain('CAN-SPAM');
    const scheduled = await call('POST', `/v1/campaigns/${draft.body.id}/schedule`, {
      send_at: new Date(t.clock.now().getTime() + 86_400_000).toISOString(),
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    expect(scheduled.body).toMatchObject({ status: 'scheduled', warnings: [missing] });
    const sent = await call('POST', `/v1/campaigns/${draft.body.id}/send`);
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body).toMatchObject({ status: 'sending', warnings: [missing] });
    await t.container.sender.drain();
    expect(sink.messages).toHaveLength(1);
    // Once sent, there is nothing left to warn about.
    const done = await call('GET', `/v1/campaigns/${draft.body.id}`);
    expect(done.body).toMatchObject({ status: 'sent', warnings: [] });
    // The list does not carry warnings (one workspace read per campaign would be wasted there).
    const listed = await call('GET', '/v1/campaigns');
    expect(listed.body.data[0]).not.toHaveProperty('warnings');
  });

  it('has no warnings once the address is set', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const draft = await call('POST', '/v1/campaigns', { name: 'Addressed', template_id: plainTemplate });
    expect(draft.body.warnings).toEqual([]);
    expect((await call('GET', `/v1/campaigns/${draft.body.id}`)).body.warnings).toEqual([]);
  });

  it('warns only in the workspace that lacks the address', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const other = await t.createWorkspace('No address yet');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: t.auth(other.adminKey),
      payload: { name: 'Elsewhere' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().warnings).toEqual([missing]);
  });
});

describe('other email', () => {
  it('adds the footer to automation emails of kind marketing, not to transactional messages', async () => {
    await setWorkspace({ postal_address: ADDRESS });
    const base = { template_id: plainTemplate, from_email: 'news@shop.example', track: false };
    const automation = { id: '00000000-0000-7000-8000-000000000001', name: 'Welcome', data: {} };
    await t.container.messages.accept(t.workspaceId, {
      ...base,
      to: 'marketing@example.com',
      automation: { ...automation, marketing: true },
    });
    await t.container.messages.accept(t.workspaceId, {
      ...base,
      to: 'receipt@example.com',
      automation: { ...automation, marketing: false },
    });
    const transactional = await call('POST', '/v1/messages', { ...base, to: 'api@example.com' });
    expect(transactional.status, JSON.stringify(transactional.body)).toBe(202);
    await t.container.runner.drain();

    const parsed = async (to: string) => {
      const message = sink.messages.find((m) => m.to[0] === to);
      expect(message, `a message to ${to}`).toBeDefined();
      const mail = await simpleParser(message?.raw as Buffer);
      return { html: String(mail.html || ''), text: mail.text ?? '' };
    };
    const marketing = await parsed('marketing@example.com');
    expect(marketing.html).toContain('Shop &amp; Co. GmbH<br>Main Street 1');
    expect(marketing.text).toContain(ADDRESS);
    for (const to of ['receipt@example.com', 'api@example.com']) {
      const mail = await parsed(to);
      expect(mail.html).not.toContain('Main Street 1');
      expect(mail.text).not.toContain('Main Street 1');
    }
  });
});

describe('require_postal_address', () => {
  it('refuses to send or schedule a campaign without an address, but allows test sends', async () => {
    await setWorkspace({ postal_address: null, require_postal_address: true });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Required',
      from_email: 'news@shop.example',
      template_id: plainTemplate,
      lists: [listId],
    });
    const send = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(send.status).toBe(409);
    expect(send.body.code).toBe('POSTAL_ADDRESS_REQUIRED');
    expect(send.body.detail).toContain('postal_address');
    const schedule = await call('POST', `/v1/campaigns/${campaign.body.id}/schedule`, {
      send_at: new Date(t.clock.now().getTime() + 86_400_000).toISOString(),
    });
    expect(schedule.status).toBe(409);
    expect(schedule.body.code).toBe('POSTAL_ADDRESS_REQUIRED');
    expect((await call('GET', `/v1/campaigns/${campaign.body.id}`)).body.status).toBe('draft');

    const test = await call('POST', `/v1/campaigns/${campaign.body.id}/test`, {
      emails: ['tester@example.com'],
    });
    expect(test.status, JSON.stringify(test.body)).toBe(200);
    expect(test.body.results).toEqual([{ email: 'tester@example.com', delivered: true }]);

    await setWorkspace({ postal_address: ADDRESS });
    const allowed = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    await t.container.sender.drain();
    await setWorkspace({ require_postal_address: false });
  });
});
