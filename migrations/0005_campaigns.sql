-- Campaigns and their audience lists. The per-recipient send ledger arrives
-- with the sending engine.

CREATE TABLE campaigns (
  id                     uuid PRIMARY KEY,
  workspace_id           uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name                   text NOT NULL,
  status                 text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
  from_name              text,
  from_email             text,
  reply_to               text,
  -- When set, replace the template version's subject and preheader (both Liquid).
  subject                text,
  preheader              text,
  template_id            uuid,
  -- Pinned when sending starts, so later template edits never change a running campaign.
  template_version_id    uuid,
  transport_id           uuid,
  rate_limit_per_second  integer CHECK (rate_limit_per_second > 0),
  track_opens            boolean NOT NULL DEFAULT true,
  track_clicks           boolean NOT NULL DEFAULT true,
  -- Sending pauses itself when the share of failed recipients passes this.
  failure_threshold      real NOT NULL DEFAULT 0.2 CHECK (failure_threshold > 0 AND failure_threshold <= 1),
  scheduled_at           timestamptz,
  started_at             timestamptz,
  finished_at            timestamptz,
  status_reason          text,
  to_send                integer NOT NULL DEFAULT 0,
  sent_count             integer NOT NULL DEFAULT 0,
  failed_count           integer NOT NULL DEFAULT 0,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL
);
CREATE INDEX campaigns_workspace ON campaigns (workspace_id, id);
CREATE INDEX campaigns_due ON campaigns (scheduled_at) WHERE status = 'scheduled';

CREATE TABLE campaign_lists (
  campaign_id   uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  list_id       uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Members of an excluded list are left out even when another list includes them.
  excluded      boolean NOT NULL,
  PRIMARY KEY (campaign_id, list_id)
);
CREATE INDEX campaign_lists_list ON campaign_lists (list_id);
