-- Flows, their editable drafts and their immutable numbered versions.
-- Samples, lookup tables and test cases live inside the definition, so a
-- version carries everything it needs to run and to be tested on its own.

create table flows (
    id             bigint generated always as identity primary key,
    slug           text not null check (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name           text not null check (length(name) between 1 and 200),
    description    text not null default '',
    source_system  text not null default '',
    owner_id       bigint references users (id) on delete set null,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create unique index flows_slug_key on flows (slug);

-- One draft per flow. revision is the optimistic-concurrency token: a save
-- names the revision it was based on and is refused when another save came
-- first.
create table flow_drafts (
    flow_id         bigint primary key references flows (id) on delete cascade,
    definition      jsonb not null,
    revision        integer not null default 1,
    updated_by      bigint references users (id) on delete set null,
    updated_by_email text not null default '',
    updated_at      timestamptz not null default now()
);

create table flow_versions (
    flow_id       bigint not null references flows (id) on delete cascade,
    number        integer not null check (number > 0),
    definition    jsonb not null,
    checksum      text not null check (checksum ~ '^[0-9a-f]{64}$'),
    note          text not null default '',
    author_id     bigint references users (id) on delete set null,
    author_email  text not null default '',
    created_at    timestamptz not null default now(),
    primary key (flow_id, number)
);

-- History is never rewritten: a version, once published, cannot change.
create function flow_versions_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'flow versions are immutable (flow %, version %)', old.flow_id, old.number
        using errcode = 'restrict_violation';
end $$;
create trigger flow_versions_no_update before update on flow_versions
    for each row execute function flow_versions_immutable();
