-- Templates: a named template per workspace pointing at its latest version.
-- Versions are immutable; each stores its source and the artefacts compiled
-- once at save time (MJML -> HTML, CSS inlined, text part), so sending only
-- runs per-recipient Liquid.
CREATE TABLE templates (
  id                uuid PRIMARY KEY,
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name              text NOT NULL,
  kind              text CHECK (kind IN ('marketing', 'transactional')),
  strict_variables  boolean NOT NULL DEFAULT false,
  latest_version    integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX templates_workspace_name ON templates (workspace_id, lower(name));
CREATE INDEX templates_workspace_id ON templates (workspace_id, id);

CREATE TABLE template_versions (
  id             uuid PRIMARY KEY,
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  template_id    uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
  version        integer NOT NULL CHECK (version >= 1),
  format         text NOT NULL CHECK (format IN ('html', 'mjml')),
  subject        text NOT NULL,
  preheader      text,
  body           text NOT NULL,
  text_body      text,
  compiled_html  text NOT NULL,
  compiled_text  text NOT NULL,
  -- The snippets the version used, as they were when it was saved, so a
  -- later snippet edit or delete never changes what a pinned version sends.
  snippets       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL,
  UNIQUE (template_id, version)
);
CREATE INDEX template_versions_workspace ON template_versions (workspace_id, id);

-- Versions never change once written.
CREATE FUNCTION template_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'template versions are immutable; create a new version instead';
END;
$$;
CREATE TRIGGER template_versions_no_update BEFORE UPDATE ON template_versions
  FOR EACH ROW EXECUTE FUNCTION template_versions_immutable();

CREATE TABLE snippets (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name          text NOT NULL,
  source        text NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX snippets_workspace_name ON snippets (workspace_id, name);
CREATE INDEX snippets_workspace_id ON snippets (workspace_id, id);
