-- Behavioural events (Segment-compatible track / identify / page / screen).
--
-- events is append-only and partitioned by month of occurred_at (the event's
-- own timestamp), on PostgreSQL and on PGlite alike: segment windows ("in the
-- last 30 days") prune to the newest partitions, and retention drops whole
-- months instead of deleting rows. Partitions are created ahead of time by the
-- events.maintain job and on demand by ingestion (herald_events_partition).
--
-- A unique index on a partitioned table must contain the partition key, so it
-- cannot make (workspace_id, message_id) unique across months. Idempotency
-- lives in event_message_ids instead: ingestion inserts the message ids first
-- (ON CONFLICT DO NOTHING) and stores only the events whose id was new, in one
-- statement. See docs/adr/0006-event-partitions-and-idempotency.md.
--
-- No foreign keys (per-row checks would cost more than the insert, as on
-- tracking_hits): triggers below delete a contact's events with the contact.

CREATE TABLE events (
  -- UUIDv7 taken when Herald received the event: id order is arrival order.
  id            uuid NOT NULL,
  workspace_id  uuid NOT NULL,
  occurred_at   timestamptz NOT NULL,
  received_at   timestamptz NOT NULL,
  type          text NOT NULL CHECK (type IN ('track', 'identify', 'page', 'screen')),
  -- track: the event name; page and screen: their name; identify: NULL.
  name          text,
  -- NULL while the sender is unknown (an anonymousId or a userId without a
  -- contact); set when an identify names the contact.
  contact_id    uuid,
  user_id       text,
  anonymous_id  text,
  message_id    text NOT NULL,
  -- api: sent to the ingestion API; herald: written by Herald itself (segment.entered, segment.exited).
  source        text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'herald')),
  -- track/page/screen: properties; identify: traits.
  properties    jsonb NOT NULL DEFAULT '{}'::jsonb,
  context       jsonb
) PARTITION BY RANGE (occurred_at);

-- Indexes chosen with EXPLAIN ANALYZE on PostgreSQL 15 with 1,000,000 contacts
-- and 20,000,000 events (bench/segments.ts; figures on 2 shared cores):
-- * Set-based segment queries ("Viewed Product >= 3 times in 30 days", "never
--   purchased") read one event name across the partitions a window keeps.
--   (workspace_id, name, type, contact_id, occurred_at) answers them with an
--   index-only scan: an index without `type` made every row a heap visit
--   (15 s for "never purchased" over a year of 1,000,000 purchases, against
--   about 0.5 s now), and contact_id before occurred_at hands the ids over in
--   contact order per partition, so grouping and semi/anti joins need no
--   large hash or sort. The window on occurred_at is then a filter inside the
--   name's range; partition pruning already limits it to the months concerned.
CREATE INDEX events_name_contact ON events (workspace_id, name, type, contact_id, occurred_at);
-- * The same conditions probed per contact (campaign claims walking contacts in
--   id order, incremental membership checks): a few index-only lookups each.
CREATE INDEX events_contact_name ON events (workspace_id, contact_id, name, type, occurred_at);
-- Events waiting for an identify to name their contact; small, because attached events leave it.
CREATE INDEX events_unattached_anonymous ON events (workspace_id, anonymous_id) WHERE contact_id IS NULL;
CREATE INDEX events_unattached_user ON events (workspace_id, user_id) WHERE contact_id IS NULL;
-- Contacts touched by recent events (incremental segment membership); BRIN, because arrival is append order.
CREATE INDEX events_received ON events USING brin (received_at);

-- Message ids seen per workspace, for idempotent retries across partitions.
CREATE TABLE event_message_ids (
  workspace_id  uuid NOT NULL,
  message_id    text NOT NULL,
  received_at   timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, message_id)
);
CREATE INDEX event_message_ids_received ON event_message_ids USING brin (received_at);

-- anonymousId -> contact, learnt from identify calls, so later anonymous events find their contact.
CREATE TABLE anonymous_ids (
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  anonymous_id  text NOT NULL,
  contact_id    uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, anonymous_id)
);
CREATE INDEX anonymous_ids_contact ON anonymous_ids (contact_id);

-- Creates the partition holding month_start's month (UTC) unless it exists.
-- The advisory lock serializes creators (CREATE TABLE IF NOT EXISTS alone can
-- still collide between two sessions).
CREATE FUNCTION herald_events_partition(month_start date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  first date := date_trunc('month', month_start)::date;
  part text := 'events_' || to_char(first, 'YYYY_MM');
BEGIN
  PERFORM pg_advisory_xact_lock(7142011400);
  IF to_regclass(part) IS NULL THEN
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
      part,
      (first::timestamp AT TIME ZONE 'UTC'),
      ((first + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
  END IF;
  RETURN part;
END;
$$;

-- Drops the partition of month_start's month, if there is one (retention).
CREATE FUNCTION herald_events_drop_partition(month_start date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'events_' || to_char(date_trunc('month', month_start), 'YYYY_MM');
BEGIN
  PERFORM pg_advisory_xact_lock(7142011400);
  IF to_regclass(part) IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE %I', part);
  RETURN true;
END;
$$;

-- This month and the next two exist from the start; the job keeps creating ahead.
SELECT herald_events_partition(((now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
FROM generate_series(0, 2) AS m;

-- Erasure: a deleted contact's events go with it (and a deleted workspace's, attached or not).
CREATE FUNCTION events_erase_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM events e USING gone g WHERE e.workspace_id = g.workspace_id AND e.contact_id = g.id;
  RETURN NULL;
END;
$$;
CREATE TRIGGER contacts_erase_events
  AFTER DELETE ON contacts REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION events_erase_contacts();

CREATE FUNCTION events_erase_workspaces() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM events e USING gone g WHERE e.workspace_id = g.id;
  DELETE FROM event_message_ids m USING gone g WHERE m.workspace_id = g.id;
  RETURN NULL;
END;
$$;
CREATE TRIGGER workspaces_erase_events
  AFTER DELETE ON workspaces REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION events_erase_workspaces();
