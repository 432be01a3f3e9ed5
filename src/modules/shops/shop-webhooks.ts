import type { Db, ShopPlatform } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError, isDomainError } from '../../lib/errors.js';
import { isUuid, uuidv7 } from '../../lib/ids.js';
import type { AnalyticsService } from '../analytics/index.js';
import type { AttributeService } from '../attributes/index.js';
import type { ConsentOrigin } from '../consent/index.js';
import type { ContactService } from '../contacts/index.js';
import type { EventService } from '../events/index.js';
import type { ListService } from '../lists/index.js';
import {
  fromMicros,
  parseShopify,
  parseWooCommerce,
  type ShopCancellation,
  type ShopCheckout,
  type ShopCustomer,
  type ShopFact,
  type ShopOrder,
  ShopPayloadError,
  type ShopProduct,
  type ShopRefund,
  toMicros,
} from './shop-payloads.js';
import { openShopSecret, type SecretCipher } from './shop-secrets.js';
import { verifyBodySignature } from './shop-signatures.js';
import * as repo from './shops.repository.js';

/**
 * The public webhook endpoints' work: `/hooks/{platform}/{connectionId}`.
 * Order: the connection exists (for this platform) -> the signature over the
 * raw body -> the delivery headers -> seen before? -> the payload -> apply ->
 * log the delivery. Nothing is written before the payload has been read in
 * full, so a refused request changes nothing.
 *
 * Applying calls the contacts, lists, events and analytics services one after
 * another (not in one transaction); each step is idempotent on its own (event
 * message ids, conversion idempotency keys, the order and refund rows), so a
 * delivery that failed halfway and is sent again completes without doing
 * anything twice. The delivery row is written last: a redelivery of a
 * delivery already logged is answered `duplicate` and changes nothing.
 *
 * Which order fact counts as the conversion: the order being placed (Shopify
 * orders/create or the first order webhook Herald sees; WooCommerce an order
 * in processing, on-hold or completed). Order Paid is an event only.
 *
 * Conversions = orders not cancelled; revenue = the order total net of its
 * refunds. A cancellation deletes the order's conversion (so every reader of
 * conversions agrees) and marks the order cancelled for good: no later or
 * earlier (out of order) webhook of it counts it again, and a cancel that
 * arrives before the order leaves a cancelled order row that keeps it from
 * being counted when it does arrive. A refund lowers the conversion's revenue
 * (never below 0) and never changes the count.
 */

export interface ShopWebhookHeaders {
  signature: string | undefined;
  topic: string | undefined;
  deliveryId: string | undefined;
  /** Shopify's X-Shopify-Event-Id: one event retried under several webhook ids. */
  eventId: string | undefined;
}

export interface ShopWebhookOutcome {
  outcome: 'applied' | 'ignored' | 'duplicate' | 'ping';
  detail: string | null;
}

export interface ShopWebhookDeps {
  db: Db;
  clock: Clock;
  /** Decrypts webhook secrets with the workspace data key. */
  cipher: SecretCipher;
  contacts: Pick<ContactService, 'upsert' | 'findByIds'>;
  attributes: Pick<AttributeService, 'definitions'>;
  lists: Pick<ListService, 'addMembers'>;
  events: Pick<EventService, 'ingest'>;
  analytics: Pick<AnalyticsService, 'recordConversion' | 'removeConversion' | 'setConversionRevenue'>;
}

/**
 * How long a delivery stays in the log, which is also how long a redelivery
 * is answered `duplicate`: Shopify retries for 48 hours, WooCommerce a few
 * times. Past that, the order, refund and event keys still keep a late copy
 * from counting twice.
 */
export const DELIVERY_LOG_DAYS = 30;

/** At most this many line items are copied into an event, so a large order stays under the 32 KB event limit. */
const MAX_EVENT_PRODUCTS = 50;

const HEADER_NAMES: Record<ShopPlatform, { signature: string; topic: string; delivery: string }> = {
  shopify: {
    signature: 'X-Shopify-Hmac-Sha256',
    topic: 'X-Shopify-Topic',
    delivery: 'X-Shopify-Webhook-Id',
  },
  woocommerce: {
    signature: 'X-WC-Webhook-Signature',
    topic: 'X-WC-Webhook-Topic',
    delivery: 'X-WC-Webhook-Delivery-ID',
  },
};

function badPayload(message: string, path = '/'): DomainError {
  return new DomainError('WEBHOOK_PAYLOAD_INVALID', message, [{ path, message }]);
}

/** Codes a contact write refuses a shop's data with: the delivery is logged as ignored, not retried forever. */
const REFUSED_DATA = new Set(['INVALID_EMAIL', 'INVALID_ATTRIBUTE', 'VALIDATION_FAILED']);

class Ignored extends Error {}

export function createShopWebhooks(deps: ShopWebhookDeps) {
  const { db, clock, cipher } = deps;

  function originOf(connection: repo.ShopConnectionRow): ConsentOrigin {
    return { source: 'api', sourceId: `shop:${connection.id}` };
  }

  /** Creates or updates the customer's contact; links the shop's customer id; subscribes on consent. */
  async function upsertCustomer(connection: repo.ShopConnectionRow, customer: ShopCustomer): Promise<string> {
    const workspaceId = connection.workspace_id;
    const definitions = await deps.attributes.definitions(workspaceId);
    // Names go into attributes only when the workspace defines them as strings: a shop never invents attributes.
    const attributes: Record<string, unknown> = {};
    if (customer.firstName && definitions.get('first_name') === 'string')
      attributes.first_name = customer.firstName;
    if (customer.lastName && definitions.get('last_name') === 'string')
      attributes.last_name = customer.lastName;
    let contactId: string;
    try {
      const { contact } = await deps.contacts.upsert(
        workspaceId,
        { email: customer.email, ...(Object.keys(attributes).length > 0 ? { attributes } : {}) },
        originOf(connection),
      );
      contactId = contact.id;
    } catch (error) {
      if (isDomainError(error) && REFUSED_DATA.has(error.code)) {
        // The code only: the delivery log keeps no addresses (the error's message may quote one).
        throw new Ignored(
          `the contact was refused (${error.code}): check the address against the workspace's email hygiene policy`,
        );
      }
      throw error;
    }
    if (customer.customerId) {
      await repo.linkCustomer(db, {
        connection_id: connection.id,
        customer_id: customer.customerId,
        workspace_id: workspaceId,
        contact_id: contactId,
        updated_at: clock.now(),
      });
    }
    // Only consent the shop recorded subscribes, and only to the list the connection names.
    // The list's own opt-in rule applies, and an earlier unsubscribe from it stands.
    if (customer.marketingConsent && connection.consent_list_id) {
      await deps.lists.addMembers(
        workspaceId,
        connection.consent_list_id,
        { contact_ids: [contactId] },
        originOf(connection),
        { detail: { shop_connection_id: connection.id, shop_platform: connection.platform } },
      );
    }
    return contactId;
  }

  async function track(
    connection: repo.ShopConnectionRow,
    email: string,
    anonymousId: string,
    name: string,
    messageId: string,
    properties: Record<string, unknown>,
  ): Promise<void> {
    const outcome = await deps.events.ingest(
      connection.workspace_id,
      [
        {
          type: 'track',
          event: name,
          anonymousId,
          messageId,
          properties: {
            ...properties,
            shop_connection_id: connection.id,
            shop_platform: connection.platform,
          },
          context: { traits: { email } },
        },
      ],
      { origin: originOf(connection), type: 'track', pathPrefix: '' },
    );
    if (outcome.rejected > 0) {
      throw badPayload(
        `the ${name} event could not be stored: ${outcome.errors.map((e) => e.message).join('; ')}`,
      );
    }
  }

  function products(items: ShopProduct[]) {
    return items.slice(0, MAX_EVENT_PRODUCTS).map((p, index) => ({
      product_id: p.product_id,
      variant: p.variant_id,
      sku: p.sku,
      name: p.name,
      price: p.price,
      quantity: p.quantity,
      position: index + 1,
    }));
  }

  const amount = (text: string | null) => (text === null ? undefined : Number(text));

  function anonymousIdOf(connection: repo.ShopConnectionRow, customer: ShopCustomer, fallback: string) {
    return `shop:${connection.id}:${customer.customerId ? `customer:${customer.customerId}` : fallback}`;
  }

  async function applyOrder(connection: repo.ShopConnectionRow, order: ShopOrder): Promise<string> {
    if (!order.customer) throw new Ignored('order without an email address: nobody to attach it to');
    // Checked before anything is written: a cancelled order's late webhooks change nothing.
    if ((await repo.findOrder(db, connection.id, order.orderId))?.cancelled_at) {
      throw new Ignored(`order ${order.orderId} was cancelled: Herald does not count it again`);
    }
    const contactId = await upsertCustomer(connection, order.customer);
    const currency = order.currency ?? connection.default_currency;
    const stored = await repo.ensureOrder(db, {
      connection_id: connection.id,
      order_id: order.orderId,
      workspace_id: connection.workspace_id,
      contact_id: contactId,
      currency,
      created_at: clock.now(),
    });
    const anonymousId = anonymousIdOf(connection, order.customer, `order:${order.orderId}`);
    const base = {
      order_id: order.orderId,
      ...(order.orderNumber ? { order_number: order.orderNumber } : {}),
      ...(order.cartId ? { cart_id: order.cartId } : {}),
      total: Number(order.total),
      currency,
    };
    const done: string[] = [];
    if (!stored.conversion_id) {
      // Segment's revenue excludes shipping and tax; total is what the customer paid.
      const revenueMicros =
        toMicros(order.total) - toMicros(order.shipping ?? '0') - toMicros(order.tax ?? '0');
      await track(
        connection,
        order.customer.email,
        anonymousId,
        'Order Completed',
        `shop:${connection.id}:order-completed:${order.orderId}`,
        {
          ...base,
          revenue: Number(revenueMicros) / 1e6,
          shipping: amount(order.shipping),
          tax: amount(order.tax),
          discount: amount(order.discount),
          ...(order.coupon ? { coupon: order.coupon } : {}),
          products: products(order.products),
        },
      );
      const conversion = await recordConversion(connection, {
        contact: { id: contactId },
        revenue: order.total,
        currency,
        event: 'Order Completed',
        idempotency_key: `shop:${connection.id}:order:${order.orderId}`,
      });
      if (conversion) {
        await repo.markOrderConverted(db, connection.id, order.orderId, conversion, order.total);
        // A cancel applied meanwhile (another worker) saw no conversion to delete: delete it here.
        if ((await repo.findOrder(db, connection.id, order.orderId))?.cancelled_at) {
          await deps.analytics.removeConversion(connection.workspace_id, conversion.id);
        }
      }
      done.push('Order Completed');
    }
    if (order.paid && !stored.paid_at) {
      await track(
        connection,
        order.customer.email,
        anonymousId,
        'Order Paid',
        `shop:${connection.id}:order-paid:${order.orderId}`,
        base,
      );
      await repo.markOrderPaid(db, connection.id, order.orderId, clock.now());
      done.push('Order Paid');
    }
    for (const refund of order.refunds) {
      if (await applyRefund(connection, refund)) done.push(`Order Refunded ${refund.refundId}`);
    }
    return done.length > 0
      ? `order ${order.orderId}: ${done.join(', ')}`
      : `order ${order.orderId}: nothing new`;
  }

  /**
   * Records a conversion; a key already used with other data (the order
   * changed after a delivery failed halfway) keeps the first one.
   */
  async function recordConversion(
    connection: repo.ShopConnectionRow,
    input: Parameters<AnalyticsService['recordConversion']>[1],
  ) {
    try {
      const { conversion } = await deps.analytics.recordConversion(connection.workspace_id, input);
      return conversion;
    } catch (error) {
      if (isDomainError(error) && error.code === 'IDEMPOTENCY_KEY_REUSED') return undefined;
      throw error;
    }
  }

  /**
   * Order Refunded once per refund, and the order's conversion revenue set to
   * the order total net of every refund recorded (never below 0): a refund
   * changes the campaign's revenue, never its conversion count. Each step is
   * idempotent and the refund row is written last, so a delivery that failed
   * halfway and comes again finishes the job. False when recorded before.
   */
  async function applyRefund(connection: repo.ShopConnectionRow, refund: ShopRefund): Promise<boolean> {
    if (await repo.refundRecorded(db, connection.id, refund.refundId)) return false;
    const order = await repo.findOrder(db, connection.id, refund.orderId);
    if (order?.cancelled_at && !order.contact_id) {
      throw new Ignored(
        `refund ${refund.refundId} of order ${refund.orderId}, which was cancelled before Herald saw it`,
      );
    }
    if (!order?.contact_id) {
      throw new Ignored(`refund ${refund.refundId} of order ${refund.orderId}, which Herald has not seen`);
    }
    const [contact] = await deps.contacts.findByIds(connection.workspace_id, [order.contact_id]);
    if (!contact) throw new Ignored(`refund ${refund.refundId}: the order's contact no longer exists`);
    // The order's conversion is in the order's currency; a refund is netted against it in that currency.
    const currency = order.currency;
    await track(
      connection,
      contact.email,
      `shop:${connection.id}:order:${order.order_id}`,
      'Order Refunded',
      `shop:${connection.id}:order-refunded:${refund.refundId}`,
      { order_id: order.order_id, refund_id: refund.refundId, total: Number(refund.amount), currency },
    );
    if (order.conversion_id && order.revenue !== null && !order.cancelled_at) {
      const earlier = await repo.refundedTotal(db, connection.id, order.order_id);
      const net = toMicros(order.revenue) - toMicros(earlier) - toMicros(refund.amount);
      await deps.analytics.setConversionRevenue(
        connection.workspace_id,
        order.conversion_id,
        fromMicros(net > 0n ? net : 0n),
      );
    }
    await repo.insertRefund(db, {
      connection_id: connection.id,
      refund_id: refund.refundId,
      workspace_id: connection.workspace_id,
      order_id: order.order_id,
      amount: refund.amount,
      created_at: clock.now(),
    });
    return true;
  }

  /**
   * Takes the order's conversion out of every figure and records Order
   * Cancelled, once; an order Herald has not seen is remembered as cancelled
   * so that its late webhooks never count it. Steps are idempotent and the
   * cancelled mark is written last, so a delivery that failed halfway and
   * comes again finishes the job.
   */
  async function applyCancellation(
    connection: repo.ShopConnectionRow,
    cancellation: ShopCancellation,
    deliveryId: string,
  ): Promise<string> {
    const orderId = cancellation.orderId;
    const order = await repo.findOrder(db, connection.id, orderId);
    if (order?.cancelled_at) return `order ${orderId}: cancelled before`;
    if (cancellation.unlessCounted && !order?.conversion_id) {
      return apply(connection, cancellation.unlessCounted, deliveryId);
    }
    const currency = order?.currency ?? cancellation.currency ?? connection.default_currency;
    if (!order) {
      await repo.ensureOrder(db, {
        connection_id: connection.id,
        order_id: orderId,
        workspace_id: connection.workspace_id,
        contact_id: null,
        currency,
        created_at: clock.now(),
      });
      await repo.markOrderCancelled(db, connection.id, orderId, clock.now());
      // The order's own webhook applied meanwhile (another worker): its conversion goes too.
      const latest = await repo.findOrder(db, connection.id, orderId);
      if (latest?.conversion_id)
        await deps.analytics.removeConversion(connection.workspace_id, latest.conversion_id);
      return `order ${orderId}: cancelled before Herald saw it; it will not be counted`;
    }
    const done: string[] = [];
    if (order.conversion_id) {
      if (await deps.analytics.removeConversion(connection.workspace_id, order.conversion_id)) {
        done.push('conversion removed');
      }
    }
    const [contact] = order.contact_id
      ? await deps.contacts.findByIds(connection.workspace_id, [order.contact_id])
      : [];
    if (contact && order.conversion_id) {
      await track(
        connection,
        contact.email,
        `shop:${connection.id}:order:${orderId}`,
        'Order Cancelled',
        `shop:${connection.id}:order-cancelled:${orderId}`,
        {
          order_id: orderId,
          ...(cancellation.total !== null ? { total: Number(cancellation.total) } : {}),
          currency,
          ...(cancellation.reason ? { reason: cancellation.reason } : {}),
        },
      );
      done.unshift('Order Cancelled');
    }
    await repo.markOrderCancelled(db, connection.id, orderId, clock.now());
    // The order's conversion recorded meanwhile (its create applied by another worker) goes too.
    const latest = await repo.findOrder(db, connection.id, orderId);
    if (latest?.conversion_id && latest.conversion_id !== order.conversion_id) {
      await deps.analytics.removeConversion(connection.workspace_id, latest.conversion_id);
    }
    return `order ${orderId} cancelled${done.length > 0 ? `: ${done.join(', ')}` : ''}`;
  }

  async function applyCheckout(
    connection: repo.ShopConnectionRow,
    checkout: ShopCheckout,
    started: boolean,
    deliveryId: string,
  ): Promise<string> {
    await upsertCustomer(connection, checkout.customer);
    const name = started ? 'Checkout Started' : 'Cart Updated';
    // Checkout Started once per checkout; Cart Updated once per change of the cart.
    const messageId = started
      ? `shop:${connection.id}:checkout-started:${checkout.checkoutId}`
      : `shop:${connection.id}:cart-updated:${checkout.checkoutId}:${checkout.updatedAt ?? deliveryId}`;
    const currency = checkout.currency ?? connection.default_currency;
    await track(
      connection,
      checkout.customer.email,
      anonymousIdOf(connection, checkout.customer, `checkout:${checkout.checkoutId}`),
      name,
      messageId,
      {
        cart_id: checkout.checkoutId,
        checkout_id: checkout.checkoutId,
        ...(checkout.cartUrl ? { cart_url: checkout.cartUrl } : {}),
        ...(checkout.total !== null ? { value: Number(checkout.total) } : {}),
        currency,
        products: products(checkout.products),
      },
    );
    return `${name} for checkout ${checkout.checkoutId}`;
  }

  async function apply(
    connection: repo.ShopConnectionRow,
    fact: ShopFact,
    deliveryId: string,
  ): Promise<string> {
    switch (fact.kind) {
      case 'ignored':
        throw new Ignored(fact.reason);
      case 'customer':
        await upsertCustomer(connection, fact.customer);
        return `customer ${fact.customer.customerId ?? ''}`.trim();
      case 'order':
        return applyOrder(connection, fact.order);
      case 'checkout':
        return applyCheckout(connection, fact.checkout, fact.started, deliveryId);
      case 'cancellation':
        return applyCancellation(connection, fact.cancellation, deliveryId);
      case 'refund':
        if (!(await applyRefund(connection, fact.refund)))
          return `refund ${fact.refund.refundId}: recorded before`;
        return `Order Refunded ${fact.refund.refundId}`;
    }
  }

  return {
    async receive(
      platform: ShopPlatform,
      connectionId: string,
      headers: ShopWebhookHeaders,
      rawBody: Buffer,
    ): Promise<ShopWebhookOutcome> {
      const connection = isUuid(connectionId)
        ? await repo.findConnectionForWebhook(db, connectionId)
        : undefined;
      if (!connection || connection.platform !== platform) {
        throw new DomainError(
          'SHOP_CONNECTION_NOT_FOUND',
          `no ${platform} shop connection ${connectionId}: copy the webhook URL from GET /v1/connectors/shops`,
        );
      }
      const names = HEADER_NAMES[platform];
      // WooCommerce tests a new webhook URL with an unsigned form post `webhook_id=N`; it expects a 2xx.
      if (
        platform === 'woocommerce' &&
        headers.signature === undefined &&
        /^webhook_id=\d+$/.test(rawBody.toString('latin1').trim())
      ) {
        return { outcome: 'ping', detail: null };
      }
      if (headers.signature === undefined) {
        throw new DomainError('WEBHOOK_SIGNATURE_INVALID', `the ${names.signature} header is missing`);
      }
      const secret = await openShopSecret(
        cipher,
        connection.workspace_id,
        connection.id,
        connection.secret_encrypted,
      );
      if (!verifyBodySignature(secret, rawBody, headers.signature)) {
        throw new DomainError(
          'WEBHOOK_SIGNATURE_INVALID',
          `${names.signature} does not match the body: check that the connection's webhook_secret is the shop's signing secret`,
        );
      }
      const topic = headers.topic?.trim();
      if (!topic) throw badPayload(`the ${names.topic} header is missing`);
      const deliveryId = headers.deliveryId?.trim();
      if (!deliveryId) throw badPayload(`the ${names.delivery} header is missing`);
      const eventId = headers.eventId?.trim() || null;
      if (await repo.deliverySeen(db, connection.id, deliveryId, eventId)) {
        return { outcome: 'duplicate', detail: null };
      }

      let payload: unknown;
      try {
        payload = JSON.parse(rawBody.toString('utf8'));
      } catch {
        throw badPayload('the body is not valid JSON');
      }
      let fact: ShopFact;
      try {
        fact = platform === 'shopify' ? parseShopify(topic, payload) : parseWooCommerce(topic, payload);
      } catch (error) {
        if (error instanceof ShopPayloadError) {
          throw new DomainError('WEBHOOK_PAYLOAD_INVALID', `${topic} payload: ${error.message}`, [
            { path: error.path, message: error.message.slice(error.path.length + 2) },
          ]);
        }
        throw error;
      }

      let outcome: 'applied' | 'ignored' = 'applied';
      let detail: string;
      try {
        detail = await apply(connection, fact, deliveryId);
      } catch (error) {
        if (!(error instanceof Ignored)) throw error;
        outcome = 'ignored';
        detail = error.message;
      }
      const now = clock.now();
      await repo.insertDelivery(db, {
        id: uuidv7(now.getTime()),
        workspace_id: connection.workspace_id,
        connection_id: connection.id,
        delivery_id: deliveryId.slice(0, 200),
        event_id: eventId?.slice(0, 200) ?? null,
        topic: topic.slice(0, 200),
        outcome,
        detail: detail.slice(0, 1000),
        received_at: now,
      });
      await repo.pruneDeliveries(db, connection.id, new Date(now.getTime() - DELIVERY_LOG_DAYS * 86_400_000));
      return { outcome, detail };
    },
  };
}

export type ShopWebhooks = ReturnType<typeof createShopWebhooks>;
