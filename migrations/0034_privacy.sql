-- Privacy (src/modules/privacy): data-subject erasure and its receipts.
--
-- Erasing a person deletes their personal data everywhere and leaves one
-- suppression entry, reason 'erased', keyed by an HMAC-SHA256 of the
-- normalized address (never the address itself), so that the address is not
-- imported, subscribed or identified again by accident. email and email_key of
-- such an entry both hold 'erased:<hex>'.
ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
  CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'manual', 'sunset', 'erased'));

-- One row per erasure: what was deleted, counted per kind. No personal data:
-- the contact id is gone with the contact and is not kept.
CREATE TABLE privacy_erasures (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  reason        text NOT NULL,
  -- The principal that asked: 'api_key:<id>', 'user:<id>'.
  requested_by  text,
  counts        jsonb NOT NULL,
  erased_at     timestamptz NOT NULL
);
CREATE INDEX privacy_erasures_list ON privacy_erasures (workspace_id, id);
