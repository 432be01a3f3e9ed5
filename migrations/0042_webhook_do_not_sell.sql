-- Outbound webhooks and CCPA "do not sell or share" (src/modules/webhooks).
--
-- An endpoint is a third party unless the business marks it as its own system
-- or a service provider (share_do_not_sell = true). Endpoints without it get no
-- event about a contact flagged do_not_sell when the event was written to the
-- outbox: the outbox statement makes no delivery for them.
--
-- webhook_events.contact_do_not_sell keeps that flag as it was when the event
-- was written, so a later replay to a third-party endpoint leaves the event out
-- too (a replay also leaves out contacts flagged since).
ALTER TABLE webhook_endpoints ADD COLUMN share_do_not_sell boolean NOT NULL DEFAULT false;
ALTER TABLE webhook_events ADD COLUMN contact_do_not_sell boolean NOT NULL DEFAULT false;
