-- Named mail transports per workspace. Non-secret settings are JSONB; the
-- credentials (SMTP password, API keys, AWS secret) are one AES-GCM
-- ciphertext of a JSON object, bound to the row id, never returned by the API.
CREATE TABLE transports (
  id               uuid PRIMARY KEY,
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name             text NOT NULL,
  type             text NOT NULL CHECK (type IN ('smtp', 'ses', 'mailgun', 'sendgrid', 'postmark', 'file')),
  settings         jsonb NOT NULL DEFAULT '{}'::jsonb,
  secrets          text,
  rate_per_second  integer CHECK (rate_per_second > 0),
  rate_per_hour    integer CHECK (rate_per_hour > 0),
  rate_per_day     integer CHECK (rate_per_day > 0),
  max_concurrency  integer NOT NULL DEFAULT 5 CHECK (max_concurrency > 0),
  is_default       boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX transports_workspace_name ON transports (workspace_id, lower(name));
CREATE UNIQUE INDEX transports_workspace_default ON transports (workspace_id) WHERE is_default;
CREATE INDEX transports_workspace_id ON transports (workspace_id, id);
