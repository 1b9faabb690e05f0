-- The delivery pipeline: environments with their variables, deployments and
-- target configuration; accepted messages with their lineage, deliveries and
-- delivery attempts; exceptions for people to triage; captured requests.

create table environments (
    id        bigint generated always as identity primary key,
    name      text not null check (name ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$'),
    position  integer not null,
    protected boolean not null default false
);
create unique index environments_name_key on environments (name);
insert into environments (name, position, protected) values ('dev', 1, false), ('test', 2, false), ('prod', 3, true);

-- Variables are read by env("NAME") in expressions; never promoted.
create table environment_variables (
    environment_id bigint not null references environments (id) on delete cascade,
    name           text not null check (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
    value          text not null,
    updated_at     timestamptz not null default now(),
    primary key (environment_id, name)
);

-- Every deployment ever made, and a pointer to the one that is live per
-- environment and flow. Deploying inserts the history row and moves the
-- pointer in one statement, so a message arriving at the same moment sees
-- either version, never none or both.
create table deployments (
    id                bigint generated always as identity primary key,
    environment_id    bigint not null references environments (id) on delete cascade,
    flow_id           bigint not null,
    version_number    integer not null,
    checksum          text not null,
    deployed_by_email text not null default '',
    deployed_at       timestamptz not null default now(),
    foreign key (flow_id, version_number) references flow_versions (flow_id, number) on delete cascade
);
create index deployments_history_idx on deployments (environment_id, flow_id, id desc);

create table current_deployments (
    environment_id bigint not null references environments (id) on delete cascade,
    flow_id        bigint not null references flows (id) on delete cascade,
    deployment_id  bigint not null references deployments (id) on delete cascade,
    primary key (environment_id, flow_id)
);

-- Where and how a named target of the definitions is reached in one
-- environment. The secret (bearer token, password or API key) is sealed
-- with AES-GCM under CROSSDOCK_SECRET_KEY; the database never sees it.
create table target_configs (
    environment_id    bigint not null references environments (id) on delete cascade,
    target_name       text not null check (length(target_name) between 1 and 100),
    url_template      text not null default '',
    method            text not null default 'POST' check (method in ('POST', 'PUT', 'PATCH', 'DELETE', 'GET')),
    headers           jsonb not null default '{}',
    auth_kind         text not null default 'none' check (auth_kind in ('none', 'bearer', 'basic', 'header')),
    auth_header_name  text not null default '',
    username          text not null default '',
    secret_ciphertext bytea,
    timeout_ms        integer not null default 10000 check (timeout_ms > 0),
    rate_per_sec      double precision not null default 0 check (rate_per_sec >= 0),
    max_attempts      integer not null default 5 check (max_attempts > 0),
    base_delay_ms     integer not null default 1000 check (base_delay_ms >= 0),
    max_delay_ms      integer not null default 60000 check (max_delay_ms >= 0),
    window_ms         bigint not null default 900000 check (window_ms > 0),
    failure_threshold integer not null default 5 check (failure_threshold > 0),
    open_for_ms       integer not null default 30000 check (open_for_ms > 0),
    updated_by_email  text not null default '',
    updated_at        timestamptz not null default now(),
    primary key (environment_id, target_name)
);

-- One accepted event. The payload is stored as json (not jsonb) so a replay
-- maps exactly the bytes that arrived; payload_sha256 tells a repeated
-- request (same key, same body) from a key reused for a different body.
create table messages (
    id              uuid primary key,
    environment_id  bigint not null references environments (id),
    flow_id         bigint not null references flows (id),
    version_number  integer not null,
    checksum        text not null,
    idempotency_key text not null check (length(idempotency_key) between 1 and 255),
    correlation_id  text not null,
    payload         json not null,
    payload_sha256  bytea not null,
    status          text not null default 'received'
        check (status in ('received', 'rejected', 'failed', 'queued', 'retrying', 'delivered', 'unrouted')),
    received_at     timestamptz not null,
    updated_at      timestamptz not null default now()
);
create unique index messages_idempotency_key on messages (environment_id, flow_id, idempotency_key);
create index messages_correlation_idx on messages (correlation_id);
create index messages_received_idx on messages (environment_id, received_at desc);
create index messages_flow_received_idx on messages (flow_id, received_at desc);
create index messages_status_idx on messages (status, received_at desc) where status not in ('delivered', 'unrouted');

-- A message × route to a target. body is the mapped output as the engine
-- wrote it. attempts counts every attempt; budget_from and window_from mark
-- where the current retry budget started (a manual retry starts a new one).
create table deliveries (
    id               uuid primary key,
    message_id       uuid not null references messages (id) on delete cascade,
    route            text not null,
    target           text not null,
    target_kind      text not null check (target_kind in ('http', 'capture')),
    body             json not null,
    status           text not null default 'pending'
        check (status in ('pending', 'retrying', 'delivered', 'failed')),
    attempts         integer not null default 0,
    budget_from      integer not null default 0,
    window_from      timestamptz,
    last_status_code integer,
    last_error       text not null default '',
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create unique index deliveries_message_route_key on deliveries (message_id, route);
create index deliveries_open_idx on deliveries (status, next_attempt_at) where status in ('pending', 'retrying');

create table delivery_attempts (
    delivery_id      uuid not null references deliveries (id) on delete cascade,
    n                integer not null,
    started_at       timestamptz not null,
    latency_ms       integer not null,
    status_code      integer,
    outcome          text not null check (outcome in ('delivered', 'retry', 'failed', 'captured')),
    response_excerpt text not null default '',
    error            text not null default '',
    primary key (delivery_id, n)
);

-- The ordered story of a message. delivery_id ties delivery stages to one
-- route; duration_ms is how long the stage took, where that means something.
create table lineage_events (
    id          bigint generated always as identity primary key,
    message_id  uuid not null references messages (id) on delete cascade,
    delivery_id uuid references deliveries (id) on delete cascade,
    at          timestamptz not null default now(),
    stage       text not null check (stage in ('received', 'validated', 'rejected', 'mapped', 'routed', 'queued',
        'delivering', 'delivered', 'retry_scheduled', 'failed', 'replayed', 'resolved')),
    detail      jsonb not null default '{}',
    duration_ms integer
);
create index lineage_events_message_idx on lineage_events (message_id, id);

-- What needs a person. fingerprint (flow + stage + error class) groups
-- identical failures; at most one open exception per message, delivery and
-- stage, so a worker that runs twice does not file twice.
create table exceptions (
    id             bigint generated always as identity primary key,
    kind           text not null check (kind in ('validation', 'mapping', 'delivery', 'configuration')),
    fingerprint    text not null,
    environment_id bigint not null references environments (id),
    flow_id        bigint not null references flows (id),
    message_id     uuid not null references messages (id) on delete cascade,
    delivery_id    uuid references deliveries (id) on delete cascade,
    stage          text not null,
    error_class    text not null,
    message        text not null,
    detail         jsonb not null default '{}',
    status         text not null default 'open' check (status in ('open', 'assigned', 'resolved', 'ignored')),
    assigned_to    bigint references users (id) on delete set null,
    resolution     text not null default '',
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    resolved_at    timestamptz
);
create unique index exceptions_open_key on exceptions (message_id, coalesce(delivery_id, '00000000-0000-0000-0000-000000000000'::uuid), stage)
    where status in ('open', 'assigned');
create index exceptions_group_idx on exceptions (fingerprint, status);
create index exceptions_inbox_idx on exceptions (status, environment_id, updated_at desc);
create index exceptions_message_idx on exceptions (message_id);
create index exceptions_delivery_idx on exceptions (delivery_id) where delivery_id is not null;

-- What a capture target would have sent. Headers carry no secret: auth
-- headers are masked before they are stored.
create table captures (
    id             bigint generated always as identity primary key,
    delivery_id    uuid not null references deliveries (id) on delete cascade,
    environment_id bigint not null references environments (id),
    target         text not null,
    method         text not null,
    url            text not null,
    headers        jsonb not null default '{}',
    body           json not null,
    captured_at    timestamptz not null default now()
);
create unique index captures_delivery_key on captures (delivery_id);
create index captures_target_idx on captures (environment_id, target, captured_at desc);
