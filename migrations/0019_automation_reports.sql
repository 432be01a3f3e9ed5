-- Automation reports (GET /v1/automations/{id}/report) read a run's steps by
-- the step-execution key, its emails by messages' primary key, and then the
-- opens, clicks and conversions of those emails. Those two reads had no index:
-- tracking_hits is indexed by campaign and by contact, conversions by campaign.
--
-- Both indexes are partial on campaign_id IS NULL: automation (and
-- transactional) emails are not campaign emails, so their hits and the
-- conversions attributed to them have no campaign. Campaign hits, the bulk of
-- the busiest insert target there is, never enter the index (an insert pays
-- only the predicate check), and the analytics rollup's reads are unchanged.

-- The hits of one message (messages.id).
CREATE INDEX tracking_hits_message ON tracking_hits (message_id) WHERE campaign_id IS NULL;

-- The conversions attributed to one click (tracking_hits.id).
CREATE INDEX conversions_click ON conversions (click_id)
  WHERE click_id IS NOT NULL AND campaign_id IS NULL;
