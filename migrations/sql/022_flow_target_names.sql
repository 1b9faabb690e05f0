-- A flow's local name for an environment's target: in environment_id, the
-- routes of flow_id that deliver to the definition's target `name` reach
-- the environment's target `target` (its target_configs row) instead of
-- one called `name`. Without a row the two names are the same, so two
-- teams' "erp" can reach different systems without renaming a definition.
create table flow_target_names (
    environment_id   bigint not null references environments (id) on delete cascade,
    flow_id          bigint not null references flows (id) on delete cascade,
    name             text not null check (length(name) between 1 and 100),
    target           text not null check (length(target) between 1 and 100),
    updated_by_email text not null default '',
    updated_at       timestamptz not null default now(),
    primary key (environment_id, flow_id, name),
    check (name <> target)
);
