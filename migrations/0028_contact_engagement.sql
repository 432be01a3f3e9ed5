-- Contact engagement (src/modules/engagement): per contact an engagement
-- score, predicted probabilities to open and to click, and the hour of the
-- week they most likely engage at, with the figures behind them; per
-- workspace the models those probabilities come from and the population
-- profile of engagement hours.
--
-- Engagement = human opens and clicks (tracking hits classified human or
-- proxy) and conversions. Everything here is recomputed from those tables
-- by the engagement jobs: nothing else writes it, and losing it loses
-- nothing but time.

-- One row per contact, rewritten in pages by `engagement.refresh`. Hours of
-- the week are 0-167 in UTC, hour 0 being Monday 00:00-00:59.
CREATE TABLE contact_engagement (
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  contact_id          uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  -- 1 per human open, 3 per human click, 5 per conversion, each halved every 30 days.
  score               double precision NOT NULL CHECK (score >= 0),
  -- NULL while the workspace has no trained model of that kind.
  p_open              double precision CHECK (p_open BETWEEN 0 AND 1),
  p_click             double precision CHECK (p_click BETWEEN 0 AND 1),
  open_model_id       uuid,
  click_model_id      uuid,
  -- NULL when neither the contact nor the workspace has any engagement in 180 days.
  best_hour           smallint CHECK (best_hour BETWEEN 0 AND 167),
  -- The contact's own human opens and clicks per hour of the week in 180 days: {"33": 4, ...}.
  hour_counts         jsonb NOT NULL DEFAULT '{}',
  last_open_at        timestamptz,
  last_click_at       timestamptz,
  -- The later of the two: what the at_risk segment condition reads.
  last_engaged_at     timestamptz,
  last_conversion_at  timestamptz,
  opens_30d           integer NOT NULL,
  opens_90d           integer NOT NULL,
  clicks_30d          integer NOT NULL,
  clicks_90d          integer NOT NULL,
  received_30d        integer NOT NULL,
  received_90d        integer NOT NULL,
  conversions_365d    integer NOT NULL,
  computed_at         timestamptz NOT NULL,
  -- Segment conditions probe by (workspace, contact) and scan by workspace.
  PRIMARY KEY (workspace_id, contact_id)
);
CREATE INDEX contact_engagement_contact ON contact_engagement (contact_id);

-- Every training attempt per workspace and kind: a trained model with its
-- coefficients and validation figures, or a refusal with its reason (too
-- little data). The latest trained row of a kind is the model in use.
CREATE TABLE engagement_models (
  id                   uuid PRIMARY KEY,
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  kind                 text NOT NULL CHECK (kind IN ('open', 'click')),
  status               text NOT NULL CHECK (status IN ('trained', 'refused')),
  reason               text,
  -- Features as of the cutoff; labels from marketing email sent in [cutoff, cutoff + horizon).
  cutoff               timestamptz NOT NULL,
  horizon_days         integer NOT NULL,
  features             text[],
  intercept            double precision,
  -- On the raw feature scale, in the order of features.
  weights              double precision[],
  training_rows        integer NOT NULL,
  validation_rows      integer NOT NULL,
  training_positives   integer,
  validation_positives integer,
  validation_auc       double precision,
  -- AUC of "minus days since the last human open" on the same validation rows.
  baseline_auc         double precision,
  brier                double precision,
  log_loss             double precision,
  calibration          jsonb,
  trained_at           timestamptz NOT NULL,
  CHECK (status = 'refused' OR (intercept IS NOT NULL AND weights IS NOT NULL AND features IS NOT NULL))
);
CREATE INDEX engagement_models_latest ON engagement_models (workspace_id, kind, trained_at DESC);

-- The workspace's engagement hours: the population prior of the send-time
-- profiles, and what a contact without a row yet is given.
CREATE TABLE workspace_engagement (
  workspace_id   uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Human opens and clicks per hour of the week in 180 days: {"33": 120, ...}.
  hour_counts    jsonb NOT NULL,
  best_hour      smallint CHECK (best_hour BETWEEN 0 AND 167),
  contacts       integer NOT NULL,
  refreshed_at   timestamptz NOT NULL
);
