-- The sunset policy's predictive rule (src/modules/deliverability/sunset-policy.ts):
-- with max_open_probability set, contacts whose predicted probability to open
-- the next marketing email (contact_engagement.p_open, from the workspace's
-- engagement model) is below it are sunset after predicted_inactive_days
-- without engagement, instead of waiting the full inactive_days.
ALTER TABLE sunset_settings
  ADD COLUMN max_open_probability double precision
    CHECK (max_open_probability > 0 AND max_open_probability <= 0.5),
  ADD COLUMN predicted_inactive_days integer NOT NULL DEFAULT 60
    CHECK (predicted_inactive_days BETWEEN 7 AND 3650);
