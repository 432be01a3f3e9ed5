-- Sending domains: the domains a workspace sends from, each with the DKIM key
-- Herald signs with. The private key is stored encrypted with the keyring
-- (AES-256-GCM, bound to this table and row id); only the public key, as
-- published in DNS, is ever shown.

CREATE TABLE sending_domains (
  id                      uuid PRIMARY KEY,
  workspace_id            uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Lowercase ASCII (punycode for international names).
  domain                  text NOT NULL,
  selector                text NOT NULL,
  algorithm               text NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
  private_key_encrypted   text NOT NULL,
  -- The DNS p= value: base64 SPKI for RSA, the raw 32-byte key for Ed25519.
  public_key              text NOT NULL,
  created_at              timestamptz NOT NULL,
  UNIQUE (workspace_id, domain)
);
CREATE INDEX sending_domains_workspace ON sending_domains (workspace_id, id);
