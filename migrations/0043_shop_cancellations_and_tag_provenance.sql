-- Shop orders: cancellations and net revenue (src/modules/shops).
--
-- A conversion counts an order that was not cancelled; its revenue is the
-- order total net of the order's refunds. A cancelled order's conversion is
-- deleted (every report, holdout and A/B reader then agrees without a filter);
-- a refund lowers its order's conversion revenue instead of adding a
-- negative conversion, which the conversion counts would include.

-- revenue: the order's conversion revenue before refunds (the order total),
-- so net revenue is recomputed exactly from it and the order's refunds.
-- cancelled_at: when Herald learned the order was cancelled; a cancel that
-- arrives before the order leaves a row without a contact, so the order is
-- never counted when it arrives late.
ALTER TABLE shop_orders ADD COLUMN revenue numeric(24, 6);
ALTER TABLE shop_orders ADD COLUMN cancelled_at timestamptz;

UPDATE shop_orders o SET revenue = c.revenue
FROM conversions c
WHERE c.id = o.conversion_id;

-- Fold the negative refund conversions recorded before into their orders' conversions.
CREATE TEMPORARY TABLE shop_refund_fold ON COMMIT DROP AS
SELECT r.id AS refund_conversion_id, o.conversion_id, r.campaign_id
FROM conversions r
JOIN shop_orders o ON o.workspace_id = r.workspace_id
  AND r.idempotency_key LIKE 'shop:' || o.connection_id::text || ':refund:%'
JOIN shop_refunds f ON f.connection_id = o.connection_id AND f.order_id = o.order_id
  AND r.idempotency_key = 'shop:' || o.connection_id::text || ':refund:' || f.refund_id
WHERE o.conversion_id IS NOT NULL;

UPDATE conversions c SET revenue = greatest(
  o.revenue - coalesce((SELECT sum(f.amount) FROM shop_refunds f
                        WHERE f.connection_id = o.connection_id AND f.order_id = o.order_id), 0),
  0)
FROM shop_orders o
WHERE c.id = o.conversion_id AND o.revenue IS NOT NULL
  AND EXISTS (SELECT 1 FROM shop_refund_fold x WHERE x.conversion_id = o.conversion_id);

DELETE FROM conversions c USING shop_refund_fold x WHERE c.id = x.refund_conversion_id;

-- The campaign totals of the campaigns touched, recounted from their conversions.
CREATE TEMPORARY TABLE shop_refund_campaigns ON COMMIT DROP AS
SELECT DISTINCT campaign_id FROM shop_refund_fold WHERE campaign_id IS NOT NULL
UNION
SELECT DISTINCT c.campaign_id FROM shop_refund_fold x JOIN conversions c ON c.id = x.conversion_id
WHERE c.campaign_id IS NOT NULL;

DELETE FROM analytics_conversions a USING shop_refund_campaigns t WHERE a.campaign_id = t.campaign_id;
INSERT INTO analytics_conversions (campaign_id, currency, workspace_id, conversions, revenue)
SELECT c.campaign_id, coalesce(c.currency, ''), c.workspace_id, count(*), coalesce(sum(c.revenue), 0)
FROM conversions c JOIN shop_refund_campaigns t ON t.campaign_id = c.campaign_id
GROUP BY c.campaign_id, coalesce(c.currency, ''), c.workspace_id;

-- Mailchimp tags mapped to Herald lists (src/modules/crm): the memberships
-- the connector itself created because a member had the tag. Only these are
-- removed when the tag goes in Mailchimp; a membership that existed before
-- (made by hand, by a form, by an import) has no row here and is never touched.
CREATE TABLE crm_tag_memberships (
  connection_id  uuid NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
  list_id        uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
  contact_id     uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  tag            text NOT NULL,
  created_at     timestamptz NOT NULL,
  PRIMARY KEY (connection_id, list_id, contact_id)
);
CREATE INDEX crm_tag_memberships_contact ON crm_tag_memberships (connection_id, contact_id);
