-- The message explorer's indexes and per-environment exception
-- notifications.
--
-- Every index on messages is paid for by the trigger's accept path; the
-- cost of these two is measured in docs/benchmarks.md
-- (BenchmarkAcceptExplorerIndexes). The explorer's other searches use the
-- indexes of 003: id (primary key), correlation id, environment or flow by
-- time, and open statuses by time; the idempotency key's own index is
-- below (005 moved the unique claim to key_claim, which is released after
-- 72 hours, while the key stays searchable).

-- The values support searches for: every string or number at the top level
-- of a payload ("name": "#1001", "order_number": 1001, "email") and one
-- level down inside objects ("customer": {"email": …}); arrays (order
-- lines) are left out, which keeps an order to a few dozen index entries.
--
-- A payload holding the escape \u0000 is valid json but cannot become
-- jsonb (PostgreSQL refuses it), and a failing index expression would fail
-- the accept itself: such payloads are left out of this index instead (they
-- are still found by every other filter).
create function message_payload_values(payload json) returns jsonb
    language sql immutable strict parallel safe
    return case when strpos(payload::text, E'\\u0000') > 0 then '[]'::jsonb else
        jsonb_path_query_array(payload::jsonb, 'strict $.* ? (@.type() == "string" || @.type() == "number")', '{}', true)
        || jsonb_path_query_array(payload::jsonb, 'strict $.* ? (@.type() == "object").* ? (@.type() == "string" || @.type() == "number")', '{}', true)
    end;

-- A small pending list: inserts append to it cheaply and it is merged into
-- the index when full; at the default 4 MB one merge stalled an insert for
-- about 2 s under load, at 512 kB the merges are eight times smaller.
create index messages_payload_values_idx on messages using gin (message_payload_values(payload) jsonb_path_ops)
    with (gin_pending_list_limit = 512);

create index messages_idempotency_key_idx on messages (environment_id, flow_id, idempotency_key);

-- Newest first across every environment (the explorer's first page).
create index messages_received_at_idx on messages (received_at desc);

-- An outbound webhook per environment (Slack- and Teams-compatible JSON),
-- told when an exception group opens or passes threshold exceptions within
-- window. The URL carries its own credential (Slack's and Teams' URLs are
-- the secret), so it is sealed like a target's secret; url_hint is what
-- pages show (scheme and host).
create table environment_notifications (
    environment_id     bigint primary key references environments (id) on delete cascade,
    enabled            boolean not null default true,
    url_ciphertext     bytea not null,
    url_hint           text not null,
    threshold          integer not null default 100 check (threshold > 0),
    window_ms          bigint not null default 900000 check (window_ms >= 60000),
    updated_by_email   text not null default '',
    updated_at         timestamptz not null default now()
);

-- What has been announced per exception group (environment + fingerprint):
-- open is true from the opening notice until the group has no open or
-- assigned exception left; threshold_at is when the group last passed the
-- threshold, so it is announced at most once per window.
create table exception_group_notices (
    environment_id bigint not null references environments (id) on delete cascade,
    fingerprint    text not null,
    open           boolean not null default true,
    opened_at      timestamptz not null default now(),
    threshold_at   timestamptz,
    primary key (environment_id, fingerprint)
);

-- The notification sweep reads the exceptions raised within a window.
create index exceptions_env_created_idx on exceptions (environment_id, created_at);
