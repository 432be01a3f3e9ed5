-- Campaign guardrails and the deliverability health report.
--
-- A sending campaign pauses itself when its hard-bounce rate or its complaint
-- rate passes its threshold once it has sent to at least guardrail_min_sent
-- recipients. Defaults: complaints 0.3% (the Gmail/Yahoo bulk-sender limit;
-- aim under 0.1%), hard bounces 5% (common practice: ESPs suspend senders
-- around 5-10%), sample 500 (below it one complaint is already 0.2%).
ALTER TABLE campaigns
  ADD COLUMN hard_bounce_threshold real NOT NULL DEFAULT 0.05
    CHECK (hard_bounce_threshold > 0 AND hard_bounce_threshold <= 1),
  ADD COLUMN complaint_threshold real NOT NULL DEFAULT 0.003
    CHECK (complaint_threshold > 0 AND complaint_threshold <= 1),
  ADD COLUMN guardrail_min_sent integer NOT NULL DEFAULT 500
    CHECK (guardrail_min_sent >= 1);

-- The guardrail counts one campaign's hard bounces and complaints (per batch and per applied report).
CREATE INDEX bounce_events_campaign ON bounce_events (workspace_id, campaign_id, type)
  WHERE campaign_id IS NOT NULL AND type IN ('bounce', 'complaint');
-- The health report reads a workspace's events, campaign sends and messages of the last 30 days.
CREATE INDEX bounce_events_received ON bounce_events (workspace_id, received_at)
  WHERE type IN ('bounce', 'complaint');
CREATE INDEX campaign_sends_finished ON campaign_sends (workspace_id, finished_at) WHERE status = 'sent';
CREATE INDEX messages_sent ON messages (workspace_id, sent_at) WHERE status = 'sent';
