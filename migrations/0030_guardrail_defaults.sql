-- Workspace defaults for the campaign guardrails (0022): a new campaign that
-- does not set hard_bounce_threshold, complaint_threshold or
-- guardrail_min_sent takes these. NULL: Herald's default (0.05, 0.003, 500,
-- the campaigns columns' defaults). Existing campaigns keep their own values.
ALTER TABLE deliverability_settings
  ADD COLUMN hard_bounce_threshold real
    CHECK (hard_bounce_threshold > 0 AND hard_bounce_threshold <= 1),
  ADD COLUMN complaint_threshold real
    CHECK (complaint_threshold > 0 AND complaint_threshold <= 1),
  ADD COLUMN guardrail_min_sent integer
    CHECK (guardrail_min_sent BETWEEN 1 AND 100000000);
