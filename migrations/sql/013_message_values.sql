-- The explorer's payload search moves off the trigger's accept path.
--
-- Until now the payload values were a GIN index on messages itself
-- (messages_payload_values_idx over message_payload_values(payload)). Every
-- accept paid for it: the payload parsed to jsonb twice, two jsonpath
-- queries and a few dozen index entries, about a fifth of intake's
-- throughput (2,751 against 3,483 accepts/s, docs/benchmarks.md). And
-- every status update of a message re-inserted all of it, because status
-- updates are not HOT.
--
-- The values now live in a table of their own, written once per message by
-- processing, in the transaction that records what processing made of it
-- (whatever the outcome: routed, rejected, failed or unrouted). A message
-- not processed yet is found by scanning the few messages still waiting
-- (status received, which the open-status index lists); see
-- jobs.MessageSearchQuery.
create table message_values (
    message_id     uuid primary key references messages (id) on delete cascade,
    payload_values jsonb not null
);

-- Existing messages first, the index after: one sorted build is much
-- faster than millions of inserts into the index. At 300,000 seeded
-- messages the two took 11 s and 8 s on the development machine, so
-- plan some six minutes per 5 million messages for this migration.
insert into message_values (message_id, payload_values)
select id, message_payload_values(payload) from messages where status <> 'received';

-- The small pending list of 008, for the same reason: merges stay short.
set local maintenance_work_mem = '256MB';
create index message_values_idx on message_values using gin (payload_values jsonb_path_ops)
    with (gin_pending_list_limit = 512);

drop index messages_payload_values_idx;

analyze message_values;
