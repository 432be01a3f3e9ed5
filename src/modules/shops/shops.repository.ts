import { sql } from 'kysely';
import { type Db, isUniqueViolation, type NewRow, type Row } from '../../db/index.js';

export type ShopConnectionRow = Row<'shop_connections'>;
export type ShopDeliveryRow = Row<'shop_webhook_deliveries'>;
export type ShopOrderRow = Row<'shop_orders'>;

// ---------------------------------------------------------------- connections

/** Undefined when the workspace already has a connection of that name (any case). */
export async function insertConnection(
  db: Db,
  row: NewRow<'shop_connections'>,
): Promise<ShopConnectionRow | undefined> {
  try {
    return await db.insertInto('shop_connections').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'shop_connections_workspace_name')) return undefined;
    throw error;
  }
}

export async function findConnection(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ShopConnectionRow | undefined> {
  return db
    .selectFrom('shop_connections')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * A connection by id alone, for the public webhook routes: the id in the URL
 * names the workspace, and the signature made with that connection's secret
 * is what proves the request comes from its shop.
 */
export async function findConnectionForWebhook(db: Db, id: string): Promise<ShopConnectionRow | undefined> {
  return db.selectFrom('shop_connections').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listConnections(
  db: Db,
  workspaceId: string,
  after: string | undefined,
  limit: number,
): Promise<ShopConnectionRow[]> {
  let query = db
    .selectFrom('shop_connections')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .limit(limit);
  if (after) query = query.where('id', '>', after);
  return query.execute();
}

/** Undefined when the workspace has no such connection; 'name_taken' when another connection has the new name. */
export async function updateConnection(
  db: Db,
  workspaceId: string,
  id: string,
  changes: Partial<
    Pick<
      ShopConnectionRow,
      'name' | 'shop_url' | 'secret_encrypted' | 'default_currency' | 'consent_list_id' | 'updated_at'
    >
  >,
): Promise<ShopConnectionRow | 'name_taken' | undefined> {
  try {
    return await db
      .updateTable('shop_connections')
      .set(changes)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  } catch (error) {
    if (isUniqueViolation(error, 'shop_connections_workspace_name')) return 'name_taken';
    throw error;
  }
}

export async function deleteConnection(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('shop_connections')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

// ---------------------------------------------------------------- deliveries

/** Whether this delivery (or, for Shopify, another delivery of the same event) was accepted before. */
export async function deliverySeen(
  db: Db,
  connectionId: string,
  deliveryId: string,
  eventId: string | null,
): Promise<boolean> {
  const row = await db
    .selectFrom('shop_webhook_deliveries')
    .select('id')
    .where('connection_id', '=', connectionId)
    .where((eb) =>
      eventId === null
        ? eb('delivery_id', '=', deliveryId)
        : eb.or([eb('delivery_id', '=', deliveryId), eb('event_id', '=', eventId)]),
    )
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** False when a concurrent copy of the same delivery was logged first. */
export async function insertDelivery(db: Db, row: NewRow<'shop_webhook_deliveries'>): Promise<boolean> {
  const inserted = await db
    .insertInto('shop_webhook_deliveries')
    .values(row)
    .onConflict((oc) => oc.columns(['connection_id', 'delivery_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Forgets a connection's deliveries received before `before`: the log stays small. */
export async function pruneDeliveries(db: Db, connectionId: string, before: Date): Promise<number> {
  const result = await db
    .deleteFrom('shop_webhook_deliveries')
    .where('connection_id', '=', connectionId)
    .where('received_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function listDeliveries(
  db: Db,
  workspaceId: string,
  connectionId: string,
  before: string | undefined,
  limit: number,
): Promise<ShopDeliveryRow[]> {
  // Ids are UUIDv7: descending id order is newest first.
  let query = db
    .selectFrom('shop_webhook_deliveries')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('connection_id', '=', connectionId)
    .orderBy('id', 'desc')
    .limit(limit);
  if (before) query = query.where('id', '<', before);
  return query.execute();
}

// ---------------------------------------------------------------- customers, orders, refunds

export async function linkCustomer(
  db: Db,
  row: {
    connection_id: string;
    customer_id: string;
    workspace_id: string;
    contact_id: string;
    updated_at: Date;
  },
): Promise<void> {
  await db
    .insertInto('shop_customers')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['connection_id', 'customer_id']).doUpdateSet({
        contact_id: row.contact_id,
        updated_at: row.updated_at,
      }),
    )
    .execute();
}

export async function findOrder(
  db: Db,
  connectionId: string,
  orderId: string,
): Promise<ShopOrderRow | undefined> {
  return db
    .selectFrom('shop_orders')
    .selectAll()
    .where('connection_id', '=', connectionId)
    .where('order_id', '=', orderId)
    .executeTakeFirst();
}

/** Inserts the order when new; returns the stored row either way. */
export async function ensureOrder(db: Db, row: NewRow<'shop_orders'>): Promise<ShopOrderRow> {
  await db
    .insertInto('shop_orders')
    .values(row)
    .onConflict((oc) => oc.columns(['connection_id', 'order_id']).doNothing())
    .execute();
  return (await findOrder(db, row.connection_id, row.order_id)) as ShopOrderRow;
}

export async function markOrderConverted(
  db: Db,
  connectionId: string,
  orderId: string,
  conversion: { id: string; occurred_at: Date; click_id: string | null },
  revenue: string,
): Promise<void> {
  await db
    .updateTable('shop_orders')
    .set({
      conversion_id: conversion.id,
      converted_at: conversion.occurred_at,
      click_id: conversion.click_id,
      revenue,
    })
    .where('connection_id', '=', connectionId)
    .where('order_id', '=', orderId)
    .execute();
}

export async function markOrderPaid(db: Db, connectionId: string, orderId: string, at: Date): Promise<void> {
  await db
    .updateTable('shop_orders')
    .set({ paid_at: at })
    .where('connection_id', '=', connectionId)
    .where('order_id', '=', orderId)
    .execute();
}

export async function refundRecorded(db: Db, connectionId: string, refundId: string): Promise<boolean> {
  const row = await db
    .selectFrom('shop_refunds')
    .select('refund_id')
    .where('connection_id', '=', connectionId)
    .where('refund_id', '=', refundId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertRefund(db: Db, row: NewRow<'shop_refunds'>): Promise<void> {
  await db
    .insertInto('shop_refunds')
    .values(row)
    .onConflict((oc) => oc.columns(['connection_id', 'refund_id']).doNothing())
    .execute();
}

/** The order is cancelled from now on (the first mark stands). */
export async function markOrderCancelled(
  db: Db,
  connectionId: string,
  orderId: string,
  at: Date,
): Promise<void> {
  await db
    .updateTable('shop_orders')
    .set({ cancelled_at: at })
    .where('connection_id', '=', connectionId)
    .where('order_id', '=', orderId)
    .where('cancelled_at', 'is', null)
    .execute();
}

/** The sum of the order's recorded refunds, as exact decimal text. */
export async function refundedTotal(db: Db, connectionId: string, orderId: string): Promise<string> {
  const row = await db
    .selectFrom('shop_refunds')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('total'))
    .where('connection_id', '=', connectionId)
    .where('order_id', '=', orderId)
    .executeTakeFirst();
  return row?.total ?? '0';
}
