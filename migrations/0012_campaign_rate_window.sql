-- A campaign's rate limit holds across all workers: claims are counted per
-- one-second window on the campaign row, under the lock every claim takes.
ALTER TABLE campaigns
  ADD COLUMN rate_window_start timestamptz,
  ADD COLUMN rate_window_count integer NOT NULL DEFAULT 0;
