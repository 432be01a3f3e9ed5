-- The per-recipient send ledger. A row is written when a worker claims the
-- recipient, in the same transaction that advances the campaign's audience
-- cursor, so every recipient is claimed exactly once; the row then records
-- the outcome. Its Message-ID is fixed at claim time, so a re-send after a
-- crash carries the same Message-ID and receivers can tell the duplicate.

ALTER TABLE campaigns
  -- Last contact id (in id order) handed out from the audience; claims continue after it.
  ADD COLUMN audience_cursor uuid,
  -- Set once the audience query returned nothing past the cursor.
  ADD COLUMN audience_exhausted boolean NOT NULL DEFAULT false;

CREATE TABLE campaign_sends (
  campaign_id          uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  contact_id           uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  message_id           text NOT NULL,
  status               text NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
  attempts             integer NOT NULL DEFAULT 1,
  claimed_by           text,
  -- While queued: the claim holds the row until then; after it, another worker re-sends it.
  lease_until          timestamptz,
  provider_message_id  text,
  error                text,
  created_at           timestamptz NOT NULL,
  finished_at          timestamptz,
  PRIMARY KEY (campaign_id, contact_id)
);
-- Expired claims are looked up per campaign among queued rows only.
CREATE INDEX campaign_sends_queued ON campaign_sends (campaign_id, lease_until) WHERE status = 'queued';
CREATE INDEX campaign_sends_contact ON campaign_sends (contact_id);
