-- Observability: the channel a message came through, per-minute rollups
-- for the operations dashboard (kept after the raw rows are pruned), the
-- last known circuit state of each target, and retention per environment.

-- Derived by the flow's keys.channel expression at acceptance; '' without one.
-- A constant default: no table rewrite.
alter table messages add column channel text not null default '';

-- How many days delivered messages, their lineage and closed exceptions are
-- kept. Rollups are kept regardless.
alter table environments add column retention_days integer not null default 30
    check (retention_days between 1 and 3650);

-- Messages by the minute they were received, per flow and channel, in the
-- state they had when the rollup job last looked (it revisits recent
-- minutes until they settle). latency_le holds cumulative counts of
-- delivered messages whose accept → delivered time was at most each bound
-- of jobs.LatencyBoundsMS; within_sla counts those delivered within the
-- flow version's SLA.
create table flow_minute_stats (
    environment_id bigint not null references environments (id) on delete cascade,
    flow_id        bigint not null references flows (id) on delete cascade,
    channel        text not null,
    minute         timestamptz not null,
    received       integer not null,
    delivered      integer not null,
    failed         integer not null,
    within_sla     integer not null,
    sla_seconds    integer not null,
    sla_objective  double precision not null,
    latency_ms_sum bigint not null,
    latency_le     integer[] not null,
    primary key (environment_id, minute, flow_id, channel)
);

-- Exceptions opened and resolved (or ignored) per minute.
create table exception_minute_stats (
    environment_id bigint not null references environments (id) on delete cascade,
    flow_id        bigint not null references flows (id) on delete cascade,
    minute         timestamptz not null,
    opened         integer not null,
    closed         integer not null,
    primary key (environment_id, minute, flow_id)
);
create index exceptions_created_idx on exceptions (created_at);
create index exceptions_resolved_idx on exceptions (resolved_at) where resolved_at is not null;

-- Delivery attempts per target, by the minute their message was received.
create table target_minute_stats (
    environment_id bigint not null references environments (id) on delete cascade,
    target         text not null,
    minute         timestamptz not null,
    attempts       integer not null,
    errors         integer not null,
    latency_ms_sum bigint not null,
    primary key (environment_id, minute, target)
);

-- The last circuit state a delivering process reported for a target.
-- Breakers live in each process; with several processes this is the most
-- recent change any of them saw.
create table target_circuits (
    environment_id bigint not null references environments (id) on delete cascade,
    target         text not null,
    state          text not null check (state in ('closed', 'half-open', 'open')),
    changed_at     timestamptz not null,
    primary key (environment_id, target)
);
