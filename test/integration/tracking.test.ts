import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { createToken } from '../../src/lib/signed-tokens.js';
import { createTrackingService, PIXEL_GIF } from '../../src/modules/tracking/index.js';
import { insertHits } from '../../src/modules/tracking/tracking.repository.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { trackedMessage as trackedMessageOf } from '../helpers/tracked-message.js';

/**
 * Open pixel and click redirect over the real app: tokens from the link
 * rewriter, hits through the buffered writer into tracking_hits, and every
 * kind of bad token refused without a redirect.
 */

let t: TestApp;
let campaignId: string;
let versionId: string;
let contactId: string;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const BODY =
  '<p>Hi {{ contact.email }}</p><a href="https://shop.example.com/sale?x=1&amp;utm_source=own">Sale</a> <a href="https://shop.example.com/new">New</a> <a href="https://shop.example.com/third">Third</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a>';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function hitRows() {
  await t.container.tracking.flush();
  return t.container.db.selectFrom('tracking_hits').selectAll().orderBy('id').execute();
}

/** One tracked message for the contact, as the sender would build it. */
function trackedMessage(opts: { contact?: string; consent?: boolean } = {}) {
  return trackedMessageOf(t, {
    templateVersionId: versionId,
    campaignId,
    contactId: opts.contact ?? contactId,
    body: BODY.replace('{{ contact.email }}', 'x'),
    trackingConsent: opts.consent,
  });
}

beforeAll(async () => {
  t = await createTestApp({
    HERALD_TRACKING_RATE_LIMIT_PER_MINUTE: '6',
    HERALD_TRACKING_FLUSH_INTERVAL_MS: '60000',
  });
  const template = await call('POST', '/v1/templates', {
    name: 'Tracked',
    format: 'html',
    subject: 'Hi',
    body: BODY,
  });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  versionId = template.body.version.id;
  const campaign = await call('POST', '/v1/campaigns', {
    name: 'Spring',
    template_id: template.body.id,
    utm_source: 'herald',
    utm_medium: 'email',
    utm_campaign: 'spring sale',
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  campaignId = campaign.body.id;
  const contact = await call('POST', '/v1/contacts', { email: 'reader@example.com' });
  contactId = contact.body.id;
});
afterAll(async () => {
  await t?.close();
});

describe('campaign UTM settings and contact tracking consent', () => {
  it('stores UTM parameters on the campaign and refuses bad ones', async () => {
    const got = await call('GET', `/v1/campaigns/${campaignId}`);
    expect(got.body).toMatchObject({
      utm_source: 'herald',
      utm_medium: 'email',
      utm_campaign: 'spring sale',
      utm_term: null,
    });
    expect((await call('PATCH', `/v1/campaigns/${campaignId}`, { utm_term: 42 })).status).toBe(400);
    expect(
      (await call('PATCH', `/v1/campaigns/${campaignId}`, { utm_content: 'x'.repeat(201) })).status,
    ).toBe(400);
  });

  it('sets tracking consent through the contacts API and refuses non-booleans', async () => {
    const created = await call('POST', '/v1/contacts', {
      email: 'private@example.com',
      tracking_consent: false,
    });
    expect(created.status).toBe(201);
    expect(created.body.tracking_consent).toBe(false);
    expect((await call('GET', `/v1/contacts/${contactId}`)).body.tracking_consent).toBe(true);
    const patched = await call('PATCH', `/v1/contacts/${created.body.id}`, { tracking_consent: true });
    expect(patched.body.tracking_consent).toBe(true);
    expect((await call('PATCH', `/v1/contacts/${contactId}`, { tracking_consent: 'no' })).status).toBe(400);
    expect(
      (await call('POST', '/v1/contacts', { email: 'x@example.com', tracking_consent: null })).status,
    ).toBe(400);
  });
});

describe('link registration', () => {
  it('registers a version’s static links once, however often and concurrently it is prepared', async () => {
    const other = createTrackingService({
      db: t.container.db,
      keyring: t.container.keyring,
      clock: t.clock,
      logger: t.container.logger,
      publicUrl: t.config.publicUrl,
      templates: t.container.templates,
      flushIntervalMs: 60_000,
      batchSize: 10,
      maxBuffered: 100,
    });
    const input = {
      workspaceId: t.workspaceId,
      templateVersionId: versionId,
      trackOpens: true,
      trackClicks: true,
    };
    await Promise.all([t.container.tracking.prepare(input), other.prepare(input), other.prepare(input)]);
    await other.close();
    const links = await t.container.db
      .selectFrom('template_links')
      .select(['url', 'position', 'workspace_id'])
      .where('template_version_id', '=', versionId)
      .orderBy('position')
      .execute();
    expect(links).toEqual([
      { url: 'https://shop.example.com/sale?x=1&utm_source=own', position: 0, workspace_id: t.workspaceId },
      { url: 'https://shop.example.com/new', position: 1, workspace_id: t.workspaceId },
      { url: 'https://shop.example.com/third', position: 2, workspace_id: t.workspaceId },
    ]);
  });
});

describe('GET /o/:token', () => {
  it('answers with the transparent GIF, uncached, and records the open with an anonymized IP', async () => {
    const message = await trackedMessage();
    expect(message.opens).toHaveLength(1);
    const res = await t.app.inject({
      method: 'GET',
      url: message.opens[0] as string,
      headers: { 'user-agent': CHROME },
      remoteAddress: '203.0.113.77',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/gif');
    expect(res.rawPayload.equals(PIXEL_GIF)).toBe(true);
    expect(res.rawPayload.length).toBe(43);
    expect(res.headers['cache-control']).toContain('no-store');
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    const rows = (await hitRows()).filter((r) => r.message_id === message.messageId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      workspace_id: t.workspaceId,
      campaign_id: campaignId,
      contact_id: contactId,
      kind: 'open',
      link_id: null,
      ip: '203.0.113.0',
      user_agent: CHROME,
      classification: 'human',
    });
  });

  it('answers 404 (with the GIF) to tampered, foreign-kind and malformed tokens, recording nothing', async () => {
    const message = await trackedMessage();
    const token = (message.opens[0] as string).slice(3);
    const tampered = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    const before = (await hitRows()).length;
    for (const url of [
      `/o/${tampered}`,
      `/o/${(message.clicks[0] as string).slice(3)}`,
      '/o/not-a-token',
      '/o/%00',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toBe('image/gif');
    }
    expect((await t.app.inject({ method: 'GET', url: `/o/${'A'.repeat(401)}` })).statusCode).toBe(400);
    expect((await hitRows()).length).toBe(before);
  });

  it('does not record HEAD requests', async () => {
    const message = await trackedMessage();
    const res = await t.app.inject({ method: 'HEAD', url: message.opens[0] as string });
    expect(res.statusCode).toBe(200);
    expect((await hitRows()).filter((r) => r.message_id === message.messageId)).toEqual([]);
  });
});

describe('GET /c/:token', () => {
  it('redirects to the stored URL with UTM parameters (not overriding the URL’s own) and hid = the click’s id', async () => {
    const message = await trackedMessage();
    expect(message.clicks).toHaveLength(4); // honeypot + three links
    const sale = message.clicks[1] as string;
    t.clock.advance(60_000);
    const res = await t.app.inject({ method: 'GET', url: sale, headers: { 'user-agent': CHROME } });
    expect(res.statusCode).toBe(302);
    const location = new URL(res.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example.com/sale');
    expect(location.searchParams.get('x')).toBe('1');
    expect(location.searchParams.getAll('utm_source')).toEqual(['own']);
    expect(location.searchParams.get('utm_medium')).toBe('email');
    expect(location.searchParams.get('utm_campaign')).toBe('spring sale');
    const hid = location.searchParams.get('hid');
    const rows = (await hitRows()).filter((r) => r.message_id === message.messageId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: hid, kind: 'click', classification: 'human', contact_id: contactId });
    expect(rows[0]?.link_id).not.toBeNull();
  });

  it('never redirects for a tampered, expired, wrong-kind, unknown-link or foreign-workspace token', async () => {
    const message = await trackedMessage();
    const token = (message.clicks[1] as string).slice(3);
    const keyring = t.container.keyring;
    const link = await t.container.db.selectFrom('template_links').select('id').executeTakeFirstOrThrow();
    const other = await t.createWorkspace();
    const base = { messageId: message.messageId, contactId, campaignId };
    const bad = [
      `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`,
      (message.opens[0] as string).slice(3),
      createToken(
        keyring,
        'click',
        { workspaceId: t.workspaceId, ...base, linkId: link.id },
        { expiresAt: new Date(t.clock.now().getTime() - 1000) },
      ),
      createToken(keyring, 'click', { workspaceId: t.workspaceId, ...base, linkId: uuidv7() }),
      // A link of workspace A named in a token of workspace B.
      createToken(keyring, 'click', { workspaceId: other.workspaceId, ...base, linkId: link.id }),
      createToken(keyring, 'unsubscribe', { workspaceId: t.workspaceId, ...base, linkId: link.id }),
      'https%3A%2F%2Fevil.example.com',
    ];
    const before = (await hitRows()).length;
    for (const candidate of bad) {
      const res = await t.app.inject({ method: 'GET', url: `/c/${candidate}` });
      expect(res.statusCode, candidate).toBe(404);
      expect(res.headers.location, candidate).toBeUndefined();
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toContain('not valid');
    }
    // Query strings are ignored: no way to pass a destination.
    const withQuery = await t.app.inject({ method: 'GET', url: `/c/${bad[3]}?url=https://evil.example.com` });
    expect(withQuery.statusCode).toBe(404);
    expect((await hitRows()).length).toBe(before);
  });

  it('answers the hidden honeypot link with a plain page and records a scanner click', async () => {
    const message = await trackedMessage();
    const res = await t.app.inject({
      method: 'GET',
      url: message.clicks[0] as string,
      headers: { 'user-agent': CHROME },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers.location).toBeUndefined();
    const rows = (await hitRows()).filter((r) => r.message_id === message.messageId);
    expect(rows).toMatchObject([
      { kind: 'click', link_id: null, classification: 'scanner', reason: 'hidden-link' },
    ]);
  });

  it('labels a burst over three links scanner, relabelling the clicks already written', async () => {
    const message = await trackedMessage();
    t.clock.advance(120_000);
    await t.app.inject({
      method: 'GET',
      url: message.clicks[1] as string,
      headers: { 'user-agent': CHROME },
    });
    await hitRows(); // the first click is written as human
    t.clock.advance(300);
    await t.app.inject({
      method: 'GET',
      url: message.clicks[2] as string,
      headers: { 'user-agent': CHROME },
    });
    t.clock.advance(300);
    await t.app.inject({
      method: 'GET',
      url: message.clicks[3] as string,
      headers: { 'user-agent': CHROME },
    });
    const rows = (await hitRows()).filter((r) => r.message_id === message.messageId);
    expect(rows.map((r) => [r.classification, r.reason])).toEqual([
      ['scanner', 'burst'],
      ['scanner', 'burst'],
      ['scanner', 'burst'],
    ]);
    expect(rows[0]?.reclassified_at).not.toBeNull();
    const dirty = await t.container.db.selectFrom('analytics_dirty').selectAll().execute();
    expect(dirty.map((d) => d.campaign_id)).toContain(campaignId);
  });

  it('limits requests per token, not per address', async () => {
    const message = await trackedMessage();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push(
        (
          await t.app.inject({
            method: 'GET',
            url: message.clicks[2] as string,
            remoteAddress: '198.51.100.1',
          })
        ).statusCode,
      );
    }
    expect(statuses.slice(0, 6)).toEqual([302, 302, 302, 302, 302, 302]);
    expect(statuses[6]).toBe(429);
    // Another token from the same address still works.
    const res = await t.app.inject({
      method: 'GET',
      url: message.clicks[3] as string,
      remoteAddress: '198.51.100.1',
    });
    expect(res.statusCode).toBe(302);
  });
});

describe('tracking consent and IP settings', () => {
  it('sends nothing trackable to a contact without consent, and stores no hits of a contact who withdrew it', async () => {
    const none = await trackedMessage({ consent: false });
    expect(none.opens).toEqual([]);
    expect(none.clicks).toEqual([]);

    const contact = await call('POST', '/v1/contacts', { email: 'changed-mind@example.com' });
    const message = await trackedMessage({ contact: contact.body.id });
    await call('PATCH', `/v1/contacts/${contact.body.id}`, { tracking_consent: false });
    expect((await t.app.inject({ method: 'GET', url: message.opens[0] as string })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: message.clicks[1] as string })).statusCode).toBe(302);
    expect((await hitRows()).filter((r) => r.contact_id === contact.body.id)).toEqual([]);
  });

  it('stores IPs as the workspace says: truncated by default, dropped or whole when set', async () => {
    expect((await call('GET', '/v1/tracking/settings')).body).toEqual({ ip_anonymization: 'truncate' });
    const ipOf = async () => {
      const message = await trackedMessage();
      await t.app.inject({
        method: 'GET',
        url: message.opens[0] as string,
        remoteAddress: '2001:db8:85a3:8d3:1319:8a2e:370:7348',
      });
      return (await hitRows()).find((r) => r.message_id === message.messageId)?.ip;
    };
    expect(await ipOf()).toBe('2001:db8:85a3::');
    expect((await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'drop' })).body).toEqual({
      ip_anonymization: 'drop',
    });
    expect(await ipOf()).toBeNull();
    await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'none' });
    expect(await ipOf()).toBe('2001:db8:85a3:8d3:1319:8a2e:370:7348');
    await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'truncate' });
  });

  it('refuses bad settings', async () => {
    for (const payload of [{}, { ip_anonymization: 'partial' }, { ip_anonymization: null }, { other: 1 }]) {
      const res = await call('PATCH', '/v1/tracking/settings', payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
    }
    expect((await call('GET', '/v1/tracking/settings')).body).toEqual({ ip_anonymization: 'truncate' });
  });
});

describe('re-classification', () => {
  it('relabels stored hits from scratch and marks the campaign for analytics', async () => {
    const messageId = uuidv7();
    const start = new Date('2030-05-01T10:00:00Z');
    const links = await t.container.db
      .selectFrom('template_links')
      .select('id')
      .orderBy('position')
      .execute();
    const row = (
      i: number,
      ms: number,
      linkId: string | null,
      classification: 'human' | 'scanner',
      reason: string | null,
    ) => ({
      id: uuidv7(start.getTime() + ms) as string,
      workspace_id: t.workspaceId,
      campaign_id: campaignId,
      contact_id: contactId,
      message_id: messageId,
      link_id: linkId,
      kind: 'click' as const,
      occurred_at: new Date(start.getTime() + ms),
      user_agent: i === 3 ? 'Mozilla/5.0' : CHROME,
      ip: null,
      classification,
      reason,
    });
    // Written by three processes, each seeing one click: all human. The re-run sees the burst.
    await t.container.db
      .insertInto('tracking_hits')
      .values([
        row(0, 0, links[0]?.id ?? null, 'human', null),
        row(1, 500, links[1]?.id ?? null, 'human', null),
        row(2, 900, links[2]?.id ?? null, 'human', null),
      ])
      .execute();
    await sql`DELETE FROM analytics_dirty`.execute(t.container.db);
    const res = await call('POST', `/v1/campaigns/${campaignId}/reclassify-hits`);
    expect(res.status).toBe(200);
    expect(res.body.changed).toBe(3);
    const rows = await t.container.db
      .selectFrom('tracking_hits')
      .selectAll()
      .where('message_id', '=', messageId)
      .execute();
    expect(rows.map((r) => r.classification)).toEqual(['scanner', 'scanner', 'scanner']);
    expect(rows.every((r) => r.reclassified_at !== null)).toBe(true);
    expect(await t.container.db.selectFrom('analytics_dirty').select('campaign_id').execute()).toEqual([
      { campaign_id: campaignId },
    ]);
    // A second run changes nothing.
    expect((await call('POST', `/v1/campaigns/${campaignId}/reclassify-hits`)).body.changed).toBe(0);
    expect((await call('POST', `/v1/campaigns/${uuidv7()}/reclassify-hits`)).status).toBe(404);
  });
});

describe('late writes', () => {
  it('marks the campaign for analytics when a batch is written more than a moment after its hits', async () => {
    const dirty = async () =>
      (await t.container.db.selectFrom('analytics_dirty').select('campaign_id').execute()).map(
        (d) => d.campaign_id,
      );
    await sql`DELETE FROM analytics_dirty`.execute(t.container.db);
    const message = await trackedMessage();
    await t.app.inject({ method: 'GET', url: message.opens[0] as string });
    await hitRows();
    expect(await dirty()).toEqual([]);
    await t.app.inject({ method: 'GET', url: message.opens[0] as string });
    t.clock.advance(5_000); // as if the database had been away
    await hitRows();
    expect(await dirty()).toEqual([campaignId]);
  });
});

describe('hit storage', () => {
  it('stores every user agent, IP and reason exactly as recorded, tabs, newlines and backslashes included', async () => {
    const odd = [
      'Tab\there',
      'Line\nbreak',
      'Back\\slash',
      'Ends with a backslash\\',
      '\\N',
      '\\t is not a tab',
      '\\\\t',
      'Backslash then tab \\\t',
      '',
      'Ünïcödé 😀',
    ];
    const message = uuidv7();
    const rows = odd.map((text, i) => ({
      id: uuidv7(),
      workspace_id: t.workspaceId,
      campaign_id: i % 2 === 0 ? campaignId : null,
      contact_id: contactId,
      message_id: message,
      link_id: null,
      kind: 'open' as const,
      occurred_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i, 250)),
      user_agent: text,
      ip: i === 0 ? null : `ip ${text}`,
      classification: 'human' as const,
      reason: i === 1 ? null : `reason ${text}`,
    }));
    expect(await insertHits(t.container.db, rows)).toBe(odd.length);
    const stored = (await hitRows()).filter((r) => r.message_id === message);
    expect(
      stored.map((r) => ({
        user_agent: r.user_agent,
        ip: r.ip,
        reason: r.reason,
        campaign_id: r.campaign_id,
        at: r.occurred_at.getTime(),
      })),
    ).toEqual(
      rows.map((r) => ({
        user_agent: r.user_agent,
        ip: r.ip,
        reason: r.reason,
        campaign_id: r.campaign_id,
        at: r.occurred_at.getTime(),
      })),
    );
  });

  it('records a user agent with a tab from a real request unchanged', async () => {
    const message = await trackedMessage();
    const agent = 'Mozilla/5.0\t(tabbed) \\client';
    await t.app.inject({ method: 'GET', url: message.opens[0] as string, headers: { 'user-agent': agent } });
    const rows = (await hitRows()).filter((r) => r.message_id === message.messageId);
    expect(rows.map((r) => r.user_agent)).toEqual([agent]);
  });
});

describe('erasure', () => {
  it('deletes a contact’s hits with the contact', async () => {
    const contact = await call('POST', '/v1/contacts', { email: 'erase-me@example.com' });
    const message = await trackedMessage({ contact: contact.body.id });
    await t.app.inject({ method: 'GET', url: message.opens[0] as string });
    const before = await hitRows();
    expect(before.filter((r) => r.contact_id === contact.body.id)).toHaveLength(1);
    expect((await call('DELETE', `/v1/contacts/${contact.body.id}`)).status).toBe(204);
    const after = await hitRows();
    expect(after.filter((r) => r.contact_id === contact.body.id)).toEqual([]);
    expect(after.length).toBe(before.length - 1);
  });
});

describe('metrics', () => {
  it('exports the hit writer counters', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth() });
    expect(res.body).toMatch(/herald_tracking_hits_written_total \d+/);
    expect(res.body).toContain('herald_tracking_hits_dropped_total 0');
    expect(res.body).toContain('herald_tracking_hits_buffered 0');
  });

  it('counts pixel and redirect requests by outcome, though those routes skip the per-request hooks', async () => {
    const counter = async (kind: string, outcome: string) => {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth() });
      const line = new RegExp(
        `herald_tracking_requests_total\\{kind="${kind}",outcome="${outcome}"\\} (\\d+)`,
      );
      return Number(line.exec(res.body)?.[1] ?? 'NaN');
    };
    const message = await trackedMessage();
    const before = {
      valid: await counter('open', 'valid'),
      invalid: await counter('open', 'invalid'),
      redirect: await counter('click', 'redirect'),
    };
    expect((await t.app.inject({ method: 'GET', url: message.opens[0] as string })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/o/not-a-token' })).statusCode).toBe(404);
    // clicks[0] is the hidden honeypot link.
    expect((await t.app.inject({ method: 'GET', url: message.clicks[1] as string })).statusCode).toBe(302);
    expect(await counter('open', 'valid')).toBe(before.valid + 1);
    expect(await counter('open', 'invalid')).toBe(before.invalid + 1);
    expect(await counter('click', 'redirect')).toBe(before.redirect + 1);
    // Requests to the beacons are not in the per-route histogram, which is for the API.
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth() });
    expect(res.body).not.toContain('route="/o/:token"');
  });
});
