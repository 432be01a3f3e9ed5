-- List hygiene (src/modules/contacts/email-hygiene.ts): what a workspace does
-- with role addresses, likely domain typos and disposable providers when a
-- contact's email is written by the API, a CSV import, a list member add or
-- the hosted form. 'warn' stores the contact and reports a warning; 'reject'
-- refuses it; 'off' ignores the finding.
ALTER TABLE workspaces
  ADD COLUMN hygiene_role_accounts text NOT NULL DEFAULT 'warn'
    CHECK (hygiene_role_accounts IN ('warn', 'off')),
  ADD COLUMN hygiene_typos text NOT NULL DEFAULT 'warn'
    CHECK (hygiene_typos IN ('warn', 'off')),
  ADD COLUMN hygiene_disposable text NOT NULL DEFAULT 'reject'
    CHECK (hygiene_disposable IN ('reject', 'warn', 'off')),
  -- Look up the domain's MX (or A/AAAA) records and refuse domains that take no mail. Off by
  -- default: it costs a DNS round trip per new domain and needs a resolver that answers.
  ADD COLUMN hygiene_mx_check boolean NOT NULL DEFAULT false;

-- Rows an import stored with a hygiene warning (role address, possible typo),
-- by line, next to import_errors for the rows it refused.
ALTER TABLE imports ADD COLUMN warning_count integer NOT NULL DEFAULT 0;

CREATE TABLE import_warnings (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  line integer NOT NULL,
  code text NOT NULL,
  message text NOT NULL,
  suggestion text,
  PRIMARY KEY (import_id, line, code)
);
