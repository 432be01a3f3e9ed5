-- Sensitive attributes (src/modules/attributes): their values are stored in
-- contacts.attributes encrypted with the workspace's data key
-- (`hdk1.<key id>...`, purpose `attribute:<name>`), decrypted only where they
-- are shown or rendered. Only string attributes may be sensitive, and the flag
-- cannot change while contacts hold values (they would be left in the wrong form).
ALTER TABLE attribute_definitions ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE attribute_definitions ADD CONSTRAINT attribute_definitions_sensitive_string
  CHECK (NOT sensitive OR type = 'string');
