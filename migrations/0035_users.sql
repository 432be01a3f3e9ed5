-- Users, their roles per workspace, sign-in sessions and invitations.
-- A user is one identity (email, password, second factor) with memberships
-- in any number of workspaces; a session carries the workspace it acts in.

CREATE TABLE users (
  id                  uuid PRIMARY KEY,
  email               text NOT NULL,
  -- Sign-in addresses are unique regardless of case.
  email_key           text GENERATED ALWAYS AS (lower(email)) STORED,
  -- argon2id PHC string.
  password_hash       text NOT NULL,
  password_changed_at timestamptz NOT NULL,
  -- TOTP secrets encrypted with the keyring (context: user id); pending until confirmed with a code.
  totp_secret         text,
  totp_pending_secret text,
  -- The last 30-second step whose code was accepted: a code is used once.
  totp_last_step      integer,
  failed_logins       integer NOT NULL DEFAULT 0,
  locked_until        timestamptz,
  created_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE memberships (
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'analyst', 'viewer')),
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, created_at);

CREATE TABLE sessions (
  id            uuid PRIMARY KEY,
  -- SHA-256 of the cookie value; the value itself is never stored.
  token_hash    text NOT NULL UNIQUE,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  -- Absolute expiry; idle expiry is last_seen_at plus the idle setting.
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  ip            text,
  user_agent    text
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE invitations (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email         text NOT NULL,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'analyst', 'viewer')),
  -- Who invited: "user:<id>" or "api_key:<id>".
  invited_by    text NOT NULL,
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  accepted_at   timestamptz,
  accepted_by   uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at    timestamptz
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, id);
