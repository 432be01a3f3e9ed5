-- Per-workspace data keys (src/modules/data-keys): 32 random bytes each,
-- stored only wrapped (AES-256-GCM) under a master key from HERALD_SECRET_KEYS,
-- whose id is kept so a re-wrap after master-key rotation knows what to redo.
-- Encrypted field values (`hdk1.<id>.<iv>.<ciphertext>`) name their data key.
--
-- One active key per workspace. A rotation makes a new key active; the old one
-- stays (inactive, not retired) while values are re-encrypted, then is retired.
-- Retired keys are kept, so a value written by a process that still held the
-- old key in memory during the rotation still decrypts.
CREATE TABLE data_keys (
  id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  wrapped_key    text NOT NULL,
  master_key_id  text NOT NULL,
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL,
  retired_at     timestamptz,
  CHECK (NOT (active AND retired_at IS NOT NULL))
);

CREATE UNIQUE INDEX data_keys_one_active ON data_keys (workspace_id) WHERE active;
CREATE INDEX data_keys_workspace ON data_keys (workspace_id, created_at);
CREATE INDEX data_keys_master_key ON data_keys (master_key_id);
