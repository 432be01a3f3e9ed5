import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { expectUnderActiveDataKey, legacyEncrypted, rotateWorkspace } from '../helpers/data-keys.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Shopify and WooCommerce webhooks end to end: the documented payloads in
 * test/fixtures/shop, signed here with each connection's secret, posted to the
 * public routes; effects read back from the database and the API. Every
 * refused request (bad or missing signature, tampered body, unknown or other
 * platform's connection, another workspace's secret, malformed JSON, missing
 * fields or headers) changes nothing.
 */

let t: TestApp;
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'shop');
const SHOPIFY_SECRET = 'shpss_0123456789abcdef0123456789abcdef';
const WOO_SECRET = 'woo webhook secret 42';

function fixture(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8');
}

function signature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

async function call(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
  key?: string,
) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function connect(input: Record<string, unknown>, key?: string) {
  const res = await call('POST', '/v1/connectors/shops', input, key);
  if (res.status !== 201) throw new Error(`connect: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; webhook_url: string };
}

interface HookOptions {
  secret?: string;
  /** Overrides of the signed headers; undefined removes one. */
  headers?: Record<string, string | undefined>;
  /** The body sent, when it differs from the one signed. */
  sent?: string;
}

async function shopify(connectionId: string, topic: string, body: string, options: HookOptions = {}) {
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'x-shopify-topic': topic,
    'x-shopify-hmac-sha256': signature(options.secret ?? SHOPIFY_SECRET, body),
    'x-shopify-shop-domain': 'herald-test.myshopify.com',
    'x-shopify-api-version': '2025-10',
    'x-shopify-webhook-id': uuidv7(),
    ...options.headers,
  };
  const res = await t.app.inject({
    method: 'POST',
    url: `/hooks/shopify/${connectionId}`,
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    payload: options.sent ?? body,
  });
  return { status: res.statusCode, body: res.json() };
}

async function woo(connectionId: string, topic: string, body: string, options: HookOptions = {}) {
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'user-agent': 'WooCommerce/9.4.0 Hookshot (WordPress/6.7)',
    'x-wc-webhook-source': 'https://shop.example.com/',
    'x-wc-webhook-topic': topic,
    'x-wc-webhook-resource': topic.split('.')[0],
    'x-wc-webhook-event': topic.split('.')[1],
    'x-wc-webhook-signature': signature(options.secret ?? WOO_SECRET, body),
    'x-wc-webhook-id': '12',
    'x-wc-webhook-delivery-id': uuidv7(),
    ...options.headers,
  };
  const res = await t.app.inject({
    method: 'POST',
    url: `/hooks/woocommerce/${connectionId}`,
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    payload: options.sent ?? body,
  });
  return { status: res.statusCode, body: res.json() };
}

async function rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await t.container.database.pool.query(text, values)).rows as T[];
}

async function contactOf(email: string) {
  const [row] = await rows<{ id: string; attributes: Record<string, unknown> }>(
    'SELECT id, attributes FROM contacts WHERE workspace_id = $1 AND email_key = lower($2)',
    [t.workspaceId, email],
  );
  return row;
}

async function eventsOf(email: string, name?: string) {
  return rows<{ name: string; properties: Record<string, unknown>; message_id: string }>(
    `SELECT e.name, e.properties, e.message_id FROM events e JOIN contacts c ON c.id = e.contact_id
     WHERE c.workspace_id = $1 AND c.email_key = lower($2) AND ($3::text IS NULL OR e.name = $3)
     ORDER BY e.id`,
    [t.workspaceId, email, name ?? null],
  );
}

async function conversionsOf(email: string) {
  return rows<{
    event: string;
    revenue: string;
    currency: string;
    campaign_id: string | null;
    attribution: string;
  }>(
    `SELECT v.event, v.revenue::text AS revenue, v.currency, v.campaign_id, v.attribution FROM conversions v
     JOIN contacts c ON c.id = v.contact_id WHERE c.workspace_id = $1 AND c.email_key = lower($2) ORDER BY v.id`,
    [t.workspaceId, email],
  );
}

/** The conversion webhook events in the outbox (an endpoint subscribes to them), oldest first. */
async function conversionWebhooks() {
  const events = await rows<{ type: string; payload: string }>(
    `SELECT type, payload FROM webhook_events WHERE workspace_id = $1 AND type LIKE 'conversion.%' ORDER BY id`,
    [t.workspaceId],
  );
  return events.map((e) => ({ type: e.type, data: JSON.parse(e.payload).data as Record<string, unknown> }));
}

async function deliveries(connectionId: string) {
  const res = await call('GET', `/v1/connectors/shops/${connectionId}/deliveries`);
  expect(res.status).toBe(200);
  return res.body.data as { topic: string; outcome: string; detail: string | null; delivery_id: string }[];
}

function snapshot(): Promise<string> {
  return databaseSnapshot(t.container.database.pool);
}

let list: { id: string };
let shop: { id: string; webhook_url: string };
let wooShop: { id: string };

beforeAll(async () => {
  t = await createTestApp({
    HERALD_PUBLIC_URL: 'https://herald.example.com',
    HERALD_WEBHOOKS_ALLOW_HTTP: 'true',
    HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
  });
  // A CRM that follows conversions: the tests read their events from the outbox.
  const endpoint = await call('POST', '/v1/webhooks/endpoints', {
    url: 'http://127.0.0.1:9/crm',
    event_types: ['conversion.created', 'conversion.updated', 'conversion.deleted'],
  });
  expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
  expect((await call('POST', '/v1/attributes', { name: 'first_name', type: 'string' })).status).toBe(201);
  list = (
    await call('POST', '/v1/lists', { name: 'Shop customers', opt_in: 'single', visibility: 'private' })
  ).body;
  shop = await connect({
    platform: 'shopify',
    name: 'Herald test store',
    shop_url: 'https://herald-test.myshopify.com/',
    webhook_secret: SHOPIFY_SECRET,
    default_currency: 'usd',
    consent_list_id: list.id,
  });
  wooShop = await connect({
    platform: 'woocommerce',
    name: 'Woo store',
    shop_url: 'https://shop.example.com',
    webhook_secret: WOO_SECRET,
    default_currency: 'EUR',
    consent_list_id: list.id,
  });
});
afterAll(async () => {
  await t?.close();
});

describe('shop connections', () => {
  it('shows the webhook URL and topics, never the secret, and stores the secret encrypted', async () => {
    const res = await call('GET', `/v1/connectors/shops/${shop.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      platform: 'shopify',
      name: 'Herald test store',
      shop_url: 'https://herald-test.myshopify.com',
      default_currency: 'USD',
      consent_list_id: list.id,
      webhook_url: `https://herald.example.com/hooks/shopify/${shop.id}`,
    });
    expect(res.body.topics).toContain('orders/create');
    expect(JSON.stringify(res.body)).not.toContain(SHOPIFY_SECRET);
    const [stored] = await rows<{ secret_encrypted: string }>(
      'SELECT secret_encrypted FROM shop_connections WHERE id = $1',
      [shop.id],
    );
    await expectUnderActiveDataKey(t, t.workspaceId, stored?.secret_encrypted, SHOPIFY_SECRET);
    const listed = await call('GET', '/v1/connectors/shops');
    expect(listed.body.data.map((c: { id: string }) => c.id)).toEqual([shop.id, wooShop.id]);
  });

  it('verifies webhooks with a secret stored the old way and after herald keys rotate-data re-encrypted it', async () => {
    const storedSecret = async () =>
      (
        await rows<{ secret_encrypted: string }>(
          'SELECT secret_encrypted FROM shop_connections WHERE id = $1',
          [wooShop.id],
        )
      )[0]?.secret_encrypted;
    // A topic Herald ignores: only the signature check matters here, and no contact is made.
    const body = '{"id": 7, "name": "Key rotation"}';
    // A secret written before data keys (master key directly, same purpose) still verifies.
    await rows('UPDATE shop_connections SET secret_encrypted = $1 WHERE id = $2', [
      legacyEncrypted(WOO_SECRET, `shop_connections:${wooShop.id}`),
      wooShop.id,
    ]);
    expect((await woo(wooShop.id, 'product.created', body)).status).toBe(200);
    const before = await storedSecret();
    const keyId = await rotateWorkspace(t, t.workspaceId);
    const after = await storedSecret();
    expect(after).not.toBe(before);
    await expectUnderActiveDataKey(t, t.workspaceId, after, WOO_SECRET);
    expect(after).toMatch(new RegExp(`^hdk1\\.${keyId}\\.`));
    // The re-encrypted secret verifies; a wrong one still does not.
    expect((await woo(wooShop.id, 'product.created', body)).status).toBe(200);
    expect((await woo(wooShop.id, 'product.created', body, { secret: 'not the secret' })).status).toBe(401);
  });

  it.each([
    [{ shop_url: 'ftp://shop.example.com' }, '/shop_url'],
    [{ shop_url: 'not a url' }, '/shop_url'],
    [{ default_currency: 'XYZ' }, '/default_currency'],
    [{ consent_list_id: '01890000-0000-7000-8000-000000000000' }, '/consent_list_id'],
    [{ webhook_secret: ' padded secret ' }, '/webhook_secret'],
  ])('refuses %j with 400 naming the field, and stores nothing', async (change, path) => {
    const before = await snapshot();
    const res = await call('POST', '/v1/connectors/shops', {
      platform: 'woocommerce',
      name: 'Bad',
      shop_url: 'https://shop.example.com',
      webhook_secret: 'long enough secret',
      ...change,
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SHOP_CONNECTION_INVALID');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    expect(await snapshot()).toBe(before);
  });

  it('refuses an unknown platform, a short secret and a taken name', async () => {
    const before = await snapshot();
    const base = { name: 'X', shop_url: 'https://x.example.com', webhook_secret: 'long enough secret' };
    expect((await call('POST', '/v1/connectors/shops', { ...base, platform: 'magento' })).status).toBe(400);
    expect(
      (await call('POST', '/v1/connectors/shops', { ...base, platform: 'shopify', webhook_secret: 'short' }))
        .status,
    ).toBe(400);
    const taken = await call('POST', '/v1/connectors/shops', {
      ...base,
      platform: 'shopify',
      name: 'HERALD TEST STORE',
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('SHOP_CONNECTION_EXISTS');
    expect(await snapshot()).toBe(before);
  });

  it('changes, and deletes a connection, whose webhook URL then answers 404', async () => {
    const extra = await connect({
      platform: 'shopify',
      name: 'Temporary',
      shop_url: 'https://temp.myshopify.com',
      webhook_secret: 'first secret value',
    });
    const patched = await call('PATCH', `/v1/connectors/shops/${extra.id}`, {
      name: 'Renamed',
      webhook_secret: 'second secret value',
      consent_list_id: null,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Renamed', consent_list_id: null, default_currency: 'USD' });
    const body = fixture('shopify/customers-create.json');
    // The old secret no longer verifies; the new one does.
    expect((await shopify(extra.id, 'customers/create', body, { secret: 'first secret value' })).status).toBe(
      401,
    );
    expect(
      (await call('PATCH', `/v1/connectors/shops/${extra.id}`, { name: 'Herald test store' })).status,
    ).toBe(409);
    expect((await call('DELETE', `/v1/connectors/shops/${extra.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/connectors/shops/${extra.id}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/connectors/shops/${extra.id}`)).status).toBe(404);
    const gone = await shopify(extra.id, 'customers/create', body, { secret: 'second secret value' });
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('SHOP_CONNECTION_NOT_FOUND');
  });

  it("hides another workspace's connection and its deliveries", async () => {
    const other = await t.createWorkspace('Elsewhere');
    expect((await call('GET', `/v1/connectors/shops/${shop.id}`, undefined, other.adminKey)).status).toBe(
      404,
    );
    expect(
      (await call('GET', `/v1/connectors/shops/${shop.id}/deliveries`, undefined, other.adminKey)).status,
    ).toBe(404);
    expect((await call('GET', '/v1/connectors/shops', undefined, other.adminKey)).body.data).toEqual([]);
  });
});

describe('Shopify webhooks', () => {
  it('customers/create: creates the contact, names it where the workspace has the attribute, subscribes on consent', async () => {
    const res = await shopify(shop.id, 'customers/create', fixture('shopify/customers-create.json'));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('applied');
    const contact = await contactOf('bob@example.com');
    // first_name is a workspace attribute; last_name is not, so it is not invented.
    expect(contact?.attributes).toEqual({ first_name: 'Bob' });
    const [link] = await rows<{ contact_id: string }>(
      'SELECT contact_id FROM shop_customers WHERE connection_id = $1 AND customer_id = $2',
      [shop.id, '207119551'],
    );
    expect(link?.contact_id).toBe(contact?.id);
    const [member] = await rows<{ status: string }>(
      'SELECT status FROM list_memberships WHERE list_id = $1 AND contact_id = $2',
      [list.id, contact?.id],
    );
    expect(member?.status).toBe('confirmed');
  });

  it('never subscribes a customer whose consent is not "subscribed"', async () => {
    const body = JSON.parse(fixture('shopify/customers-create.json'));
    body.email = 'nina@example.com';
    body.admin_graphql_api_id = 'gid://shopify/Customer/207119552';
    body.email_marketing_consent.state = 'not_subscribed';
    expect((await shopify(shop.id, 'customers/update', JSON.stringify(body))).status).toBe(200);
    const contact = await contactOf('nina@example.com');
    expect(contact).toBeDefined();
    expect(await rows('SELECT 1 FROM list_memberships WHERE contact_id = $1', [contact?.id])).toEqual([]);
  });

  it('orders/create: Order Completed on the contact and a conversion attributed to the last campaign click', async () => {
    // The buyer exists and clicked a campaign link an hour ago.
    await call('POST', '/v1/contacts', { email: 'jon@example.com' });
    const campaign = (await call('POST', '/v1/campaigns', { name: 'Winter sale' })).body;
    const buyer = await contactOf('jon@example.com');
    const clickId = uuidv7(t.clock.now().getTime() - 3_600_000);
    await rows(
      `INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
       VALUES ($1, $2, $3, $4, $5, 'click', $6, 'human')`,
      [
        clickId,
        t.workspaceId,
        campaign.id,
        buyer?.id,
        uuidv7(),
        new Date(t.clock.now().getTime() - 3_600_000),
      ],
    );

    const res = await shopify(shop.id, 'orders/create', fixture('shopify/orders-create.json'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'applied', detail: 'order 450789469: Order Completed' });
    const [completed] = await eventsOf('jon@example.com', 'Order Completed');
    expect(completed?.properties).toMatchObject({
      order_id: '450789469',
      order_number: '1234',
      cart_id: 'bd5a8aa1ecd019dd3520ff791ee3a24c',
      total: 403,
      revenue: 388,
      shipping: 10,
      tax: 5,
      discount: 20,
      coupon: 'WINTER20',
      currency: 'USD',
      shop_platform: 'shopify',
    });
    expect(completed?.properties.products).toEqual([
      expect.objectContaining({ product_id: '632910392', sku: 'IPOD2008PINK', price: 199, quantity: 1 }),
      expect.objectContaining({ product_id: '632910392', name: 'IPod Nano - 8GB', position: 2 }),
    ]);
    expect(await conversionsOf('jon@example.com')).toEqual([
      {
        event: 'Order Completed',
        revenue: '403.000000',
        currency: 'USD',
        campaign_id: campaign.id,
        attribution: 'last_click',
      },
    ]);
    // Pending payment: no Order Paid yet.
    expect(await eventsOf('jon@example.com', 'Order Paid')).toEqual([]);
    const report = await call('GET', `/v1/campaigns/${campaign.id}/report`);
    expect(report.body.conversions).toEqual({
      count: 1,
      revenue: [{ currency: 'USD', amount: '403.00', conversions: 1 }],
    });
  });

  it('a duplicate delivery (same webhook id, or same event id) changes nothing', async () => {
    const body = fixture('shopify/orders-paid.json');
    const webhookId = 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043';
    const first = await shopify(shop.id, 'orders/paid', body, {
      headers: {
        'x-shopify-webhook-id': webhookId,
        'x-shopify-event-id': '98880550-7158-44d4-b7cd-2c97c8a091b5',
      },
    });
    expect(first.body).toMatchObject({ outcome: 'applied', detail: 'order 450789469: Order Paid' });
    const before = await snapshot();
    const again = await shopify(shop.id, 'orders/paid', body, {
      headers: { 'x-shopify-webhook-id': webhookId },
    });
    expect(again).toEqual({ status: 200, body: { outcome: 'duplicate', detail: null } });
    const sameEvent = await shopify(shop.id, 'orders/paid', body, {
      headers: { 'x-shopify-event-id': '98880550-7158-44d4-b7cd-2c97c8a091b5' },
    });
    expect(sameEvent.body.outcome).toBe('duplicate');
    expect(await snapshot()).toBe(before);
  });

  it('orders/updated of a known order records neither Order Completed nor the conversion again', async () => {
    const res = await shopify(shop.id, 'orders/updated', fixture('shopify/orders-paid.json'));
    expect(res.body).toMatchObject({ outcome: 'applied', detail: 'order 450789469: nothing new' });
    expect((await eventsOf('jon@example.com', 'Order Completed')).length).toBe(1);
    expect((await eventsOf('jon@example.com', 'Order Paid')).length).toBe(1);
    expect((await conversionsOf('jon@example.com')).length).toBe(1);
  });

  it('refunds/create: Order Refunded, and the conversion revenue is net of it while the count stays 1', async () => {
    const body = fixture('shopify/refunds-create.json');
    const res = await shopify(shop.id, 'refunds/create', body);
    expect(res.body).toMatchObject({ outcome: 'applied', detail: 'Order Refunded 509562969' });
    const [refunded] = await eventsOf('jon@example.com', 'Order Refunded');
    // Only the successful refund transaction counts (100.50, not the failed 50.00).
    expect(refunded?.properties).toMatchObject({
      order_id: '450789469',
      refund_id: '509562969',
      total: 100.5,
    });
    const conversions = await conversionsOf('jon@example.com');
    expect(conversions.map((c) => [c.event, c.revenue, c.campaign_id])).toEqual([
      ['Order Completed', '302.500000', conversions[0]?.campaign_id],
    ]);
    const report = await call('GET', `/v1/campaigns/${conversions[0]?.campaign_id}/report`);
    expect(report.body.conversions).toEqual({
      count: 1,
      revenue: [{ currency: 'USD', amount: '302.50', conversions: 1 }],
    });
    // A CRM that counted the order learns its new revenue, and what it was.
    const updated = (await conversionWebhooks()).filter((e) => e.type === 'conversion.updated');
    expect(updated).toHaveLength(1);
    expect(Number(updated[0]?.data.revenue)).toBe(302.5);
    expect(Number(updated[0]?.data.previous_revenue)).toBe(403);
    expect(updated[0]?.data).toMatchObject({
      currency: 'USD',
      campaign_id: conversions[0]?.campaign_id,
      event: 'Order Completed',
    });
    // The same refund under a new webhook id (Shopify retries with new ids at times): once only.
    const before = await rows('SELECT * FROM conversions ORDER BY id');
    const webhooksBefore = await conversionWebhooks();
    expect((await shopify(shop.id, 'refunds/create', body)).body.detail).toBe(
      'refund 509562969: recorded before',
    );
    expect(await rows('SELECT * FROM conversions ORDER BY id')).toEqual(before);
    expect(await conversionWebhooks()).toEqual(webhooksBefore);
    expect((await eventsOf('jon@example.com', 'Order Refunded')).length).toBe(1);
  });

  it('refuses a cancel signed with another secret or with a tampered body (401): the conversion stays', async () => {
    const before = await snapshot();
    const body = fixture('shopify/orders-cancelled.json');
    expect((await shopify(shop.id, 'orders/cancelled', body, { secret: WOO_SECRET })).status).toBe(401);
    const tampered = body.replace('"cancel_reason": "customer"', '"cancel_reason": "fraud"');
    expect((await shopify(shop.id, 'orders/cancelled', body, { sent: tampered })).status).toBe(401);
    expect(
      (await shopify(shop.id, 'orders/cancelled', body, { headers: { 'x-shopify-hmac-sha256': undefined } }))
        .status,
    ).toBe(401);
    expect(await snapshot()).toBe(before);
    expect((await conversionsOf('jon@example.com')).length).toBe(1);
  });

  it('orders/cancelled: the conversion leaves the campaign report and the holdout lift; Order Cancelled once', async () => {
    const [converted] = await conversionsOf('jon@example.com');
    const campaignId = converted?.campaign_id as string;
    // The campaign went out two hours ago to jon, with a holdout group.
    const buyer = await contactOf('jon@example.com');
    await rows(`UPDATE campaigns SET holdout_share = 0.1, started_at = $2 WHERE id = $1`, [
      campaignId,
      new Date(t.clock.now().getTime() - 7_200_000),
    ]);
    await rows(
      `INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, created_at)
       VALUES ($1, $2, $3, $4, 'sent', $5)`,
      [campaignId, buyer?.id, t.workspaceId, `<${uuidv7()}@herald.test>`, t.clock.now()],
    );
    const lift = async () => (await call('GET', `/v1/campaigns/${campaignId}/holdout`)).body;
    expect((await lift()).treated).toMatchObject({ contacts: 1, converters: 1 });

    const res = await shopify(shop.id, 'orders/cancelled', fixture('shopify/orders-cancelled.json'));
    expect(res.body).toEqual({
      outcome: 'applied',
      detail: 'order 450789469 cancelled: Order Cancelled, conversion removed',
    });
    expect(await conversionsOf('jon@example.com')).toEqual([]);
    const report = await call('GET', `/v1/campaigns/${campaignId}/report`);
    expect(report.body.conversions).toEqual({ count: 0, revenue: [] });
    // A CRM that counted the order takes it out again: the same conversion id as its conversion.created.
    const webhooks = await conversionWebhooks();
    const ofBuyer = (e: { data: Record<string, unknown> }) =>
      (e.data.contact as { id: string } | undefined)?.id === buyer?.id;
    const created = webhooks.filter((e) => e.type === 'conversion.created' && ofBuyer(e));
    const deleted = webhooks.filter((e) => e.type === 'conversion.deleted');
    expect(created).toHaveLength(1);
    expect(deleted).toHaveLength(1);
    expect(deleted[0]?.data).toMatchObject({
      conversion_id: created[0]?.data.conversion_id,
      campaign_id: campaignId,
      currency: 'USD',
      contact: { id: buyer?.id },
    });
    expect((await lift()).treated).toMatchObject({ contacts: 1, converters: 0 });
    const [cancelled] = await eventsOf('jon@example.com', 'Order Cancelled');
    expect(cancelled?.properties).toMatchObject({
      order_id: '450789469',
      total: 403,
      currency: 'USD',
      reason: 'customer',
      shop_platform: 'shopify',
    });

    // Repeats (a new webhook id, or orders/updated that carries the cancel) change nothing.
    const counts = async () =>
      rows(
        `SELECT (SELECT count(*) FROM conversions)::int AS conversions, (SELECT count(*) FROM events)::int AS events,
                (SELECT coalesce(sum(conversions), 0)::int FROM analytics_conversions) AS rolled_up`,
      );
    const before = await counts();
    expect(
      (await shopify(shop.id, 'orders/cancelled', fixture('shopify/orders-cancelled.json'))).body.detail,
    ).toBe('order 450789469: cancelled before');
    expect(
      (await shopify(shop.id, 'orders/updated', fixture('shopify/orders-cancelled.json'))).body.detail,
    ).toBe('order 450789469: cancelled before');
    // An older update delivered late (no cancelled_at) never counts the order again.
    expect((await shopify(shop.id, 'orders/updated', fixture('shopify/orders-paid.json'))).body).toEqual({
      outcome: 'ignored',
      detail: 'order 450789469 was cancelled: Herald does not count it again',
    });
    expect(await counts()).toEqual(before);

    // A refund after the cancel is an event only: there is no conversion to net it against.
    const refund = JSON.parse(fixture('shopify/refunds-create.json'));
    refund.admin_graphql_api_id = 'gid://shopify/Refund/509562970';
    const refunded = await shopify(shop.id, 'refunds/create', JSON.stringify(refund));
    expect(refunded.body).toEqual({ outcome: 'applied', detail: 'Order Refunded 509562970' });
    expect(await conversionsOf('jon@example.com')).toEqual([]);
  });

  it('a cancel that arrives before its order: the order is never counted, no contact is created', async () => {
    const order = JSON.parse(fixture('shopify/orders-cancelled.json'));
    order.id = 450789475;
    order.admin_graphql_api_id = 'gid://shopify/Order/450789475';
    order.email = 'early@example.com';
    order.contact_email = 'early@example.com';
    order.customer.id = 207119555;
    order.customer.admin_graphql_api_id = 'gid://shopify/Customer/207119555';
    order.customer.email = 'early@example.com';
    const res = await shopify(shop.id, 'orders/cancelled', JSON.stringify(order));
    expect(res.body).toEqual({
      outcome: 'applied',
      detail: 'order 450789475: cancelled before Herald saw it; it will not be counted',
    });
    const { cancelled_at: _cancelledAt, cancel_reason: _reason, ...placed } = order;
    const late = await shopify(shop.id, 'orders/create', JSON.stringify(placed));
    expect(late.body).toEqual({
      outcome: 'ignored',
      detail: 'order 450789475 was cancelled: Herald does not count it again',
    });
    expect(await contactOf('early@example.com')).toBeUndefined();
    expect(
      await rows('SELECT 1 FROM conversions WHERE idempotency_key LIKE $1', ['%:order:450789475']),
    ).toEqual([]);
  });

  it.each([
    ['cancelled_at that is not a date', { cancelled_at: 42 }, '/cancelled_at'],
    ['no order id', { id: undefined, admin_graphql_api_id: undefined }, '/id'],
    ['a bad total', { total_price: 'lots' }, '/total_price'],
  ] as [string, Record<string, unknown>, string][])(
    'refuses a cancel with %s (400), and changes nothing',
    async (_name, change, path) => {
      const before = await snapshot();
      const order = { ...JSON.parse(fixture('shopify/orders-cancelled.json')), ...change };
      order.admin_graphql_api_id = change.admin_graphql_api_id ?? 'gid://shopify/Order/450789480';
      if ('id' in change) delete order.admin_graphql_api_id;
      const res = await shopify(shop.id, 'orders/cancelled', JSON.stringify(order));
      expect(res.status).toBe(400);
      expect(res.body.errors[0].path).toBe(path);
      expect(await snapshot()).toBe(before);
    },
  );

  it("an order from an address the workspace's hygiene policy refuses is ignored and logged without the address", async () => {
    const order = JSON.parse(fixture('shopify/orders-create.json'));
    order.admin_graphql_api_id = 'gid://shopify/Order/450789471';
    order.email = 'throwaway@mailinator.com';
    order.customer.email = 'throwaway@mailinator.com';
    const res = await shopify(shop.id, 'orders/create', JSON.stringify(order));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('ignored');
    expect(res.body.detail).toContain('INVALID_EMAIL');
    expect(res.body.detail).not.toContain('mailinator');
    expect(await contactOf('throwaway@mailinator.com')).toBeUndefined();
    expect(await rows('SELECT 1 FROM shop_orders WHERE order_id = $1', ['450789471'])).toEqual([]);
    expect(JSON.stringify(await deliveries(shop.id))).not.toContain('mailinator');
  });

  it('a refund of an order Herald never saw is ignored and logged', async () => {
    const body = JSON.parse(fixture('shopify/refunds-create.json'));
    body.admin_graphql_api_id = 'gid://shopify/Refund/1';
    body.order_id = 999;
    const res = await shopify(shop.id, 'refunds/create', JSON.stringify(body));
    expect(res.body).toMatchObject({ outcome: 'ignored' });
    expect(res.body.detail).toContain('has not seen');
  });

  it('checkouts/create and checkouts/update: Checkout Started and Cart Updated with the cart URL and items', async () => {
    expect(
      (await shopify(shop.id, 'checkouts/create', fixture('shopify/checkouts-create.json'))).status,
    ).toBe(200);
    expect(
      (await shopify(shop.id, 'checkouts/update', fixture('shopify/checkouts-update.json'))).status,
    ).toBe(200);
    const events = await eventsOf('carla@example.com');
    expect(events.map((e) => e.name)).toEqual(['Checkout Started', 'Cart Updated']);
    expect(events[1]?.properties).toMatchObject({
      cart_id: 'bd5a8aa1ecd019dd3520ff791ee3a24c',
      cart_url: 'https://checkout.local/548380009/checkouts/123123123?key=example-secret-token',
      value: 597,
      currency: 'USD',
      products: [expect.objectContaining({ sku: 'IPOD2008PINK', quantity: 3, price: 199 })],
    });
    // A checkout is no purchase: no conversion, and no subscription without consent.
    expect(await conversionsOf('carla@example.com')).toEqual([]);
    const carla = await contactOf('carla@example.com');
    expect(await rows('SELECT 1 FROM list_memberships WHERE contact_id = $1', [carla?.id])).toEqual([]);
  });

  it('answers 200 to topics it does not act on, logs them, and stores nothing else', async () => {
    const before = await rows<{ n: string }>('SELECT count(*)::text AS n FROM events');
    const cart = await shopify(shop.id, 'carts/update', fixture('shopify/carts-update.json'));
    expect(cart.body.outcome).toBe('ignored');
    const product = await shopify(
      shop.id,
      'products/create',
      '{"id": 632910392, "title": "IPod Nano - 8GB"}',
    );
    expect(product.body).toEqual({
      outcome: 'ignored',
      detail: 'topic products/create is not one Herald acts on',
    });
    expect(await rows<{ n: string }>('SELECT count(*)::text AS n FROM events')).toEqual(before);
    const log = await deliveries(shop.id);
    expect(log[0]).toMatchObject({ topic: 'products/create', outcome: 'ignored' });
    expect(log[1]).toMatchObject({ topic: 'carts/update', outcome: 'ignored' });
    expect(log.some((d) => d.topic === 'orders/create' && d.outcome === 'applied')).toBe(true);
  });
});

describe('refused Shopify requests change nothing', () => {
  const order = () => fixture('shopify/orders-create.json');
  const cases: [
    string,
    () => Promise<{ status: number; body: { code?: string; detail?: string } }>,
    number,
    string,
  ][] = [
    [
      'signed with another secret',
      () => shopify(shop.id, 'orders/create', order(), { secret: 'not the secret at all' }),
      401,
      'WEBHOOK_SIGNATURE_INVALID',
    ],
    [
      'a tampered body',
      () => shopify(shop.id, 'orders/create', order(), { sent: order().replace('403.00', '4.00') }),
      401,
      'WEBHOOK_SIGNATURE_INVALID',
    ],
    [
      'no signature header',
      () => shopify(shop.id, 'orders/create', order(), { headers: { 'x-shopify-hmac-sha256': undefined } }),
      401,
      'WEBHOOK_SIGNATURE_INVALID',
    ],
    [
      'a signature that is not base64',
      () =>
        shopify(shop.id, 'orders/create', order(), { headers: { 'x-shopify-hmac-sha256': 'sha256=abc' } }),
      401,
      'WEBHOOK_SIGNATURE_INVALID',
    ],
    [
      'an unknown connection',
      () => shopify(uuidv7(), 'orders/create', order()),
      404,
      'SHOP_CONNECTION_NOT_FOUND',
    ],
    [
      'a malformed connection id',
      () => shopify('not-a-uuid', 'orders/create', order()),
      404,
      'SHOP_CONNECTION_NOT_FOUND',
    ],
    [
      "a WooCommerce connection's id",
      () => shopify(wooShop.id, 'orders/create', order(), { secret: WOO_SECRET }),
      404,
      'SHOP_CONNECTION_NOT_FOUND',
    ],
    [
      'malformed JSON, signed',
      () => shopify(shop.id, 'orders/create', '{"id": 1, "total_price": '),
      400,
      'WEBHOOK_PAYLOAD_INVALID',
    ],
    ['a JSON array, signed', () => shopify(shop.id, 'orders/create', '[]'), 400, 'WEBHOOK_PAYLOAD_INVALID'],
    [
      'an order without total_price',
      () => shopify(shop.id, 'orders/create', order().replace('"total_price": "403.00",', '')),
      400,
      'WEBHOOK_PAYLOAD_INVALID',
    ],
    [
      'an order with a line item without quantity',
      () => shopify(shop.id, 'orders/create', order().replace('"quantity": 1,', '')),
      400,
      'WEBHOOK_PAYLOAD_INVALID',
    ],
    [
      'a refund without order_id',
      () =>
        shopify(
          shop.id,
          'refunds/create',
          fixture('shopify/refunds-create.json').replace(
            '"order_id": 450789469,\n  "created_at"',
            '"created_at"',
          ),
        ),
      400,
      'WEBHOOK_PAYLOAD_INVALID',
    ],
    [
      'no topic header',
      () => shopify(shop.id, 'orders/create', order(), { headers: { 'x-shopify-topic': undefined } }),
      400,
      'WEBHOOK_PAYLOAD_INVALID',
    ],
    [
      'no webhook id header',
      () => shopify(shop.id, 'orders/create', order(), { headers: { 'x-shopify-webhook-id': undefined } }),
      400,
      'WEBHOOK_PAYLOAD_INVALID',
    ],
  ];

  it.each(cases)('%s', async (_name, send, status, code) => {
    const before = await snapshot();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.detail).toBeTruthy();
    expect(await snapshot()).toBe(before);
  });

  it('names the missing field', async () => {
    const res = await shopify(shop.id, 'orders/create', order().replace('"total_price": "403.00",', ''));
    expect(res.body.detail).toBe(
      'orders/create payload: /total_price: is required as a decimal amount such as "19.99"',
    );
    expect(res.body.errors).toEqual([
      { path: '/total_price', message: 'is required as a decimal amount such as "19.99"' },
    ]);
  });

  it("refuses workspace A's connection signed with workspace B's secret", async () => {
    const other = await t.createWorkspace('Other shop owner');
    const theirs = await connect(
      {
        platform: 'shopify',
        name: 'Their store',
        shop_url: 'https://theirs.myshopify.com',
        webhook_secret: 'their own secret value',
      },
      other.adminKey,
    );
    const before = await snapshot();
    const res = await shopify(shop.id, 'orders/create', order(), { secret: 'their own secret value' });
    expect(res.status).toBe(401);
    // And their connection does not take ours.
    expect((await shopify(theirs.id, 'orders/create', order())).status).toBe(401);
    expect(await snapshot()).toBe(before);
  });
});

describe('WooCommerce webhooks', () => {
  it('answers the unsigned ping WooCommerce sends when a webhook is saved, storing nothing', async () => {
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: `/hooks/woocommerce/${wooShop.id}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'webhook_id=12',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ outcome: 'ping', detail: null });
    expect(await snapshot()).toBe(before);
    // Any other unsigned body is refused.
    const unsigned = await t.app.inject({
      method: 'POST',
      url: `/hooks/woocommerce/${wooShop.id}`,
      headers: { 'content-type': 'application/json', 'x-wc-webhook-topic': 'order.created' },
      payload: fixture('woocommerce/order-created.json'),
    });
    expect(unsigned.statusCode).toBe(401);
    expect(await snapshot()).toBe(before);
  });

  it('customer.created: creates the contact but never subscribes (WooCommerce has no marketing consent)', async () => {
    const res = await woo(wooShop.id, 'customer.created', fixture('woocommerce/customer-created.json'));
    expect(res.body.outcome).toBe('applied');
    const contact = await contactOf('john.doe@example.com');
    expect(contact?.attributes).toEqual({ first_name: 'John' });
    expect(await rows('SELECT 1 FROM list_memberships WHERE contact_id = $1', [contact?.id])).toEqual([]);
  });

  it('order.created (processing, paid): Order Completed, Order Paid and one conversion', async () => {
    const res = await woo(wooShop.id, 'order.created', fixture('woocommerce/order-created.json'));
    expect(res.body).toMatchObject({ outcome: 'applied', detail: 'order 727: Order Completed, Order Paid' });
    const events = await eventsOf('john.doe@example.com');
    expect(events.map((e) => e.name)).toEqual(['Order Completed', 'Order Paid']);
    expect(events[0]?.properties).toMatchObject({
      order_id: '727',
      total: 29.35,
      revenue: 18,
      currency: 'EUR',
      shop_platform: 'woocommerce',
      products: [
        expect.objectContaining({ product_id: '93', name: 'Woo Single #1', quantity: 2, price: 3 }),
        expect.objectContaining({ product_id: '22', variant: '23', sku: 'SYI-BLACK-M' }),
      ],
    });
    expect(
      (await conversionsOf('john.doe@example.com')).map((c) => [c.event, c.revenue, c.currency]),
    ).toEqual([['Order Completed', '29.350000', 'EUR']]);
  });

  it('order.updated with a refund: Order Refunded and net revenue, once across redeliveries', async () => {
    const body = fixture('woocommerce/order-updated-refund.json');
    const res = await woo(wooShop.id, 'order.updated', body);
    expect(res.body).toMatchObject({ outcome: 'applied', detail: 'order 727: Order Refunded 726' });
    const duplicate = await woo(wooShop.id, 'order.updated', body, {
      headers: { 'x-wc-webhook-delivery-id': 'same-delivery' },
    });
    expect(duplicate.body.outcome).toBe('applied');
    expect(
      (
        await woo(wooShop.id, 'order.updated', body, {
          headers: { 'x-wc-webhook-delivery-id': 'same-delivery' },
        })
      ).body.outcome,
    ).toBe('duplicate');
    expect((await eventsOf('john.doe@example.com', 'Order Refunded')).length).toBe(1);
    expect((await conversionsOf('john.doe@example.com')).map((c) => [c.event, c.revenue])).toEqual([
      ['Order Completed', '19.350000'],
    ]);
  });

  it('order.updated to cancelled: the conversion goes, once; a late processing update does not bring it back', async () => {
    const body = fixture('woocommerce/order-updated-cancelled.json');
    const res = await woo(wooShop.id, 'order.updated', body);
    expect(res.body).toEqual({
      outcome: 'applied',
      detail: 'order 727 cancelled: Order Cancelled, conversion removed',
    });
    expect(await conversionsOf('john.doe@example.com')).toEqual([]);
    expect((await eventsOf('john.doe@example.com', 'Order Cancelled'))[0]?.properties).toMatchObject({
      order_id: '727',
      currency: 'EUR',
      reason: 'cancelled',
    });
    expect((await woo(wooShop.id, 'order.updated', body)).body.detail).toBe('order 727: cancelled before');
    expect((await woo(wooShop.id, 'order.updated', fixture('woocommerce/order-created.json'))).body).toEqual({
      outcome: 'ignored',
      detail: 'order 727 was cancelled: Herald does not count it again',
    });
    expect((await eventsOf('john.doe@example.com', 'Order Cancelled')).length).toBe(1);
    expect(await conversionsOf('john.doe@example.com')).toEqual([]);
  });

  it('failed: takes back an order Herald counted; a new order that failed stays a checkout', async () => {
    const order = JSON.parse(fixture('woocommerce/order-created.json'));
    order.id = 730;
    order.billing.email = 'fay@example.com';
    expect((await woo(wooShop.id, 'order.created', JSON.stringify(order))).body.outcome).toBe('applied');
    expect((await conversionsOf('fay@example.com')).length).toBe(1);
    const failed = await woo(wooShop.id, 'order.updated', JSON.stringify({ ...order, status: 'failed' }));
    expect(failed.body.detail).toBe('order 730 cancelled: Order Cancelled, conversion removed');
    expect(await conversionsOf('fay@example.com')).toEqual([]);

    const fresh = {
      ...order,
      id: 732,
      status: 'failed',
      billing: { ...order.billing, email: 'gus@example.com' },
    };
    const checkout = await woo(wooShop.id, 'order.created', JSON.stringify(fresh));
    expect(checkout.body).toEqual({ outcome: 'applied', detail: 'Checkout Started for checkout 732' });
    expect(await rows('SELECT 1 FROM shop_orders WHERE order_id = $1', ['732'])).toEqual([]);
    // Paid on a second try: counted as usual.
    const paid = await woo(wooShop.id, 'order.updated', JSON.stringify({ ...fresh, status: 'processing' }));
    expect(paid.body.detail).toBe('order 732: Order Completed, Order Paid');
    expect((await conversionsOf('gus@example.com')).length).toBe(1);
  });

  it('order.deleted (only the id, as WooCommerce sends it) takes the conversion back', async () => {
    const order = JSON.parse(fixture('woocommerce/order-created.json'));
    order.id = 731;
    order.billing.email = 'hal@example.com';
    await woo(wooShop.id, 'order.created', JSON.stringify(order));
    expect((await conversionsOf('hal@example.com')).length).toBe(1);
    const res = await woo(wooShop.id, 'order.deleted', fixture('woocommerce/order-deleted.json'));
    expect(res.body).toEqual({
      outcome: 'applied',
      detail: 'order 731 cancelled: Order Cancelled, conversion removed',
    });
    expect(await conversionsOf('hal@example.com')).toEqual([]);
    expect((await eventsOf('hal@example.com', 'Order Cancelled'))[0]?.properties).toMatchObject({
      order_id: '731',
      reason: 'deleted',
    });
  });

  it('refuses order.deleted signed with the Shopify secret or tampered (401), and changes nothing', async () => {
    const before = await snapshot();
    const body = fixture('woocommerce/order-deleted.json');
    expect((await woo(wooShop.id, 'order.deleted', body, { secret: SHOPIFY_SECRET })).status).toBe(401);
    expect((await woo(wooShop.id, 'order.deleted', body, { sent: body.replace('731', '727') })).status).toBe(
      401,
    );
    expect(await snapshot()).toBe(before);
  });

  it.each([
    ['no id', '{}', '/id'],
    ['an id of the wrong type', '{"id": true}', '/id'],
    ['a body that is not an object', '[731]', '/'],
  ])('refuses order.deleted with %s (400), and changes nothing', async (_name, body, path) => {
    const before = await snapshot();
    const res = await woo(wooShop.id, 'order.deleted', body);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe(path);
    expect(await snapshot()).toBe(before);
  });

  it('an unpaid order (pending) is a Checkout Started with the payment URL, not a purchase', async () => {
    const res = await woo(wooShop.id, 'order.created', fixture('woocommerce/order-created-pending.json'));
    expect(res.body.outcome).toBe('applied');
    const [started] = await eventsOf('carla@example.com', 'Checkout Started');
    expect(started).toBeDefined();
    const wooStarted = (await eventsOf('carla@example.com', 'Checkout Started')).find(
      (e) => e.properties.shop_platform === 'woocommerce',
    );
    expect(wooStarted?.properties).toMatchObject({
      cart_id: '728',
      cart_url: 'https://example.com/checkout/order-pay/728/?pay_for_order=true&key=wc_order_abc',
      value: 29.35,
      currency: 'EUR',
    });
    expect(await conversionsOf('carla@example.com')).toEqual([]);
  });

  it('ignores topics it does not act on with 200, and logs them', async () => {
    const res = await woo(wooShop.id, 'product.created', '{"id": 93, "name": "Woo Single #1"}');
    expect(res.body).toEqual({
      outcome: 'ignored',
      detail: 'topic product.created is not one Herald acts on',
    });
    expect((await deliveries(wooShop.id))[0]).toMatchObject({ topic: 'product.created', outcome: 'ignored' });
  });

  it.each([
    ['signed with the Shopify secret', { secret: SHOPIFY_SECRET }, 401],
    ['no signature', { headers: { 'x-wc-webhook-signature': undefined } }, 401],
    [
      'a tampered body',
      { sent: fixture('woocommerce/order-created.json').replace('"29.35"', '"0.01"') },
      401,
    ],
    ['no delivery id', { headers: { 'x-wc-webhook-delivery-id': undefined } }, 400],
  ] as [string, HookOptions, number][])('refuses %s and changes nothing', async (_name, options, status) => {
    const before = await snapshot();
    const res = await woo(wooShop.id, 'order.created', fixture('woocommerce/order-created.json'), options);
    expect(res.status).toBe(status);
    expect(await snapshot()).toBe(before);
  });

  it('refuses an order without status or with a bad total with 400, and changes nothing', async () => {
    const before = await snapshot();
    const noStatus = await woo(
      wooShop.id,
      'order.created',
      fixture('woocommerce/order-created.json').replace('"status": "processing",', ''),
    );
    expect(noStatus.status).toBe(400);
    expect(noStatus.body.errors).toEqual([{ path: '/status', message: 'is required: the order status' }]);
    const badTotal = await woo(
      wooShop.id,
      'order.created',
      fixture('woocommerce/order-created.json').replace('"total": "29.35"', '"total": "lots"'),
    );
    expect(badTotal.status).toBe(400);
    expect(badTotal.body.errors[0].path).toBe('/total');
    expect(await snapshot()).toBe(before);
  });
});

describe('abandoned-cart journeys from shop events', () => {
  it('a Shopify checkout enrols the contact once per cart, with the cart URL as run data; the order ends the run', async () => {
    // Later than the earlier tests' checkouts, which must not enrol.
    t.clock.set(new Date(t.clock.now().getTime() + 3_600_000));
    const template = await call('POST', '/v1/templates', {
      name: 'Cart reminder',
      format: 'html',
      subject: 'You left something behind',
      body: '<p><a href="{{ automation.data.cart_url }}">Back to your cart</a></p>',
    });
    expect(template.status).toBe(201);
    const created = await call('POST', '/v1/automations', {
      name: 'Abandoned cart',
      definition: {
        trigger: { type: 'event', event: 'Checkout Started' },
        sender: { from_email: 'news@shop.example' },
        instance_key: 'cart_id',
        goal: { event: 'Order Completed', node: 'purchased' },
        start: 'wait',
        nodes: [
          { id: 'wait', type: 'wait', for: { hours: 4 }, next: 'reminder' },
          { id: 'reminder', type: 'send_email', template: 'Cart reminder', next: 'done' },
          { id: 'purchased', type: 'goal' },
          { id: 'done', type: 'exit' },
        ],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await call('POST', `/v1/automations/${created.body.id}/publish`)).status).toBe(201);
    // A first scan sets the workspace's watermark; the events come after it.
    await t.container.automationTriggers.scan();
    t.clock.set(new Date(t.clock.now().getTime() + 1000));

    const checkout = JSON.parse(fixture('shopify/checkouts-create.json'));
    checkout.token = 'dora-checkout-token';
    checkout.email = 'dora@example.com';
    expect((await shopify(shop.id, 'checkouts/create', JSON.stringify(checkout))).body.outcome).toBe(
      'applied',
    );
    // The same checkout sent again under a new webhook id: still one run.
    expect((await shopify(shop.id, 'checkouts/create', JSON.stringify(checkout))).body.outcome).toBe(
      'applied',
    );
    t.clock.set(new Date(t.clock.now().getTime() + 60_000));
    await t.container.automationTriggers.scan();
    const runs = async () =>
      (await call('GET', `/v1/automations/${created.body.id}/runs?limit=100`)).body.data as {
        status: string;
        instance_key: string | null;
        data: Record<string, unknown>;
        exit_reason: string | null;
      }[];
    const [run, ...others] = await runs();
    expect(others).toEqual([]);
    expect(run).toMatchObject({ status: 'active', instance_key: 'dora-checkout-token' });
    expect(run?.data.cart_url).toBe(checkout.abandoned_checkout_url);

    const order = JSON.parse(fixture('shopify/orders-create.json'));
    order.admin_graphql_api_id = 'gid://shopify/Order/450789470';
    order.email = 'dora@example.com';
    order.customer.email = 'dora@example.com';
    order.customer.admin_graphql_api_id = 'gid://shopify/Customer/207119553';
    order.checkout_token = 'dora-checkout-token';
    expect((await shopify(shop.id, 'orders/create', JSON.stringify(order))).body.outcome).toBe('applied');
    t.clock.set(new Date(t.clock.now().getTime() + 60_000));
    await t.container.automationTriggers.scan();
    const [after] = await runs();
    expect(after?.status).not.toBe('active');
    expect(after?.exit_reason).toBe('goal');
  });
});

describe('rate limit', () => {
  it('limits each connection URL on its own (HERALD_SHOP_WEBHOOK_RATE_LIMIT_PER_MINUTE)', async () => {
    const limited = await createTestApp({ HERALD_SHOP_WEBHOOK_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const create = async (name: string) => {
        const res = await limited.app.inject({
          method: 'POST',
          url: '/v1/connectors/shops',
          headers: limited.auth(),
          payload: {
            platform: 'woocommerce',
            name,
            shop_url: 'https://shop.example.com',
            webhook_secret: WOO_SECRET,
          },
        });
        expect(res.statusCode).toBe(201);
        return res.json().id as string;
      };
      const [first, second] = [await create('First'), await create('Second')];
      const ping = (id: string) =>
        limited.app.inject({
          method: 'POST',
          url: `/hooks/woocommerce/${id}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'webhook_id=1',
        });
      expect((await ping(first)).statusCode).toBe(200);
      expect((await ping(first)).statusCode).toBe(200);
      const refused = await ping(first);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect((await ping(second)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('the delivery log', () => {
  it('forgets deliveries older than 30 days when the connection receives the next one', async () => {
    const body = '{"id": 1, "title": "A product"}';
    const old = await shopify(shop.id, 'products/update', body, {
      headers: { 'x-shopify-webhook-id': 'old-one' },
    });
    expect(old.body.outcome).toBe('ignored');
    t.clock.set(new Date(t.clock.now().getTime() + 31 * 86_400_000));
    await shopify(shop.id, 'products/update', body, { headers: { 'x-shopify-webhook-id': 'new-one' } });
    const ids = (await deliveries(shop.id)).map((d) => d.delivery_id);
    expect(ids).toEqual(['new-one']);
    // Woo's log is its own: untouched until its connection receives something.
    expect((await deliveries(wooShop.id)).length).toBeGreaterThan(0);
  });
});
