-- The automation engine: one run per contact (and instance key) inside an
-- automation, and one row per node execution. The step-execution key
-- (run_id, step) is what makes a restart safe: a run's step N can be written
-- once, in the same transaction that moves the run on, so a worker that dies
-- mid-step leaves the run where it was and the next worker repeats exactly
-- that step (its side effects are idempotent by the same key).

CREATE TABLE automation_runs (
  id             uuid PRIMARY KEY,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  automation_id  uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  -- The version the contact entered; a later publish does not move it.
  version        integer NOT NULL,
  -- No foreign key: a deleted contact's run ends (reason contact_deleted) at
  -- its next wake and stays readable, instead of vanishing mid-journey.
  contact_id     uuid NOT NULL,
  -- '' when the automation has no instance_key.
  instance_key   text NOT NULL DEFAULT '',
  status         text NOT NULL CHECK (status IN ('active', 'completed', 'exited', 'failed')),
  -- The node the run executes next (or, for a wait_for, the node it waits in).
  node           text NOT NULL,
  -- Node executions so far: the next execution is step + 1.
  step           integer NOT NULL DEFAULT 0,
  -- When the run is due; also the claim lease while a worker executes it.
  next_run_at    timestamptz,
  -- A wait_for's event, filters, deadline and edges; NULL when not waiting for one.
  waiting        jsonb,
  exit_reason    text,
  entered_at     timestamptz NOT NULL,
  finished_at    timestamptz,
  updated_at     timestamptz NOT NULL,
  -- What enrolled the contact (an event id, 'api:<request key>'): with the
  -- unique index below, a trigger scan that reads the same event twice (its
  -- watermark overlaps) or a repeated enrol request enrols once.
  trigger_id     text,
  -- The trigger's data, for templates as {{ automation.data }}.
  data           jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- "Once at a time": at most one active run per contact and instance key. A
-- partial index holds only active runs, so it stays as small as the number
-- of contacts inside, however many have finished.
CREATE UNIQUE INDEX automation_runs_one_active ON automation_runs (automation_id, contact_id, instance_key)
  WHERE status = 'active';

-- The claim: due active runs in next_run_at order. Partial for the same
-- reason; finished runs (most rows, over time) never enter it. The join to
-- automations (status active) is by primary key per claimed row.
CREATE INDEX automation_runs_due ON automation_runs (next_run_at) WHERE status = 'active';

CREATE UNIQUE INDEX automation_runs_trigger ON automation_runs (automation_id, trigger_id)
  WHERE trigger_id IS NOT NULL;

-- Entry rules (once ever, again after N days) look up a contact's earlier
-- runs of the automation, newest first.
CREATE INDEX automation_runs_contact ON automation_runs (automation_id, contact_id, instance_key, entered_at);

-- GET /v1/automations/{id}/runs: a workspace's runs of one automation in id order.
CREATE INDEX automation_runs_list ON automation_runs (workspace_id, automation_id, id);

CREATE TABLE automation_step_executions (
  run_id        uuid NOT NULL REFERENCES automation_runs (id) ON DELETE CASCADE,
  step          integer NOT NULL CHECK (step > 0),
  node_id       text NOT NULL,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  executed_at   timestamptz NOT NULL,
  -- What the step did: {"message_id": ...}, {"waited_until": ...}, {"path": ...}, {"skipped": ...}.
  outcome       jsonb NOT NULL,
  -- The unique step-execution key.
  PRIMARY KEY (run_id, step)
);

-- Where the trigger scan (the automations.triggers job) stands per workspace:
-- it reads what arrived after scanned_until minus an overlap (transactions
-- that committed late), and enrolment is idempotent by (automation_id,
-- trigger_id), so what the overlap reads again enrols nobody twice.
CREATE TABLE automation_trigger_watermarks (
  workspace_id   uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  scanned_until  timestamptz NOT NULL
);
