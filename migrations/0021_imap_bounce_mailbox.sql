-- A bounce mailbox read over IMAP, per workspace. The poller moves each message it read to the
-- processed folder, or to the unparsed folder when it is no report: it never deletes mail.
-- imap_password is encrypted with the keyring (context deliverability:imap:<workspace>).
ALTER TABLE deliverability_settings
  ADD COLUMN imap_enabled           boolean NOT NULL DEFAULT false,
  ADD COLUMN imap_host              text,
  ADD COLUMN imap_port              integer CHECK (imap_port BETWEEN 1 AND 65535),
  ADD COLUMN imap_tls               text NOT NULL DEFAULT 'tls' CHECK (imap_tls IN ('tls', 'starttls', 'none')),
  ADD COLUMN imap_user              text,
  ADD COLUMN imap_password          text,
  ADD COLUMN imap_mailbox           text NOT NULL DEFAULT 'INBOX',
  ADD COLUMN imap_processed_folder  text NOT NULL DEFAULT 'Herald/Processed',
  ADD COLUMN imap_unparsed_folder   text NOT NULL DEFAULT 'Herald/Unparsed';

-- The poller reads only enabled mailboxes.
CREATE INDEX deliverability_settings_imap ON deliverability_settings (workspace_id) WHERE imap_enabled;
