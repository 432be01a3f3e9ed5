-- Sending-domain authentication: the last DNS check of each domain and what
-- it concluded. status is 'pending' until the first conclusive check, then
-- 'verified' (DKIM and SPF pass, DMARC published) or 'failed'. A failed
-- domain refuses new sends unless allow_unverified is set (see the README,
-- "Sending domains").

ALTER TABLE sending_domains
  ADD COLUMN status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'failed')),
  ADD COLUMN checked_at timestamptz,
  -- The check's items (check, status, message, fix), as the API returns them.
  ADD COLUMN last_check jsonb,
  ADD COLUMN allow_unverified boolean NOT NULL DEFAULT false;
