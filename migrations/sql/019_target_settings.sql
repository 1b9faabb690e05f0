-- What an environment configures for a target beyond the http kind's
-- endpoint, headers and credential: the settings of other kinds (their
-- transport describes and checks them), by field name. Secrets are never
-- among them; a kind's one secret is secret_ciphertext.
alter table target_configs add column settings jsonb not null default '{}'
    check (jsonb_typeof(settings) = 'object' and pg_column_size(settings) <= 65536);
