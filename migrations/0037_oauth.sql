-- OAuth 2.0 client credentials (machine access without an API key) and
-- OpenID Connect sign-in through a workspace's identity provider.

CREATE TABLE oauth_clients (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name          text NOT NULL,
  -- The public identifier a client presents (hc_...); unique across workspaces
  -- because the token endpoint learns the workspace from it.
  client_id     text NOT NULL UNIQUE,
  -- SHA-256 of the secret: it has 256 random bits, so a slow hash adds nothing.
  secret_hash   text NOT NULL,
  scopes        text[] NOT NULL,
  created_at    timestamptz NOT NULL,
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX oauth_clients_workspace ON oauth_clients (workspace_id, id);

CREATE TABLE oidc_providers (
  id                       uuid PRIMARY KEY,
  workspace_id             uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name                     text NOT NULL,
  issuer                   text NOT NULL,
  client_id                text NOT NULL,
  -- Encrypted with the keyring (v1.<key id>...), bound to this row's id.
  client_secret_encrypted  text NOT NULL,
  client_auth_method       text NOT NULL
                           CHECK (client_auth_method IN ('client_secret_basic', 'client_secret_post')),
  scopes                   text NOT NULL,
  -- Lower-case domains whose verified addresses may sign in; empty: any domain.
  allowed_domains          text[] NOT NULL,
  -- Whether an address without a Herald user gets one at first sign-in.
  provision_users          boolean NOT NULL DEFAULT false,
  created_at               timestamptz NOT NULL,
  updated_at               timestamptz NOT NULL
);
CREATE INDEX oidc_providers_workspace ON oidc_providers (workspace_id, id);

-- Sign-ins between the redirect to the provider and its callback. A row is
-- deleted when its callback arrives, so a state works once.
CREATE TABLE oidc_logins (
  -- SHA-256 of the state sent to the provider.
  state_hash     text PRIMARY KEY,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider_id    uuid NOT NULL REFERENCES oidc_providers (id) ON DELETE CASCADE,
  nonce          text NOT NULL,
  code_verifier  text NOT NULL,
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);
