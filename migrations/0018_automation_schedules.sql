-- Where the time-based automation triggers stand, per automation (the trigger
-- scan, automations.triggers, writes it):
-- - schedule triggers: the cron occurrence being enrolled or last enrolled,
--   and how far through the segment's members (in contact id order) its
--   enrolment got, so a large segment is enrolled a page at a time across
--   scans and a restart resumes where it stopped (enrolment is idempotent by
--   the trigger id schedule:<occurrence>:<contact>, so a page read twice
--   enrols nobody twice);
-- - date_attribute triggers: when the last full pass over the workspace's
--   contacts finished, so the pass runs once per quarter hour, not every scan.
CREATE TABLE automation_schedules (
  automation_id      uuid PRIMARY KEY REFERENCES automations (id) ON DELETE CASCADE,
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- schedule: the occurrence handled last (or being handled); NULL before the first.
  occurrence         timestamptz,
  -- schedule: the last contact id enrolled for the occurrence; NULL with done = false: not begun.
  members_after      uuid,
  -- schedule: every member of the occurrence went through enrolment.
  done               boolean NOT NULL DEFAULT false,
  -- date_attribute: when the last complete pass ran; NULL before the first.
  date_checked_at    timestamptz
);
CREATE INDEX automation_schedules_workspace ON automation_schedules (workspace_id);
