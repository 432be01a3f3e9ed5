-- Campaign experiments: A/B/n tests and holdout groups.
--
-- An A/B campaign first sends its test group: a share of the audience, split
-- by a seeded random draw stratified by mailbox provider, each part getting
-- one variant. The whole test group is written to the send ledger when
-- sending starts (status queued, its variant, a lease running until the
-- variant's send time), so the ordinary claim of expired leases sends it.
-- When the test group is sent the campaign waits in status 'testing' for the
-- test window; then the winner is chosen (or a person chooses) and the
-- remainder of the audience, resolved live, gets the winning variant.
--
-- A holdout group is a seeded random share of the audience that receives
-- nothing; its ledger rows have status 'holdout', so conversions of treated
-- and held-out contacts can be compared (lift).

ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check
  CHECK (status IN ('draft', 'scheduled', 'sending', 'testing', 'paused', 'sent', 'cancelled'));

ALTER TABLE campaigns
  -- Share of the audience kept back as a control group that receives nothing.
  ADD COLUMN holdout_share real NOT NULL DEFAULT 0 CHECK (holdout_share >= 0 AND holdout_share <= 0.5),
  -- Seeds the holdout draw and the A/B split; fixed when sending starts, so both can be reproduced.
  ADD COLUMN random_seed text,
  -- Set when an A/B test's winner is chosen: the variant every later recipient gets.
  ADD COLUMN remainder_variant smallint,
  -- Deliver to each contact in their own best hour within 24 hours of the start.
  ADD COLUMN send_time_optimization boolean NOT NULL DEFAULT false;

-- A uniform draw in [0, 1) from a seed, a purpose and an id: the same inputs
-- always give the same draw (52 bits of an MD5, enough for any share).
-- Holdout and A/B assignment use it, so a contact's group can be recomputed.
CREATE FUNCTION herald_unit_draw(seed text, purpose text, id uuid) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (('x' || substr(md5(seed || ':' || purpose || ':' || id::text), 1, 13))::bit(52)::bigint
          / 4503599627370496.0)::double precision
$$;

CREATE TABLE campaign_ab_tests (
  campaign_id         uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Share of the audience (after the holdout) in the test group; 1: everyone is in the test.
  test_share          real NOT NULL CHECK (test_share > 0 AND test_share <= 1),
  metric              text NOT NULL CHECK (metric IN ('human_unique_opens', 'human_unique_clicks',
                        'click_to_open', 'conversions', 'revenue_per_recipient')),
  method              text NOT NULL CHECK (method IN ('frequentist', 'bayesian')),
  -- frequentist: 1 - alpha; bayesian: the probability to beat all others a winner needs.
  confidence          real NOT NULL CHECK (confidence >= 0.5 AND confidence < 1),
  -- How long after its own send each test recipient's behaviour is counted.
  window_minutes      integer NOT NULL CHECK (window_minutes BETWEEN 1 AND 43200),
  when_inconclusive   text NOT NULL CHECK (when_inconclusive IN ('send_control', 'send_leader', 'wait')),
  -- revenue_per_recipient counts conversions in this currency only.
  revenue_currency    text CHECK (revenue_currency ~ '^[A-Z]{3}$'),
  -- pending: not started; testing: test group sending or measured; waiting: inconclusive, a person
  -- chooses; decided: the winner is known.
  phase               text NOT NULL DEFAULT 'pending'
                        CHECK (phase IN ('pending', 'testing', 'waiting', 'decided')),
  test_size           integer,
  test_sent_at        timestamptz,
  decide_at           timestamptz,
  winner              smallint,
  decided_at          timestamptz,
  decided_by          text CHECK (decided_by IN ('test', 'policy', 'manual')),
  -- The evaluation the decision was made on: per-variant figures, method, and the reason in words.
  decision            jsonb,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  CHECK (metric <> 'revenue_per_recipient' OR revenue_currency IS NOT NULL)
);
CREATE INDEX campaign_ab_tests_due ON campaign_ab_tests (decide_at) WHERE phase = 'testing';
CREATE INDEX campaign_ab_tests_workspace ON campaign_ab_tests (workspace_id);

-- The variants of an A/B test. Position 0 is the control. A variant's NULL
-- fields take the campaign's own value; all variants share the campaign's
-- sender address, transport and audience.
CREATE TABLE campaign_variants (
  campaign_id          uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  position             smallint NOT NULL CHECK (position BETWEEN 0 AND 7),
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name                 text NOT NULL,
  subject              text,
  preheader            text,
  from_name            text,
  template_id          uuid,
  -- Pinned when sending starts, like the campaign's own.
  template_version_id  uuid,
  -- Minutes after the start the variant's test recipients are sent (a send-time variant).
  send_delay_minutes   integer NOT NULL DEFAULT 0 CHECK (send_delay_minutes BETWEEN 0 AND 10080),
  PRIMARY KEY (campaign_id, position),
  UNIQUE (campaign_id, name)
);
CREATE INDEX campaign_variants_template ON campaign_variants (workspace_id, template_id);

ALTER TABLE campaign_sends ADD COLUMN variant smallint;
ALTER TABLE campaign_sends DROP CONSTRAINT campaign_sends_status_check;
ALTER TABLE campaign_sends ADD CONSTRAINT campaign_sends_status_check
  CHECK (status IN ('queued', 'sent', 'failed', 'skipped', 'holdout'));
