-- Edge cases of templates and transactional messages.
--
-- Templates: deleting a template archives it (deleted_at) instead of removing
-- its rows, because its versions are immutable and sent campaigns, queued and
-- sent transactional messages and "view in browser" pages keep pointing at the
-- version they sent. An archived template is gone from the API and its name is
-- free again, so the unique name index now covers live templates only.
ALTER TABLE templates ADD COLUMN deleted_at timestamptz;
DROP INDEX templates_workspace_name;
CREATE UNIQUE INDEX templates_workspace_name ON templates (workspace_id, lower(name))
  WHERE deleted_at IS NULL;

-- Transactional messages: a SHA-256 of the normalized request, so a reused
-- idempotency key with a different request is refused instead of silently
-- answered with the first message. NULL for messages accepted before this.
ALTER TABLE messages ADD COLUMN request_hash text;
