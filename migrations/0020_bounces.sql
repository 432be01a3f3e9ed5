-- Bounces, complaints and the suppression list.
--
-- bounce_events records every report Herald accepts (DSN, ARF, provider
-- webhook, synchronous SMTP reply), matched to a message and contact where it
-- can be. dedup_key is unique per workspace, so the same report applied twice
-- (a provider retrying its webhook, an MTA piping a DSN again) inserts nothing
-- the second time and the policies run once.
CREATE TABLE bounce_events (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Erasing a contact erases its events: they hold its address.
  contact_id         uuid REFERENCES contacts (id) ON DELETE CASCADE,
  -- No foreign keys to campaigns/messages: the evidence outlives a deleted campaign.
  campaign_id        uuid,
  -- messages.id of a transactional or automation message.
  message_ref        uuid,
  -- The Message-ID header of the message the report is about.
  message_id         text,
  recipient          text NOT NULL,
  recipient_key      text NOT NULL,
  type               text NOT NULL CHECK (type IN ('bounce', 'complaint', 'delivery', 'delay', 'auto_reply')),
  severity           text CHECK (severity IN ('hard', 'soft')),
  reason             text,
  status_code        text,
  reply_code         integer,
  diagnostic         text,
  remote_mta         text,
  source             text NOT NULL
                     CHECK (source IN ('smtp', 'imap', 'http', 'ses', 'sendgrid', 'mailgun', 'postmark')),
  -- How the report was tied to its message: verp, message_id, recipient, or none.
  matched_by         text NOT NULL CHECK (matched_by IN ('verp', 'message_id', 'recipient', 'none')),
  -- What the policies did: none, bounced, complained, suppressed (several joined by +).
  effect             text NOT NULL DEFAULT 'none',
  -- Provider details, report format, a digest of the raw report: never the raw message itself.
  evidence           jsonb,
  dedup_key          text NOT NULL,
  occurred_at        timestamptz,
  received_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX bounce_events_dedup ON bounce_events (workspace_id, dedup_key);
CREATE INDEX bounce_events_list ON bounce_events (workspace_id, id);
-- The soft-bounce window counts one address's recent soft bounces.
CREATE INDEX bounce_events_soft ON bounce_events (workspace_id, recipient_key, received_at)
  WHERE type = 'bounce' AND severity = 'soft';
CREATE INDEX bounce_events_contact ON bounce_events (contact_id);

-- Addresses Herald never sends to, whatever their contact row says (or with
-- no contact at all). One row per address; removing it is recorded in
-- suppression_removals.
CREATE TABLE suppressions (
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email_key        text NOT NULL,
  email            text NOT NULL,
  reason           text NOT NULL CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'manual')),
  -- smtp, imap, http, ses, sendgrid, mailgun, postmark for automatic ones; api, import for manual ones.
  source           text NOT NULL,
  bounce_event_id  uuid,
  note             text,
  created_by       text,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, email_key)
);
CREATE INDEX suppressions_reason ON suppressions (workspace_id, reason, email_key);

CREATE TABLE suppression_removals (
  id               uuid PRIMARY KEY,
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email_key        text NOT NULL,
  previous_reason  text NOT NULL,
  suppressed_at    timestamptz NOT NULL,
  reason           text NOT NULL,
  removed_by       text,
  removed_at       timestamptz NOT NULL
);
CREATE INDEX suppression_removals_email ON suppression_removals (workspace_id, email_key);

-- Per-workspace bounce policy and provider webhook settings. No row: the defaults.
-- Secrets (Mailgun signing key, Postmark password) are encrypted with the keyring.
CREATE TABLE deliverability_settings (
  workspace_id               uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  soft_bounce_threshold      integer NOT NULL DEFAULT 3 CHECK (soft_bounce_threshold BETWEEN 1 AND 100),
  soft_bounce_window_days    integer NOT NULL DEFAULT 7 CHECK (soft_bounce_window_days BETWEEN 1 AND 365),
  ses_topic_arns             text[] NOT NULL DEFAULT '{}',
  sendgrid_public_key        text,
  mailgun_signing_key        text,
  postmark_username          text,
  postmark_password          text,
  updated_at                 timestamptz NOT NULL
);

-- Mailgun webhook tokens already seen, so a replayed (validly signed) request is ignored.
-- Rows older than the timestamp window are useless (the signature check refuses them) and pruned.
CREATE TABLE webhook_replay_tokens (
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider      text NOT NULL,
  token         text NOT NULL,
  seen_at       timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, provider, token)
);
CREATE INDEX webhook_replay_tokens_seen ON webhook_replay_tokens (seen_at);

-- Reports name the message by its Message-ID, whose local part is the send's uuid (VERP tokens carry
-- the same uuid): campaign sends are found by it.
CREATE INDEX campaign_sends_message_local ON campaign_sends ((split_part(message_id, '@', 1)));
