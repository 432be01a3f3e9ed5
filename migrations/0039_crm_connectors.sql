-- CRM connectors (src/modules/crm): a workspace's connections to Mailchimp and
-- HubSpot, the runs that pull contacts from them (or push to them), and the
-- field mapping of the generic CRM upsert by external_id.

-- One connection per provider and workspace. settings holds what the user
-- configured (audience, target list, field mapping, tag handling); secret is
-- the API key or token, encrypted with the keyring (context crm:<id>).
CREATE TABLE crm_connections (
  id             uuid PRIMARY KEY,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider       text NOT NULL CHECK (provider IN ('mailchimp', 'hubspot')),
  settings       jsonb NOT NULL,
  secret         text NOT NULL,
  sync_enabled   boolean NOT NULL DEFAULT true,
  -- Where the next periodic sync starts: changes after this time (Mailchimp since_last_changed).
  synced_until   timestamptz,
  -- HubSpot push: Herald contacts changed after this time are pushed next.
  pushed_until   timestamptz,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  CONSTRAINT crm_connections_workspace_provider UNIQUE (workspace_id, provider)
);

-- A run is one import, sync or push. Progress is stored after every page, so a
-- run that crashed resumes at its next page; applying a page again changes
-- nothing (upserts and memberships are idempotent).
CREATE TABLE crm_sync_runs (
  id             uuid PRIMARY KEY,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  connection_id  uuid NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
  kind           text NOT NULL CHECK (kind IN ('import', 'sync', 'push')),
  status         text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  -- Changes after this time only (null: everything).
  since          timestamptz,
  -- Offset of the next page (Mailchimp) or the provider's paging cursor (HubSpot).
  next_offset    integer NOT NULL DEFAULT 0,
  next_cursor    text,
  pages          integer NOT NULL DEFAULT 0,
  total          integer,
  counts         jsonb NOT NULL DEFAULT '{}',
  -- The first problems with single records (capped), for the status API.
  problems       jsonb NOT NULL DEFAULT '[]',
  error          text,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  started_at     timestamptz,
  finished_at    timestamptz
);
CREATE INDEX crm_sync_runs_connection ON crm_sync_runs (workspace_id, connection_id, id DESC);
-- At most one unfinished run per connection: a second request gets the first.
CREATE UNIQUE INDEX crm_sync_runs_one_active ON crm_sync_runs (connection_id)
  WHERE status IN ('queued', 'running');

-- The generic CRM mapping: CRM field name -> Herald attribute and type.
CREATE TABLE crm_field_mappings (
  workspace_id   uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  fields         jsonb NOT NULL,
  updated_at     timestamptz NOT NULL
);
