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

-- Retention per workspace and kind of data, in days; NULL keeps it (the
-- default). A periodic job (privacy.retention) deletes what is older, in
-- batches. The consent ledger is kept unless asked: it is the evidence of consent.
CREATE TABLE privacy_retention (
  workspace_id               uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Behavioural events, by occurred_at.
  events_days                integer CHECK (events_days BETWEEN 1 AND 36500),
  -- Opens and clicks (IP, user agent), by occurred_at; rollups keep their counts.
  tracking_hits_days         integer CHECK (tracking_hits_days BETWEEN 1 AND 36500),
  -- Send ledger rows of finished campaigns (who got which campaign), by finished_at.
  send_ledger_days           integer CHECK (send_ledger_days BETWEEN 1 AND 36500),
  -- Payloads (template data) of sent or failed transactional and automation messages, by created_at.
  message_bodies_days        integer CHECK (message_bodies_days BETWEEN 1 AND 36500),
  -- Diagnostic text and evidence of bounce and complaint events, by received_at.
  bounce_details_days        integer CHECK (bounce_details_days BETWEEN 1 AND 36500),
  -- Consent records, by created_at.
  consent_records_days       integer CHECK (consent_records_days BETWEEN 1 AND 36500),
  -- Contacts unsubscribed (status) and unchanged for this long are deleted with their data.
  unsubscribed_contacts_days integer CHECK (unsubscribed_contacts_days BETWEEN 1 AND 36500),
  last_run_at                timestamptz,
  last_run_deleted           jsonb,
  updated_at                 timestamptz NOT NULL
);

-- CCPA "do not sell or share": set through the API, an import column, the
-- preference center, or a Global Privacy Control signal (Sec-GPC: 1) on a
-- public page. Such contacts are left out of exports for third parties.
ALTER TABLE contacts ADD COLUMN do_not_sell boolean NOT NULL DEFAULT false;
ALTER TABLE consent_records DROP CONSTRAINT consent_records_action_check;
ALTER TABLE consent_records ADD CONSTRAINT consent_records_action_check
  CHECK (action IN ('subscribe', 'confirm', 'unsubscribe', 'status_change', 'do_not_sell'));
ALTER TABLE consent_records DROP CONSTRAINT consent_records_source_check;
ALTER TABLE consent_records ADD CONSTRAINT consent_records_source_check
  CHECK (source IN ('api', 'import', 'form', 'cli', 'system', 'gpc'));
