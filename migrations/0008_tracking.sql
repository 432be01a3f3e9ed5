-- Open and click tracking: the links of each template version, the raw hits
-- (kept for drill-down and re-classification), and the settings that turn
-- tracking off or shape it.

-- UTM parameters appended to every tracked link's destination (only where the
-- URL does not already carry that parameter).
ALTER TABLE campaigns
  ADD COLUMN utm_source text,
  ADD COLUMN utm_medium text,
  ADD COLUMN utm_campaign text,
  ADD COLUMN utm_content text,
  ADD COLUMN utm_term text;

-- false: no open pixel and no rewritten links in this contact's messages.
ALTER TABLE contacts ADD COLUMN tracking_consent boolean NOT NULL DEFAULT true;

-- What is stored of a hit's IP address: all of it, the network part only
-- (IPv4 /24, IPv6 /48), or nothing.
ALTER TABLE workspaces
  ADD COLUMN ip_anonymization text NOT NULL DEFAULT 'truncate'
  CHECK (ip_anonymization IN ('none', 'truncate', 'drop'));

-- The static links of a template version, registered once per version when a
-- campaign using it is prepared. The destination of a click comes only from
-- here (looked up by the signed link id), so the click endpoint is no open redirect.
CREATE TABLE template_links (
  id                   uuid PRIMARY KEY,
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  template_version_id  uuid NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
  -- Order of first appearance (HTML part, then text part), from 0.
  position             integer NOT NULL,
  url                  text NOT NULL,
  created_at           timestamptz NOT NULL,
  UNIQUE (template_version_id, url)
);
CREATE INDEX template_links_workspace ON template_links (workspace_id, id);

-- Raw opens and clicks. Ids are UUIDv7 taken when the request arrived, so id
-- order is time order. ip is stored already anonymized per the workspace's setting.
--
-- The busiest insert target there is, so no foreign keys (their per-row
-- checks lock the contact row and cost more than the insert itself): the
-- writer inserts only hits whose contact exists in the hit's workspace, and
-- the trigger below deletes a contact's hits with the contact (and so with
-- its workspace), as ON DELETE CASCADE would.
CREATE TABLE tracking_hits (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL,
  -- NULL for transactional messages.
  campaign_id     uuid,
  contact_id      uuid NOT NULL,
  -- The uuid part of the Message-ID (campaign_sends.message_id before the @; messages.id).
  message_id      uuid NOT NULL,
  -- template_links.id for clicks; NULL for opens and for clicks on the hidden honeypot link.
  link_id         uuid,
  kind            text NOT NULL CHECK (kind IN ('open', 'click')),
  occurred_at     timestamptz NOT NULL,
  user_agent      text,
  ip              text,
  -- human and proxy count as people; prefetch (Apple Mail Privacy Protection), scanner and bot are machines.
  classification  text NOT NULL CHECK (classification IN ('human', 'proxy', 'prefetch', 'scanner', 'bot')),
  reason          text,
  -- Set when a later hit or a re-run changed the classification.
  reclassified_at timestamptz
);
CREATE INDEX tracking_hits_campaign ON tracking_hits (workspace_id, campaign_id, id);
CREATE INDEX tracking_hits_contact ON tracking_hits (contact_id, id);

CREATE FUNCTION tracking_hits_erase_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tracking_hits t USING gone g WHERE t.contact_id = g.id;
  RETURN NULL;
END;
$$;
CREATE TRIGGER contacts_erase_tracking_hits
  AFTER DELETE ON contacts REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION tracking_hits_erase_contacts();

-- Campaigns whose hits were re-classified after they were first counted:
-- analytics recomputes their rollups from the raw hits and removes the row.
CREATE TABLE analytics_dirty (
  campaign_id   uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  marked_at     timestamptz NOT NULL
);
