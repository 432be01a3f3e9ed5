-- Inbound shop webhooks (src/modules/shops): a workspace connects Shopify and
-- WooCommerce stores; each connection has its own webhook URL and signing
-- secret (one AES-GCM ciphertext bound to the row id, never returned).
CREATE TABLE shop_connections (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  platform           text NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
  name               text NOT NULL,
  shop_url           text NOT NULL,
  secret_encrypted   text NOT NULL,
  default_currency   text NOT NULL CHECK (default_currency ~ '^[A-Z]{3}$'),
  -- Customers whose shop marketing consent says subscribed join this list; NULL: nobody is subscribed.
  consent_list_id    uuid REFERENCES lists (id) ON DELETE SET NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX shop_connections_workspace_name ON shop_connections (workspace_id, lower(name));
CREATE INDEX shop_connections_workspace_id ON shop_connections (workspace_id, id);

-- What each accepted webhook did, newest first per connection. delivery_id is
-- the shop's own id of the delivery (X-Shopify-Webhook-Id,
-- X-WC-Webhook-Delivery-ID); event_id is Shopify's X-Shopify-Event-Id, the
-- same for every delivery of one event. Either seen before: a duplicate.
CREATE TABLE shop_webhook_deliveries (
  id             uuid PRIMARY KEY,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  connection_id  uuid NOT NULL REFERENCES shop_connections (id) ON DELETE CASCADE,
  delivery_id    text NOT NULL,
  event_id       text,
  topic          text NOT NULL,
  outcome        text NOT NULL CHECK (outcome IN ('applied', 'ignored')),
  detail         text,
  received_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX shop_webhook_deliveries_delivery ON shop_webhook_deliveries (connection_id, delivery_id);
CREATE INDEX shop_webhook_deliveries_event ON shop_webhook_deliveries (connection_id, event_id)
  WHERE event_id IS NOT NULL;
CREATE INDEX shop_webhook_deliveries_recent ON shop_webhook_deliveries (connection_id, id DESC);

-- A shop customer known as a Herald contact (the connector's external id link).
CREATE TABLE shop_customers (
  connection_id  uuid NOT NULL REFERENCES shop_connections (id) ON DELETE CASCADE,
  customer_id    text NOT NULL,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  contact_id     uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  updated_at     timestamptz NOT NULL,
  PRIMARY KEY (connection_id, customer_id)
);
CREATE INDEX shop_customers_contact ON shop_customers (contact_id);

-- Orders seen per connection: which contact, the conversion recorded for it
-- (and the click it was attributed to, so refunds are attributed alike), and
-- whether Order Paid was recorded, so updates of the same order never record
-- either twice.
CREATE TABLE shop_orders (
  connection_id   uuid NOT NULL REFERENCES shop_connections (id) ON DELETE CASCADE,
  order_id        text NOT NULL,
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  contact_id      uuid REFERENCES contacts (id) ON DELETE SET NULL,
  currency        text NOT NULL,
  conversion_id   uuid,
  converted_at    timestamptz,
  click_id        uuid,
  paid_at         timestamptz,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (connection_id, order_id)
);

-- Refunds recorded per connection (Order Refunded + a negative conversion), once each.
CREATE TABLE shop_refunds (
  connection_id  uuid NOT NULL REFERENCES shop_connections (id) ON DELETE CASCADE,
  refund_id      text NOT NULL,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  order_id       text NOT NULL,
  amount         numeric(24, 6) NOT NULL,
  created_at     timestamptz NOT NULL,
  PRIMARY KEY (connection_id, refund_id)
);
