-- The workspace's time zone (cron schedules of automations; the local time of
-- contacts without one) and its sending policy: frequency caps on marketing
-- email per contact (transactional email is exempt) and quiet hours, in the
-- contact's time zone, during which marketing email waits.

ALTER TABLE workspaces
  ADD COLUMN timezone text NOT NULL DEFAULT 'UTC',
  -- Most marketing emails one contact gets in any 24 hours / 7 days; NULL: no cap.
  ADD COLUMN max_marketing_per_day integer CHECK (max_marketing_per_day > 0),
  ADD COLUMN max_marketing_per_week integer CHECK (max_marketing_per_week > 0),
  -- Local wall-clock minutes from midnight; both NULL: no quiet hours. A start
  -- after the end spans midnight (21:00 to 08:00).
  ADD COLUMN quiet_hours_start integer CHECK (quiet_hours_start BETWEEN 0 AND 1439),
  ADD COLUMN quiet_hours_end integer CHECK (quiet_hours_end BETWEEN 0 AND 1439),
  ADD CONSTRAINT workspaces_quiet_hours_pair CHECK ((quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)
    AND (quiet_hours_start IS NULL OR quiet_hours_start <> quiet_hours_end));

-- Counting a contact's recent marketing email: automation messages by contact and time.
CREATE INDEX messages_contact_created ON messages (contact_id, created_at);
