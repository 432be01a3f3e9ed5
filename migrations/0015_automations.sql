-- Automations (journeys): a definition in the automation language (README
-- "Automations"), edited as a draft and published as immutable numbered
-- versions. Runs, step executions and triggers arrive with the engine.

CREATE TABLE automations (
  id                uuid PRIMARY KEY,
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name              text NOT NULL,
  description       text,
  status            text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'active', 'paused', 'archived')),
  -- The editable working copy, structurally checked on every write; its
  -- references (templates, lists, segments) are checked at publish.
  draft_definition  jsonb NOT NULL,
  -- NULL until the first publish.
  current_version   integer,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX automations_workspace_name ON automations (workspace_id, lower(name));
CREATE INDEX automations_workspace ON automations (workspace_id, id);

-- Never updated: contacts inside a version keep its definition and the
-- template versions it pinned.
CREATE TABLE automation_versions (
  id             uuid PRIMARY KEY,
  automation_id  uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  version        integer NOT NULL CHECK (version > 0),
  -- The published definition with its defaults written out.
  definition     jsonb NOT NULL,
  -- {"emails": {"<node id>": {"template_id", "template_version_id", "template_name"}}}
  resolved       jsonb NOT NULL,
  published_at   timestamptz NOT NULL,
  UNIQUE (automation_id, version)
);
CREATE INDEX automation_versions_workspace ON automation_versions (workspace_id);
