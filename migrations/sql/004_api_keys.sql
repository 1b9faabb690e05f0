-- API keys for triggers and automation. Only a hash of the secret part is
-- stored; the visible prefix finds the row and is shown in lists.
create table api_keys (
    id               bigint generated always as identity primary key,
    name             text not null check (length(name) between 1 and 100),
    prefix           text not null unique,
    secret_hash      bytea not null,
    environment      text not null references environments (name) on update cascade,
    flows            text[] not null default '{}',
    rate_per_minute  integer not null default 600 check (rate_per_minute between 1 and 100000),
    -- can_manage lets automation (CI pipelines) use the management API on
    -- the key's flows as an analyst would; trigger-only keys cannot.
    can_manage       boolean not null default false,
    created_by       text not null default '',
    created_at       timestamptz not null default now(),
    revoked_at       timestamptz,
    revoked_by       text,
    last_used_at     timestamptz
);
create index api_keys_environment_idx on api_keys (environment);
