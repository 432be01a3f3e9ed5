-- The audit log (src/modules/audit/): an append-only, hash-chained record of
-- every change made through the API (and the CLI's key commands), per
-- workspace. Each entry's hash is SHA-256 over a canonical serialization of
-- the entry including the previous entry's hash (prev_hash), so changing,
-- removing or inserting a row breaks the chain at that row; `herald audit
-- verify` recomputes it.
--
-- The triggers below refuse UPDATE, DELETE and TRUNCATE for everybody,
-- including Herald itself. A database superuser can still disable a trigger
-- and rewrite rows: that is what `herald audit verify` detects (and, short of
-- recomputing every later hash and the chain head, pinpoints).
CREATE TABLE audit_log (
  id            uuid PRIMARY KEY,
  -- No ON DELETE CASCADE: a cascade would be a DELETE the trigger refuses.
  workspace_id  uuid NOT NULL REFERENCES workspaces (id),
  -- Gapless per workspace: 1, 2, 3, ... in append order.
  seq           bigint NOT NULL CHECK (seq > 0),
  occurred_at   timestamptz NOT NULL,
  actor_type    text NOT NULL CHECK (actor_type IN ('api_key', 'user', 'oauth_client', 'system', 'cli')),
  actor_id      text,
  action        text NOT NULL,
  target_type   text,
  target_id     text,
  ip            text,
  request_id    text,
  -- Small and non-personal: field names, counts, scopes; never values a user typed.
  details       jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash     text NOT NULL,
  hash          text NOT NULL,
  UNIQUE (workspace_id, seq)
);
CREATE INDEX audit_log_action ON audit_log (workspace_id, action, seq);
CREATE INDEX audit_log_occurred ON audit_log (workspace_id, occurred_at);

-- One row per workspace with the last entry's seq, id and hash. Appending
-- locks it (INSERT ... ON CONFLICT DO UPDATE) in the appending transaction, so
-- concurrent writers of one workspace take turns; verify compares the log's
-- end with it, so removing the last entries is detected too.
CREATE TABLE audit_chain_heads (
  workspace_id  uuid PRIMARY KEY REFERENCES workspaces (id),
  seq           bigint NOT NULL CHECK (seq >= 0),
  entry_id      uuid,
  hash          text NOT NULL
);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- A chain head only moves forward, one entry at a time (the lock taken by an
-- upsert that changes nothing is allowed), and is never removed.
CREATE FUNCTION audit_chain_heads_forward_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit_chain_heads rows cannot be deleted';
  END IF;
  IF NEW.workspace_id <> OLD.workspace_id OR NOT (NEW.seq = OLD.seq OR NEW.seq = OLD.seq + 1)
     OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash) THEN
    RAISE EXCEPTION 'audit_chain_heads only moves forward one entry at a time';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_chain_heads_forward BEFORE UPDATE OR DELETE ON audit_chain_heads
  FOR EACH ROW EXECUTE FUNCTION audit_chain_heads_forward_only();
CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
