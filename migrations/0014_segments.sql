-- Segments: saved definitions in the segment language (evaluated live, never
-- materialized for sending), the members last recorded per segment (so a job
-- can tell who entered and who left), and campaign audiences by segment.
--
-- Segment queries read other modules' tables with the indexes they have
-- (measured with bench/segments.ts, 1,000,000 contacts, 20,000,000 events,
-- 1,000,000 tracking hits, 2 shared cores):
-- * tracking_hits gets no index here: "opened any campaign in the last 90
--   days" keeps 672,000 of 1,000,000 hits, which a sequential scan reads in
--   about 250 ms; an index on (workspace_id, kind, occurred_at) would save
--   little of that and cost every hit the tracking writer inserts.
-- * campaign_sends: per campaign by its primary key (campaign_id, contact_id),
--   "any campaign" by a scan filtered on status and finished_at.
-- * contacts: attribute equality by the GIN index (containment), other
--   attribute operators by one scan of the workspace's contacts.

CREATE TABLE segments (
  id                  uuid PRIMARY KEY,
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name                text NOT NULL,
  description         text,
  -- Checked by the segments service on every write; see README "Segment language".
  definition          jsonb NOT NULL,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  -- When segment_members was last compared with the whole definition; NULL
  -- until the first comparison, which records the members without events.
  members_checked_at  timestamptz,
  member_count        integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX segments_workspace_name ON segments (workspace_id, lower(name));
CREATE INDEX segments_workspace ON segments (workspace_id, id);

-- Who was in each segment when it was last checked. Entering and leaving are
-- recorded as events (segment.entered / segment.exited, source herald).
CREATE TABLE segment_members (
  segment_id    uuid NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
  contact_id    uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  workspace_id  uuid NOT NULL,
  entered_at    timestamptz NOT NULL,
  PRIMARY KEY (segment_id, contact_id)
);
CREATE INDEX segment_members_contact ON segment_members (contact_id);

-- Per workspace: changes (events received, contacts updated, hits, conversions)
-- up to this time have been checked against every segment.
CREATE TABLE segment_watermarks (
  workspace_id   uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  checked_until  timestamptz NOT NULL
);

-- A campaign's segments: at most one included (its audience adds the
-- segment's active contacts to the included lists' members), any number excluded.
CREATE TABLE campaign_segments (
  campaign_id   uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  segment_id    uuid NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  excluded      boolean NOT NULL,
  PRIMARY KEY (campaign_id, segment_id)
);
CREATE UNIQUE INDEX campaign_segments_included ON campaign_segments (campaign_id) WHERE NOT excluded;
CREATE INDEX campaign_segments_segment ON campaign_segments (segment_id);
