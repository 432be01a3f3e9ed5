-- CAN-SPAM postal address (src/modules/workspaces): the physical address every
-- marketing email of the workspace carries. Campaigns and automation emails whose
-- template does not show it themselves get a small footer with it. null: none
-- set, and nothing is appended. require_postal_address refuses to send or
-- schedule a campaign while none is set.
ALTER TABLE workspaces
  ADD COLUMN postal_address text CHECK (char_length(postal_address) BETWEEN 1 AND 500),
  ADD COLUMN require_postal_address boolean NOT NULL DEFAULT false;
