-- A dedicated Return-Path (bounce) domain per sending domain, like a custom
-- MAIL FROM domain: when set, mail signed by the sending domain goes out with
-- the envelope sender b-<token>@<return_path_domain> instead of an address at
-- the From domain, so SPF and the bounce MX live on that subdomain and the
-- From domain can keep its own MX. Lowercase ASCII, validated by the API to
-- be a subdomain of the sending domain or share its organizational domain.

ALTER TABLE sending_domains ADD COLUMN return_path_domain text;
