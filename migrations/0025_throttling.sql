-- Per-recipient-domain throttles and warm-up schedules (src/modules/throttling).
--
-- A throttle rule limits the mail of a workspace to some recipient domains
-- (exact domains and/or mailbox provider groups as herald_mailbox_provider()
-- names them) per clock minute, clock hour and day; optionally only the mail
-- sent through one transport. A warm-up schedule caps the mail of one sending
-- domain or one transport per day, with caps that grow day by day from its
-- start date (days in the workspace's time zone); after its last day there is
-- no cap. Marketing email waits for room; transactional email is counted but
-- never held (see the README, "Throttles and warm-up").

CREATE TABLE throttle_rules (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name          text NOT NULL,
  -- Lowercase ASCII (punycode) recipient domains, matched exactly.
  domains       text[] NOT NULL DEFAULT '{}',
  -- Mailbox provider groups of herald_mailbox_provider() (migration 0010).
  providers     text[] NOT NULL DEFAULT '{}'
    CHECK (providers <@ ARRAY['gmail', 'outlook', 'yahoo', 'apple']::text[]),
  -- NULL: mail through any transport. A deleted transport takes its rules with it.
  transport_id  uuid REFERENCES transports (id) ON DELETE CASCADE,
  per_minute    integer CHECK (per_minute > 0),
  per_hour      integer CHECK (per_hour > 0),
  per_day       integer CHECK (per_day > 0),
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  CHECK (cardinality(domains) + cardinality(providers) > 0),
  CHECK (COALESCE(per_minute, per_hour, per_day) IS NOT NULL)
);
CREATE INDEX throttle_rules_workspace ON throttle_rules (workspace_id, id);

CREATE TABLE warmup_schedules (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name               text NOT NULL,
  -- Exactly one of the two: what the schedule caps.
  sending_domain_id  uuid REFERENCES sending_domains (id) ON DELETE CASCADE,
  transport_id       uuid REFERENCES transports (id) ON DELETE CASCADE,
  -- The first capped day, a local date in the workspace's time zone (text: no driver date parsing).
  start_date         text NOT NULL CHECK (start_date ~ '^\d{4}-\d{2}-\d{2}$'),
  -- As given: explicit caps of the first days, and/or a growth rule for the days after them.
  daily_caps         integer[] NOT NULL DEFAULT '{}',
  growth_start       integer CHECK (growth_start > 0),
  growth_factor      double precision CHECK (growth_factor > 1),
  growth_target      integer,
  -- The whole schedule, one cap per day from start_date on: daily_caps, then the generated days.
  caps               integer[] NOT NULL CHECK (cardinality(caps) BETWEEN 1 AND 366),
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  CHECK ((sending_domain_id IS NULL) <> (transport_id IS NULL)),
  CHECK ((growth_start IS NULL) = (growth_factor IS NULL) AND (growth_start IS NULL) = (growth_target IS NULL)),
  CHECK (growth_target >= growth_start)
);
CREATE INDEX warmup_schedules_workspace ON warmup_schedules (workspace_id, id);
-- One schedule per sending domain and one per transport.
CREATE UNIQUE INDEX warmup_schedules_domain ON warmup_schedules (workspace_id, sending_domain_id)
  WHERE sending_domain_id IS NOT NULL;
CREATE UNIQUE INDEX warmup_schedules_transport ON warmup_schedules (workspace_id, transport_id)
  WHERE transport_id IS NOT NULL;

-- What was sent (or reserved) per rule or schedule and window, shared by every
-- worker: a reservation locks and increments these rows in one short
-- transaction, so the limits hold however many processes send. window_start
-- is the minute or hour (UTC) or the local midnight (workspace's zone) that
-- starts the window. waiting counts the recipients refused in the window; it
-- spreads them over the following windows instead of waking all of them at
-- the next one. No foreign key on key_id (a rule or a schedule id): their
-- service deletes the counters with them, and hourly pruning drops old windows.
CREATE TABLE throttle_counters (
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key_id        uuid NOT NULL,
  window_kind   text NOT NULL CHECK (window_kind IN ('minute', 'hour', 'day')),
  window_start  timestamptz NOT NULL,
  used          integer NOT NULL DEFAULT 0,
  waiting       integer NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, key_id, window_kind, window_start)
);
CREATE INDEX throttle_counters_window_start ON throttle_counters (window_start);
