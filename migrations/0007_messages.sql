-- Transactional messages and double opt-in settings on lists.
--
-- A message row is written in the same transaction as its `messages.send`
-- job, so an accepted message survives a restart; the idempotency key is
-- unique per workspace, so a repeated request returns the first message
-- instead of sending again.

CREATE TABLE messages (
  id                   uuid PRIMARY KEY,
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Erasing a contact erases its messages too: they hold its address and data.
  contact_id           uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  to_email             text NOT NULL,
  status               text NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
  idempotency_key      text,
  -- What to render: a pinned template version or compiled inline content, the data, sender and transport.
  payload              jsonb NOT NULL,
  -- The Message-ID header value, fixed at acceptance so a re-send keeps it.
  message_id           text NOT NULL,
  provider_message_id  text,
  error                text,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  sent_at              timestamptz
);
CREATE UNIQUE INDEX messages_idempotency ON messages (workspace_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_workspace ON messages (workspace_id, id);
CREATE INDEX messages_contact ON messages (contact_id);

ALTER TABLE lists
  -- The template of the double opt-in confirmation email; NULL uses a built-in text.
  ADD COLUMN confirmation_template_id uuid REFERENCES templates (id) ON DELETE SET NULL,
  -- The sender of confirmation emails; without one they are not sent.
  ADD COLUMN confirmation_from_email text;
