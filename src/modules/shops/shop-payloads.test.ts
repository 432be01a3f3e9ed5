import { describe, expect, it } from 'vitest';
import { fromMicros, parseShopify, parseWooCommerce, ShopPayloadError, toMicros } from './shop-payloads.js';
import { signBody, verifyBodySignature } from './shop-signatures.js';

describe('parseShopify', () => {
  it('reads 64-bit ids exactly from admin_graphql_api_id, where a JSON number would lose digits', () => {
    const body = JSON.parse(
      '{"id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508", "total_price": "1.00", "email": "a@example.com"}',
    );
    const fact = parseShopify('orders/create', body);
    expect(fact.kind === 'order' && fact.order.orderId).toBe('820982911946154508');
  });

  it('reads an order with cancelled_at as a cancellation, whatever the order topic', () => {
    const body = {
      id: 5,
      total_price: '9.00',
      currency: 'usd',
      cancelled_at: '2026-12-04T10:15:00-05:00',
      cancel_reason: 'fraud',
    };
    for (const topic of ['orders/cancelled', 'orders/updated', 'orders/create', 'orders/paid']) {
      expect(parseShopify(topic, body)).toEqual({
        kind: 'cancellation',
        cancellation: { orderId: '5', reason: 'fraud', total: '9.00', currency: 'USD', unlessCounted: null },
      });
    }
    expect(parseShopify('orders/updated', { ...body, cancelled_at: null }).kind).toBe('order');
    expect(() => parseShopify('orders/updated', { ...body, cancelled_at: 'soon' })).toThrow('/cancelled_at');
  });

  it('refuses an id that is not exact without admin_graphql_api_id', () => {
    const body = JSON.parse('{"id": 820982911946154508, "total_price": "1.00"}');
    expect(() => parseShopify('orders/create', body)).toThrow(ShopPayloadError);
  });

  it('takes the legacy accepts_marketing flag when email_marketing_consent is absent', () => {
    const fact = parseShopify('customers/create', { id: 1, email: 'a@example.com', accepts_marketing: true });
    expect(fact.kind === 'customer' && fact.customer.marketingConsent).toBe(true);
    const pending = parseShopify('customers/create', {
      id: 1,
      email: 'a@example.com',
      accepts_marketing: true,
      email_marketing_consent: { state: 'pending' },
    });
    expect(pending.kind === 'customer' && pending.customer.marketingConsent).toBe(false);
  });

  it('sums only successful refund transactions, exactly', () => {
    const fact = parseShopify('refunds/create', {
      id: 5,
      order_id: 4,
      transactions: [
        { kind: 'refund', status: 'success', amount: '0.10', currency: 'eur' },
        { kind: 'refund', status: 'success', amount: '0.20' },
        { kind: 'refund', status: 'pending', amount: '9.00' },
        { kind: 'sale', status: 'success', amount: '9.00' },
      ],
    });
    expect(fact).toEqual({
      kind: 'refund',
      refund: { refundId: '5', orderId: '4', amount: '0.3', currency: 'EUR' },
    });
  });

  it.each([
    [{ id: 1, total_price: 'free' }, '/total_price'],
    [{ id: 1, total_price: '1.00', currency: 'euro' }, '/currency'],
    [{ id: 1, total_price: '1.00', line_items: {} }, '/line_items'],
    [{ id: 1, total_price: '1.00', line_items: [{ quantity: 1.5 }] }, '/line_items/0/quantity'],
    [{ id: -3, total_price: '1.00' }, '/id'],
    [{ total_price: '1.00' }, '/id'],
  ])('names the bad field of %j', (body, path) => {
    try {
      parseShopify('orders/create', body);
      expect.unreachable();
    } catch (error) {
      expect((error as ShopPayloadError).path).toBe(path);
    }
  });

  it('ignores carts and unknown topics, and a checkout without an email', () => {
    expect(parseShopify('carts/update', { id: 'x' }).kind).toBe('ignored');
    expect(parseShopify('app/uninstalled', {}).kind).toBe('ignored');
    expect(parseShopify('checkouts/create', { token: 'abc' }).kind).toBe('ignored');
  });
});

describe('parseWooCommerce', () => {
  const order = {
    id: 9,
    status: 'completed',
    currency: 'eur',
    total: '12.50',
    billing: { email: 'b@example.com' },
    customer_id: 0,
    refunds: [{ id: 3, total: '-2.50' }],
  };

  it('reads a guest order (customer_id 0) and its refunds as positive amounts', () => {
    const fact = parseWooCommerce('order.updated', order);
    expect(fact.kind).toBe('order');
    if (fact.kind !== 'order') return;
    expect(fact.order.customer).toMatchObject({ customerId: null, email: 'b@example.com' });
    expect(fact.order.refunds).toEqual([{ refundId: '3', orderId: '9', amount: '2.50', currency: 'EUR' }]);
    expect(fact.order.paid).toBe(false);
  });

  it('an unfinished order is a checkout; a cancelled one a cancellation; a failed one either', () => {
    expect(parseWooCommerce('order.created', { ...order, status: 'pending' }).kind).toBe('checkout');
    expect(parseWooCommerce('order.updated', { ...order, status: 'cancelled' })).toEqual({
      kind: 'cancellation',
      cancellation: {
        orderId: '9',
        reason: 'cancelled',
        total: order.total,
        currency: 'EUR',
        unlessCounted: null,
      },
    });
    const failed = parseWooCommerce('order.updated', { ...order, status: 'failed' });
    expect(failed.kind).toBe('cancellation');
    if (failed.kind === 'cancellation') expect(failed.cancellation.unlessCounted?.kind).toBe('checkout');
    expect(parseWooCommerce('order.deleted', { id: 9 })).toMatchObject({
      kind: 'cancellation',
      cancellation: { orderId: '9', reason: 'deleted', total: null, currency: null },
    });
    expect(() => parseWooCommerce('order.deleted', {})).toThrow('/id: is required');
  });

  it('refuses a refund without a total', () => {
    expect(() => parseWooCommerce('order.updated', { ...order, refunds: [{ id: 3 }] })).toThrow(
      '/refunds/0/total',
    );
  });
});

describe('amounts and signatures', () => {
  it('adds decimals exactly', () => {
    expect(fromMicros(toMicros('0.1') + toMicros('0.2'))).toBe('0.3');
    expect(fromMicros(toMicros('-10.00') + toMicros('3'))).toBe('-7');
    expect(fromMicros(toMicros('123456789012.123456'))).toBe('123456789012.123456');
  });

  it('verifies base64 HMAC-SHA256 of the exact bytes, and nothing else', () => {
    const body = Buffer.from('{"id":1}');
    const header = signBody('secret', body);
    expect(verifyBodySignature('secret', body, header)).toBe(true);
    expect(verifyBodySignature('secret', Buffer.from('{"id":1} '), header)).toBe(false);
    expect(verifyBodySignature('other', body, header)).toBe(false);
    expect(verifyBodySignature('secret', body, undefined)).toBe(false);
    expect(verifyBodySignature('secret', body, header.slice(0, 20))).toBe(false);
    expect(verifyBodySignature('secret', body, Buffer.from(header).toString('hex'))).toBe(false);
  });
});
