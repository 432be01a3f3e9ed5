import type { ShopPlatform } from '../../db/index.js';

/**
 * Shopify and WooCommerce webhook payloads -> one shape per kind of fact
 * (customer, order, checkout, refund). Pure: no I/O. Reads the documented
 * payload shapes (Shopify REST Admin API webhook resources: Customer, Order,
 * Checkout, Refund; WooCommerce REST API v3 order and customer objects) and
 * only the fields Herald uses; anything else in the payload is ignored. A
 * required field that is missing or of the wrong type throws a
 * ShopPayloadError naming it by JSON pointer.
 */

export class ShopPayloadError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

export interface ShopProduct {
  product_id: string | null;
  variant_id: string | null;
  sku: string | null;
  name: string;
  price: number;
  quantity: number;
}

export interface ShopCustomer {
  customerId: string | null;
  email: string;
  firstName: string | null;
  lastName: string | null;
  /** The shop says this person agreed to receive marketing email. */
  marketingConsent: boolean;
}

export interface ShopOrder {
  orderId: string;
  orderNumber: string | null;
  customer: ShopCustomer | null;
  /** Exact decimal text, e.g. "199.00". */
  total: string;
  tax: string | null;
  shipping: string | null;
  discount: string | null;
  coupon: string | null;
  currency: string | null;
  products: ShopProduct[];
  /** A placed order (a purchase); false for WooCommerce orders still awaiting checkout. */
  placed: boolean;
  paid: boolean;
  /** WooCommerce lists an order's refunds inside it; Shopify sends refunds/create instead. */
  refunds: ShopRefund[];
  /** The checkout (cart) the order came from: the cart_id of its Checkout Started and Cart Updated events. */
  cartId: string | null;
}

export interface ShopCheckout {
  checkoutId: string;
  customer: ShopCustomer;
  cartUrl: string | null;
  total: string | null;
  currency: string | null;
  products: ShopProduct[];
  updatedAt: string | null;
}

export interface ShopRefund {
  refundId: string;
  orderId: string;
  /** Positive decimal text: the amount given back. */
  amount: string;
  currency: string | null;
}

/** An order the shop cancelled (or deleted): its conversion no longer counts. */
export interface ShopCancellation {
  orderId: string;
  /** Shopify cancel_reason (customer, fraud, inventory, declined, other), or WooCommerce's status. */
  reason: string | null;
  total: string | null;
  currency: string | null;
  /**
   * WooCommerce `failed`: a cancellation only of an order Herald counted
   * (processing before, then its payment failed); otherwise still the
   * unfinished checkout it always was.
   */
  unlessCounted: ShopFact | null;
}

export type ShopFact =
  | { kind: 'customer'; customer: ShopCustomer }
  | { kind: 'order'; order: ShopOrder }
  | { kind: 'cancellation'; cancellation: ShopCancellation }
  | { kind: 'checkout'; checkout: ShopCheckout; started: boolean }
  | { kind: 'refund'; refund: ShopRefund }
  | { kind: 'ignored'; reason: string };

/** The topics Herald acts on, per platform: the ones to subscribe to in the shop's admin. */
export const SHOP_TOPICS: Record<ShopPlatform, readonly string[]> = {
  shopify: [
    'customers/create',
    'customers/update',
    'orders/create',
    'orders/updated',
    'orders/paid',
    'orders/cancelled',
    'refunds/create',
    'checkouts/create',
    'checkouts/update',
  ],
  woocommerce: ['customer.created', 'customer.updated', 'order.created', 'order.updated', 'order.deleted'],
};

const MONEY = /^-?\d{1,18}(\.\d{1,6})?$/;
const CURRENCY = /^[A-Za-z]{3}$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An id as text: shops send numbers (Shopify, WooCommerce) or strings (Shopify GraphQL ids). */
function idOf(value: unknown, path: string, required: true): string;
function idOf(value: unknown, path: string, required: false): string | null;
function idOf(value: unknown, path: string, required: boolean): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && value.trim() !== '' && value.length <= 200) return value.trim();
  if ((value === undefined || value === null || value === 0) && !required) return null;
  throw new ShopPayloadError(
    path,
    required
      ? 'is required: a positive number or a non-empty string'
      : 'must be a positive number or a non-empty string',
  );
}

function textOf(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ShopPayloadError(path, 'must be a string');
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed.slice(0, 500);
}

function moneyOf(value: unknown, path: string, required: true): string;
function moneyOf(value: unknown, path: string, required: false): string | null;
function moneyOf(value: unknown, path: string, required: boolean): string | null {
  if ((value === undefined || value === null || value === '') && !required) return null;
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !MONEY.test(text.trim())) {
    throw new ShopPayloadError(
      path,
      `${required ? 'is required as' : 'must be'} a decimal amount such as "19.99"`,
    );
  }
  return text.trim();
}

function currencyOf(value: unknown, path: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !CURRENCY.test(value)) {
    throw new ShopPayloadError(path, 'must be a three-letter ISO 4217 currency code such as EUR');
  }
  return value.toUpperCase();
}

function emailOf(...values: unknown[]): string | null {
  for (const value of values) if (typeof value === 'string' && value.includes('@')) return value.trim();
  return null;
}

function lineItems(value: unknown, path: string): ShopProduct[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ShopPayloadError(path, 'must be an array of line items');
  return value.map((item, index) => {
    const at = `${path}/${index}`;
    if (!isObject(item)) throw new ShopPayloadError(at, 'must be an object');
    const quantity = item.quantity;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 0) {
      throw new ShopPayloadError(`${at}/quantity`, 'is required: a whole number');
    }
    const price = moneyOf(item.price, `${at}/price`, false);
    return {
      product_id: idOf(item.product_id, `${at}/product_id`, false),
      variant_id: idOf(item.variant_id ?? item.variation_id, `${at}/variant_id`, false),
      sku: textOf(item.sku, `${at}/sku`),
      name: textOf(item.title, `${at}/title`) ?? textOf(item.name, `${at}/name`) ?? '',
      price: price === null ? 0 : Number(price),
      quantity,
    };
  });
}

function root(payload: unknown): Json {
  if (!isObject(payload)) throw new ShopPayloadError('/', 'the body must be a JSON object');
  return payload;
}

// ---------------------------------------------------------------- Shopify

/**
 * A Shopify resource id. Shopify ids are 64-bit and may not fit a JavaScript
 * number: the exact digits are read from admin_graphql_api_id when present.
 */
function shopifyId(body: Json, path: string, required: boolean): string | null {
  const gid =
    typeof body.admin_graphql_api_id === 'string' ? /\/(\d+)$/.exec(body.admin_graphql_api_id) : null;
  if (gid?.[1]) return gid[1];
  return required ? idOf(body.id, path, true) : idOf(body.id, path, false);
}

function shopifyConsent(customer: Json): boolean {
  const consent = customer.email_marketing_consent;
  if (isObject(consent)) return consent.state === 'subscribed';
  // Before API version 2022-04 the Customer resource had a boolean instead.
  return customer.accepts_marketing === true;
}

function shopifyCustomer(value: Json, path: string, fallbackEmail: string | null): ShopCustomer | null {
  const email = emailOf(value.email) ?? fallbackEmail;
  if (!email) return null;
  return {
    customerId: shopifyId(value, `${path}/id`, false),
    email,
    firstName: textOf(value.first_name, `${path}/first_name`),
    lastName: textOf(value.last_name, `${path}/last_name`),
    marketingConsent: shopifyConsent(value),
  };
}

function shopifyOrder(body: Json): ShopOrder {
  const orderId = shopifyId(body, '/id', true) as string;
  const email = emailOf(body.email, body.contact_email);
  const customer = isObject(body.customer)
    ? shopifyCustomer(body.customer, '/customer', email)
    : email
      ? { customerId: null, email, firstName: null, lastName: null, marketingConsent: false }
      : null;
  const shippingSet = isObject(body.total_shipping_price_set) ? body.total_shipping_price_set : undefined;
  const shopMoney = shippingSet && isObject(shippingSet.shop_money) ? shippingSet.shop_money : undefined;
  const codes = Array.isArray(body.discount_codes) ? body.discount_codes : [];
  const firstCode = codes.find(isObject);
  return {
    orderId,
    orderNumber: body.order_number === undefined ? null : idOf(body.order_number, '/order_number', false),
    customer,
    total: moneyOf(body.total_price, '/total_price', true),
    tax: moneyOf(body.total_tax, '/total_tax', false),
    shipping: moneyOf(shopMoney?.amount, '/total_shipping_price_set/shop_money/amount', false),
    discount: moneyOf(body.total_discounts, '/total_discounts', false),
    coupon: firstCode ? textOf(firstCode.code, '/discount_codes/0/code') : null,
    currency: currencyOf(body.currency, '/currency'),
    products: lineItems(body.line_items, '/line_items'),
    placed: true,
    paid: body.financial_status === 'paid',
    refunds: [],
    cartId: idOf(body.checkout_token, '/checkout_token', false),
  };
}

function shopifyCheckout(body: Json, started: boolean): ShopFact {
  const checkoutId = idOf(body.token ?? body.id, body.token === undefined ? '/id' : '/token', true);
  const email = emailOf(body.email);
  const customer = isObject(body.customer)
    ? shopifyCustomer(body.customer, '/customer', email)
    : email
      ? { customerId: null, email, firstName: null, lastName: null, marketingConsent: false }
      : null;
  if (!customer)
    return { kind: 'ignored', reason: 'checkout without an email address: nobody to attach it to' };
  // The checkout's own flag; the customer's consent, when present, is the one that counts.
  if (!isObject(body.customer) && body.buyer_accepts_marketing === true) customer.marketingConsent = true;
  return {
    kind: 'checkout',
    started,
    checkout: {
      checkoutId,
      customer,
      cartUrl: textOf(body.abandoned_checkout_url, '/abandoned_checkout_url'),
      total: moneyOf(body.total_price, '/total_price', false),
      currency: currencyOf(body.presentment_currency ?? body.currency, '/currency'),
      products: lineItems(body.line_items, '/line_items'),
      updatedAt: textOf(body.updated_at, '/updated_at'),
    },
  };
}

function shopifyRefund(body: Json): ShopRefund {
  const refundId = shopifyId(body, '/id', true) as string;
  const orderId = idOf(body.order_id, '/order_id', true);
  if (body.transactions !== undefined && !Array.isArray(body.transactions)) {
    throw new ShopPayloadError('/transactions', 'must be an array of transactions');
  }
  const transactions = (body.transactions as unknown[] | undefined) ?? [];
  let cents = 0n;
  let currency: string | null = null;
  transactions.forEach((t, index) => {
    if (!isObject(t)) throw new ShopPayloadError(`/transactions/${index}`, 'must be an object');
    // Only money that actually went back counts: failed or pending refund transactions do not.
    if (t.kind !== 'refund' || t.status !== 'success') return;
    cents += toMicros(moneyOf(t.amount, `/transactions/${index}/amount`, true));
    currency ??= currencyOf(t.currency, `/transactions/${index}/currency`);
  });
  return { refundId, orderId, amount: fromMicros(cents < 0n ? -cents : cents), currency };
}

/** A Shopify order whose cancelled_at is set (orders/cancelled, or any later order webhook of it). */
function shopifyCancellation(body: Json): ShopFact {
  return {
    kind: 'cancellation',
    cancellation: {
      orderId: shopifyId(body, '/id', true) as string,
      reason: textOf(body.cancel_reason, '/cancel_reason'),
      total: moneyOf(body.total_price, '/total_price', false),
      currency: currencyOf(body.currency, '/currency'),
      unlessCounted: null,
    },
  };
}

function isCancelled(body: Json): boolean {
  if (body.cancelled_at === undefined || body.cancelled_at === null) return false;
  if (typeof body.cancelled_at !== 'string' || Number.isNaN(Date.parse(body.cancelled_at))) {
    throw new ShopPayloadError('/cancelled_at', 'must be null or an ISO 8601 date-time');
  }
  return true;
}

export function parseShopify(topic: string, payload: unknown): ShopFact {
  const body = root(payload);
  switch (topic) {
    case 'customers/create':
    case 'customers/update': {
      shopifyId(body, '/id', true);
      const customer = shopifyCustomer(body, '', null);
      if (!customer) return { kind: 'ignored', reason: 'customer without an email address' };
      return { kind: 'customer', customer };
    }
    case 'orders/cancelled':
      // The payload is the Order; it must be one (an id) even where cancelled_at is missing.
      isCancelled(body);
      return shopifyCancellation(body);
    case 'orders/create':
    case 'orders/updated':
      if (isCancelled(body)) return shopifyCancellation(body);
      return { kind: 'order', order: shopifyOrder(body) };
    case 'orders/paid':
      if (isCancelled(body)) return shopifyCancellation(body);
      return { kind: 'order', order: { ...shopifyOrder(body), paid: true } };
    case 'refunds/create':
      return { kind: 'refund', refund: shopifyRefund(body) };
    case 'checkouts/create':
      return shopifyCheckout(body, true);
    case 'checkouts/update':
      return shopifyCheckout(body, false);
    case 'carts/create':
    case 'carts/update':
      return {
        kind: 'ignored',
        reason:
          'a Shopify cart carries no customer; subscribe to checkouts/create and checkouts/update instead',
      };
    default:
      return { kind: 'ignored', reason: `topic ${topic} is not one Herald acts on` };
  }
}

// ---------------------------------------------------------------- WooCommerce

/** Order statuses of an order that was placed (a purchase), paid or not yet. */
const WOO_PLACED = new Set(['processing', 'on-hold', 'completed', 'refunded']);
/** Order statuses of a checkout not finished. */
const WOO_UNFINISHED = new Set(['pending', 'checkout-draft', 'failed']);

function wooOrder(body: Json): ShopFact {
  const orderId = idOf(body.id, '/id', true);
  const status = textOf(body.status, '/status');
  if (status === null) throw new ShopPayloadError('/status', 'is required: the order status');
  const billing = isObject(body.billing) ? body.billing : {};
  const email = emailOf(billing.email);
  const customer: ShopCustomer | null = email
    ? {
        customerId: idOf(body.customer_id, '/customer_id', false),
        email,
        firstName: textOf(billing.first_name, '/billing/first_name'),
        lastName: textOf(billing.last_name, '/billing/last_name'),
        // WooCommerce core has no marketing consent on orders or customers.
        marketingConsent: false,
      }
    : null;
  const total = moneyOf(body.total, '/total', true);
  const currency = currencyOf(body.currency, '/currency');
  const products = lineItems(body.line_items, '/line_items');
  const cancellation = (unlessCounted: ShopFact | null): ShopFact => ({
    kind: 'cancellation',
    cancellation: { orderId, reason: status, total, currency, unlessCounted },
  });
  if (status === 'cancelled') return cancellation(null);
  if (WOO_UNFINISHED.has(status)) {
    if (!customer) {
      const ignored: ShopFact = { kind: 'ignored', reason: 'unfinished order without a billing email' };
      return status === 'failed' ? cancellation(ignored) : ignored;
    }
    const checkout: ShopFact = {
      kind: 'checkout',
      started: true,
      checkout: {
        checkoutId: orderId,
        customer,
        cartUrl: textOf(body.payment_url, '/payment_url'),
        total,
        currency,
        products,
        updatedAt: textOf(body.date_modified_gmt ?? body.date_modified, '/date_modified'),
      },
    };
    // A failed payment of an order Herald counted takes the order back; of a new order it is a checkout.
    return status === 'failed' ? cancellation(checkout) : checkout;
  }
  if (!WOO_PLACED.has(status)) return { kind: 'ignored', reason: `order status ${status} is not a purchase` };
  if (body.refunds !== undefined && !Array.isArray(body.refunds)) {
    throw new ShopPayloadError('/refunds', 'must be an array of refunds');
  }
  const refunds = ((body.refunds as unknown[] | undefined) ?? []).map((r, index): ShopRefund => {
    if (!isObject(r)) throw new ShopPayloadError(`/refunds/${index}`, 'must be an object');
    const amount = moneyOf(r.total, `/refunds/${index}/total`, true);
    // WooCommerce lists refund totals as negative amounts.
    return {
      refundId: idOf(r.id, `/refunds/${index}/id`, true),
      orderId,
      amount: amount.startsWith('-') ? amount.slice(1) : amount,
      currency,
    };
  });
  const coupons = Array.isArray(body.coupon_lines) ? body.coupon_lines.filter(isObject) : [];
  return {
    kind: 'order',
    order: {
      orderId,
      orderNumber: body.number === undefined ? null : idOf(body.number, '/number', false),
      customer,
      total,
      tax: moneyOf(body.total_tax, '/total_tax', false),
      shipping: moneyOf(body.shipping_total, '/shipping_total', false),
      discount: moneyOf(body.discount_total, '/discount_total', false),
      coupon: coupons[0] ? textOf(coupons[0].code, '/coupon_lines/0/code') : null,
      currency,
      products,
      placed: true,
      paid: typeof body.date_paid === 'string' || typeof body.date_paid_gmt === 'string',
      refunds,
      // A WooCommerce checkout is the order itself, unfinished.
      cartId: orderId,
    },
  };
}

export function parseWooCommerce(topic: string, payload: unknown): ShopFact {
  const body = root(payload);
  switch (topic) {
    case 'customer.created':
    case 'customer.updated': {
      idOf(body.id, '/id', true);
      const billing = isObject(body.billing) ? body.billing : {};
      const email = emailOf(body.email, billing.email);
      if (!email) return { kind: 'ignored', reason: 'customer without an email address' };
      return {
        kind: 'customer',
        customer: {
          customerId: idOf(body.id, '/id', true),
          email,
          firstName:
            textOf(body.first_name, '/first_name') ?? textOf(billing.first_name, '/billing/first_name'),
          lastName: textOf(body.last_name, '/last_name') ?? textOf(billing.last_name, '/billing/last_name'),
          marketingConsent: false,
        },
      };
    }
    case 'order.created':
    case 'order.updated':
      return wooOrder(body);
    case 'order.deleted':
      // WooCommerce sends only the id of a deleted (or trashed) order.
      return {
        kind: 'cancellation',
        cancellation: {
          orderId: idOf(body.id, '/id', true),
          reason: 'deleted',
          total: null,
          currency: null,
          unlessCounted: null,
        },
      };
    default:
      return { kind: 'ignored', reason: `topic ${topic} is not one Herald acts on` };
  }
}

// ---------------------------------------------------------------- exact amounts

/** Decimal text -> millionths, exactly (amounts have at most 6 decimals). */
export function toMicros(text: string): bigint {
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const micros = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
  return negative ? -micros : micros;
}

export function fromMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / 1_000_000n;
  const fraction = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
