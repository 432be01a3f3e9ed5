-- Conversions and campaign analytics rollups.
--
-- Reports never scan raw rows: a rollup loop in the workers reads
-- tracking_hits after a watermark (UUIDv7 id order) and adds to per-campaign
-- counters, hourly buckets, per-link and per-mailbox-provider counters. Unique
-- counts come from a compact first-seen table per (campaign, contact). Sent and
-- failed per provider come from the send ledger, read in contact order behind
-- a per-campaign cursor. Conversions add to their campaign's totals in the
-- transaction that records them.

-- The mailbox provider of an address, from its domain (no DNS lookups).
CREATE FUNCTION herald_mailbox_provider(email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN d IN ('gmail.com', 'googlemail.com') THEN 'gmail'
    WHEN d IN ('outlook.com', 'msn.com') OR d ~ '^(hotmail|live|outlook)\.[a-z.]+$' THEN 'outlook'
    WHEN d IN ('ymail.com', 'aol.com') OR d ~ '^yahoo\.[a-z.]+$' THEN 'yahoo'
    WHEN d IN ('icloud.com', 'me.com', 'mac.com') THEN 'apple'
    ELSE 'other'
  END
  FROM (SELECT lower(regexp_replace(email, '^.*@', '')) AS d) AS domain
$$;

CREATE TABLE conversions (
  id               uuid PRIMARY KEY,
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Erasing a contact keeps the conversion (revenue stays in the numbers) without the person.
  contact_id       uuid REFERENCES contacts (id) ON DELETE SET NULL,
  campaign_id      uuid REFERENCES campaigns (id) ON DELETE SET NULL,
  -- The tracking_hits id of the click it is attributed to. No foreign key: raw hits may be purged.
  click_id         uuid,
  link_id          uuid,
  attribution      text NOT NULL CHECK (attribution IN ('click_id', 'last_click', 'none')),
  event            text,
  -- Exact decimal, never a float.
  revenue          numeric(24, 6),
  currency         text CHECK (currency ~ '^[A-Z]{3}$'),
  idempotency_key  text,
  -- SHA-256 of the normalized request: a reused idempotency key with another request is refused.
  request_hash     text,
  occurred_at      timestamptz NOT NULL,
  created_at       timestamptz NOT NULL,
  CHECK ((revenue IS NULL) = (currency IS NULL))
);
CREATE UNIQUE INDEX conversions_idempotency ON conversions (workspace_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX conversions_workspace_occurred ON conversions (workspace_id, occurred_at);
CREATE INDEX conversions_campaign ON conversions (campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX conversions_contact ON conversions (contact_id);

-- Conversions and revenue per campaign and currency ('' for conversions without revenue).
CREATE TABLE analytics_conversions (
  campaign_id   uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  currency      text NOT NULL,
  workspace_id  uuid NOT NULL,
  conversions   bigint NOT NULL DEFAULT 0,
  revenue       numeric(30, 6) NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, currency)
);

-- Where the hits rollup stands: every hit with an id up to last_hit_id is counted.
CREATE TABLE analytics_state (
  name          text PRIMARY KEY,
  last_hit_id   uuid,
  -- Hits recorded before this instant are counted (the rollup's last cut-off when it caught up).
  caught_up_to  timestamptz,
  updated_at    timestamptz
);
INSERT INTO analytics_state (name) VALUES ('hits');

-- Per-campaign counters. Totals count hits; unique counts count contacts.
CREATE TABLE analytics_campaigns (
  campaign_id          uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
  workspace_id         uuid NOT NULL,
  opens                bigint NOT NULL DEFAULT 0,
  human_opens          bigint NOT NULL DEFAULT 0,
  unique_opens         bigint NOT NULL DEFAULT 0,
  human_unique_opens   bigint NOT NULL DEFAULT 0,
  clicks               bigint NOT NULL DEFAULT 0,
  human_clicks         bigint NOT NULL DEFAULT 0,
  unique_clicks        bigint NOT NULL DEFAULT 0,
  human_unique_clicks  bigint NOT NULL DEFAULT 0,
  -- Send ledger rollup: rows with contact_id <= ledger_cursor are counted in
  -- analytics_providers and below; ledger_done once the campaign is finished and all are.
  ledger_cursor        uuid,
  ledger_done          boolean NOT NULL DEFAULT false,
  bounced_hard         bigint NOT NULL DEFAULT 0,
  bounced_soft         bigint NOT NULL DEFAULT 0
);
CREATE INDEX analytics_campaigns_workspace ON analytics_campaigns (workspace_id);

-- Hourly buckets (UTC). unique_* count contacts whose first open/click of the campaign fell in the hour.
CREATE TABLE analytics_hourly (
  campaign_id          uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  hour                 timestamptz NOT NULL,
  workspace_id         uuid NOT NULL,
  opens                bigint NOT NULL DEFAULT 0,
  human_opens          bigint NOT NULL DEFAULT 0,
  unique_opens         bigint NOT NULL DEFAULT 0,
  human_unique_opens   bigint NOT NULL DEFAULT 0,
  clicks               bigint NOT NULL DEFAULT 0,
  human_clicks         bigint NOT NULL DEFAULT 0,
  unique_clicks        bigint NOT NULL DEFAULT 0,
  human_unique_clicks  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, hour)
);
CREATE INDEX analytics_hourly_workspace ON analytics_hourly (workspace_id, hour);

-- Per mailbox provider: sent/failed from the ledger, unique engaged contacts from the hits.
CREATE TABLE analytics_providers (
  campaign_id          uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  provider             text NOT NULL,
  workspace_id         uuid NOT NULL,
  sent                 bigint NOT NULL DEFAULT 0,
  failed               bigint NOT NULL DEFAULT 0,
  unique_opens         bigint NOT NULL DEFAULT 0,
  human_unique_opens   bigint NOT NULL DEFAULT 0,
  unique_clicks        bigint NOT NULL DEFAULT 0,
  human_unique_clicks  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, provider)
);

CREATE TABLE analytics_links (
  campaign_id          uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  link_id              uuid NOT NULL,
  workspace_id         uuid NOT NULL,
  clicks               bigint NOT NULL DEFAULT 0,
  human_clicks         bigint NOT NULL DEFAULT 0,
  unique_clicks        bigint NOT NULL DEFAULT 0,
  human_unique_clicks  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, link_id)
);

-- First-seen state per (campaign, contact), so unique counts are counted once.
CREATE TABLE analytics_recipients (
  campaign_id           uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  contact_id            uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  workspace_id          uuid NOT NULL,
  first_open_at         timestamptz,
  first_human_open_at   timestamptz,
  first_click_at        timestamptz,
  first_human_click_at  timestamptz,
  PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX analytics_recipients_contact ON analytics_recipients (contact_id);

-- First-seen state per (campaign, link, contact), for unique clicks per link.
CREATE TABLE analytics_link_recipients (
  campaign_id    uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  link_id        uuid NOT NULL,
  contact_id     uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  workspace_id   uuid NOT NULL,
  human_clicked  boolean NOT NULL,
  PRIMARY KEY (campaign_id, link_id, contact_id)
);
CREATE INDEX analytics_link_recipients_contact ON analytics_link_recipients (contact_id);

-- A campaign's unsubscribes are counted from the consent ledger by source_id (the campaign id).
CREATE INDEX consent_records_unsubscribe_source ON consent_records (workspace_id, source_id)
  WHERE action = 'unsubscribe' AND source_id IS NOT NULL;
CREATE INDEX consent_records_unsubscribe_created ON consent_records (workspace_id, created_at)
  WHERE action = 'unsubscribe';
