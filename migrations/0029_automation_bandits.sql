-- Bandit splits in automations: which path each run took at a random_split
-- node with a `bandit`, and, once known, whether that run was a success for
-- the node's metric. Thompson sampling reads the counts per path.
--
-- One row per run and node: a run chooses once, so a step repeated after a
-- crash (or a loop back through the node) takes the recorded path. The row
-- is written before the step's transaction, as an email is accepted before
-- it, keyed so that a repeat finds it.
--
-- Holdout groups need no table: a held-out run is an automation_runs row
-- that ended at enrolment (status exited, exit_reason 'holdout').

CREATE TABLE automation_bandit_assignments (
  run_id         uuid NOT NULL REFERENCES automation_runs (id) ON DELETE CASCADE,
  node_id        text NOT NULL,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  automation_id  uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  -- No foreign key, as on automation_runs: a conversion is looked up by it.
  contact_id     uuid NOT NULL,
  path           smallint NOT NULL CHECK (path BETWEEN 0 AND 7),
  -- The step that executed the split: the path's first email is the run's
  -- first send_email step after it.
  step           integer NOT NULL CHECK (step > 0),
  -- The node's bandit settings when the run chose; evidence is counted per metric.
  metric         text NOT NULL CHECK (metric IN ('opened', 'clicked', 'converted')),
  window_hours   integer NOT NULL CHECK (window_hours > 0),
  -- prior: the configured percents (some path had no outcome yet); thompson: a posterior draw.
  chosen_by      text NOT NULL CHECK (chosen_by IN ('prior', 'thompson')),
  chosen_at      timestamptz NOT NULL,
  -- Set when settled (opened / clicked): the email the outcome is about.
  message_id     uuid,
  -- NULL: not known yet. success / failure: a trial. none: never a trial
  -- (the path's email failed, or the run ended without one).
  outcome        text CHECK (outcome IN ('success', 'failure', 'none')),
  settled_at     timestamptz,
  PRIMARY KEY (run_id, node_id)
);

-- The posterior counts: per node and metric, runs per path and outcome (an
-- index-only count once the visibility map is set).
CREATE INDEX automation_bandit_counts
  ON automation_bandit_assignments (workspace_id, automation_id, node_id, metric, path, outcome);

-- Settling looks only at outcomes not known yet: runs inside their window,
-- and runs still before their path's first email.
CREATE INDEX automation_bandit_pending
  ON automation_bandit_assignments (automation_id, node_id, chosen_at) WHERE outcome IS NULL;
