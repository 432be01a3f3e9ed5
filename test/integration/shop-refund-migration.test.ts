import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Migration 0043 folds the negative refund conversions that shop refunds
 * recorded before it into their orders' conversions, and recounts the
 * campaign totals: run here on rows written the old way.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const FOLD = (() => {
  const text = readFileSync(
    join(import.meta.dirname, '..', '..', 'migrations', '0043_shop_cancellations_and_tag_provenance.sql'),
    'utf8',
  );
  return text.slice(text.indexOf('UPDATE shop_orders o SET revenue'), text.indexOf('-- Mailchimp tags'));
})();

it('folds old refund conversions into their order conversion and recounts the campaign', async () => {
  const pool = t.container.database.pool;
  const q = (text: string, values: unknown[] = []) => pool.query(text, values);
  const now = new Date();
  const campaign = (
    await t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: t.auth(), payload: { name: 'Old' } })
  ).json();
  const contact = (
    await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: t.auth(),
      payload: { email: 'old@example.com' },
    })
  ).json();
  const connection = uuidv7();
  await q(
    `INSERT INTO shop_connections (id, workspace_id, platform, name, shop_url, secret_encrypted, default_currency, created_at, updated_at)
     VALUES ($1, $2, 'shopify', 'Old', 'https://old.example.com', 'x', 'USD', $3, $3)`,
    [connection, t.workspaceId, now],
  );
  const conversion = async (id: string, key: string, revenue: string, event: string) =>
    q(
      `INSERT INTO conversions (id, workspace_id, contact_id, campaign_id, attribution, event, revenue, currency, idempotency_key, occurred_at, created_at)
       VALUES ($1, $2, $3, $4, 'last_click', $5, $6, 'USD', $7, $8, $8)`,
      [id, t.workspaceId, contact.id, campaign.id, event, revenue, key, now],
    );
  const orderConversion = uuidv7();
  await conversion(orderConversion, `shop:${connection}:order:1`, '100.00', 'Order Completed');
  await conversion(uuidv7(), `shop:${connection}:refund:11`, '-30.00', 'Order Refunded');
  await conversion(uuidv7(), `shop:${connection}:refund:12`, '-90.00', 'Order Refunded');
  await conversion(uuidv7(), 'api-conversion', '5.00', 'signup');
  await q(
    `INSERT INTO analytics_conversions (campaign_id, currency, workspace_id, conversions, revenue)
     VALUES ($1, 'USD', $2, 4, -15)`,
    [campaign.id, t.workspaceId],
  );
  await q(
    `INSERT INTO shop_orders (connection_id, order_id, workspace_id, contact_id, currency, conversion_id, converted_at, created_at)
     VALUES ($1, '1', $2, $3, 'USD', $4, $5, $5)`,
    [connection, t.workspaceId, contact.id, orderConversion, now],
  );
  for (const [refund, amount] of [
    ['11', '30.00'],
    ['12', '90.00'],
  ]) {
    await q(
      `INSERT INTO shop_refunds (connection_id, refund_id, workspace_id, order_id, amount, created_at)
       VALUES ($1, $2, $3, '1', $4, $5)`,
      [connection, refund, t.workspaceId, amount, now],
    );
  }

  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(FOLD);
    await client.query('COMMIT');
  } finally {
    client.release();
  }

  const left = await q('SELECT event, revenue::text FROM conversions WHERE workspace_id = $1 ORDER BY id', [
    t.workspaceId,
  ]);
  // Refunds of 120 against an order of 100: net revenue 0, never negative.
  expect(left.rows).toEqual([
    { event: 'Order Completed', revenue: '0.000000' },
    { event: 'signup', revenue: '5.000000' },
  ]);
  const totals = await q(
    'SELECT conversions::int, revenue::text FROM analytics_conversions WHERE campaign_id = $1',
    [campaign.id],
  );
  expect(totals.rows).toEqual([{ conversions: 2, revenue: '5.000000' }]);
  const [order] = (await q('SELECT revenue::text FROM shop_orders WHERE order_id = $1', ['1'])).rows;
  expect(order).toEqual({ revenue: '100.000000' });
});
