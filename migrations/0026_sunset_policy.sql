-- Sunset policy (src/modules/deliverability/sunset-policy.ts): a workspace may
-- suppress contacts who have not engaged (no human or proxy open or click, no
-- conversion) for inactive_days, although they received at least min_emails
-- tracked marketing emails in that time and are older than inactive_days.
-- They go on the suppression list with reason 'sunset' and the evidence in
-- the note. A daily job applies it to every workspace that enabled it.

ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
  CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'manual', 'sunset'));

-- No row: the policy is off, with the defaults below.
CREATE TABLE sunset_settings (
  workspace_id        uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  enabled             boolean NOT NULL DEFAULT false,
  inactive_days       integer NOT NULL DEFAULT 180 CHECK (inactive_days BETWEEN 7 AND 3650),
  min_emails          integer NOT NULL DEFAULT 5 CHECK (min_emails BETWEEN 1 AND 1000),
  last_run_at         timestamptz,
  last_run_suppressed integer,
  updated_at          timestamptz NOT NULL
);
