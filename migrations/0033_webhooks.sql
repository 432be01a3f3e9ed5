-- Outbound webhooks (src/modules/webhooks).
--
-- webhook_endpoints: where a workspace wants its events POSTed, which event
-- types (empty array: all), and the signing secret (Standard Webhooks
-- `whsec_...`), encrypted with Herald's keyring.
--
-- webhook_events: the outbox. A module that changes something records the
-- event in the same transaction as the change (recordWebhookEvent), in the
-- same statement as one webhook_deliveries row per matching enabled
-- endpoint, so no committed change loses its event and no event exists
-- without its deliveries. An event is only stored when at least one enabled
-- endpoint of its workspace is subscribed to its type.
--
-- webhook_deliveries: one event to one endpoint: pending (with the time of
-- its next attempt and a lease while an attempt runs), delivered or failed.
--
-- Personal data: webhook_events.payload holds contact ids, external ids and
-- email addresses; contact_id is kept as a column on events and deliveries
-- so that erasing a contact can delete them (no foreign key: events outlive
-- nothing, and the contacts table's deletes stay cheap).
CREATE TABLE webhook_endpoints (
  id                uuid PRIMARY KEY,
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  url               text NOT NULL,
  description       text,
  event_types       text[] NOT NULL DEFAULT '{}',
  enabled           boolean NOT NULL DEFAULT true,
  -- Why Herald disabled it (e.g. the receiver answered 410 Gone); NULL when a user did or it is enabled.
  disabled_reason   text,
  secret_encrypted  text NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id, id);

CREATE TABLE webhook_events (
  -- UUIDv7 taken when the change happened: events sort by it.
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  type          text NOT NULL,
  contact_id    uuid,
  -- The JSON body POSTed, fixed when recorded so every attempt sends the same bytes.
  payload       text NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX webhook_events_workspace_time ON webhook_events (workspace_id, created_at);
CREATE INDEX webhook_events_contact ON webhook_events (contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE webhook_deliveries (
  id                uuid PRIMARY KEY,
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id          uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  contact_id        uuid,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz,
  -- While an attempt runs: a dispatcher that dies mid-request leaves it to expire, and the attempt is made again.
  locked_until      timestamptz,
  last_status_code  integer,
  last_error        text,
  last_attempt_at   timestamptz,
  delivered_at      timestamptz,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  -- One row per event and endpoint: a replay or retry makes the same row pending again.
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The per-contact ordering check: an earlier pending event of the same contact to the same endpoint.
CREATE INDEX webhook_deliveries_contact_order ON webhook_deliveries (endpoint_id, contact_id, event_id)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_contact ON webhook_deliveries (contact_id) WHERE contact_id IS NOT NULL;
