-- Promotion: why each deployment happened and what its gates said, requests
-- waiting for an approver before a protected environment changes, and where
-- an imported version came from.

-- kind says how the deployment came about; reason is the person's why;
-- gates is the preview's verdict (configuration check and test cases) at
-- the time of the switch.
alter table deployments
    add column kind   text not null default 'deploy' check (kind in ('deploy', 'promote', 'rollback', 'import')),
    add column reason text not null default '',
    add column gates  jsonb not null default '{}';

-- A promotion to a protected environment waits here until an approver who
-- is not the requester approves (the deployment is made then) or rejects it.
create table promotion_requests (
    id                 bigint generated always as identity primary key,
    flow_id            bigint not null references flows (id) on delete cascade,
    version_number     integer not null,
    checksum           text not null,
    environment_id     bigint not null references environments (id) on delete cascade,
    from_version       integer,
    reason             text not null default '',
    gates              jsonb not null default '{}',
    requested_by_id    bigint references users (id) on delete set null,
    requested_by_email text not null,
    requested_at       timestamptz not null default now(),
    status             text not null default 'pending' check (status in ('pending', 'approved', 'rejected', 'superseded')),
    decided_by_id      bigint references users (id) on delete set null,
    decided_by_email   text not null default '',
    decided_at         timestamptz,
    decision_comment   text not null default '',
    deployment_id      bigint references deployments (id) on delete set null,
    foreign key (flow_id, version_number) references flow_versions (flow_id, number) on delete cascade
);
-- One open request per flow and environment: a new one supersedes the old.
create unique index promotion_requests_pending_key on promotion_requests (flow_id, environment_id) where status = 'pending';
create index promotion_requests_status_idx on promotion_requests (status, requested_at desc);

-- Versions imported from a bundle remember the bundle's origin.
alter table flow_versions add column imported_from text not null default '';
