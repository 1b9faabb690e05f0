-- Sequence keys (keys.sequence): messages of a flow and environment with
-- the same sequence key reach each target in acceptance order.
--
-- sequence_key is the key derived when the message was accepted (null:
-- unordered, the usual case); sequence_n its place in the order, drawn
-- from message_sequence_n when the message is inserted (a replay takes its
-- original's place). Both stay null for unordered messages, so they cost
-- nothing on that path: the lane index below is partial and only holds
-- ordered messages that are not finished, the ones a delivery waits for.
create sequence message_sequence_n as bigint;
alter table messages add column sequence_key text;
alter table messages add column sequence_n bigint;
-- sequence_latest: the message's version delivers only the newest waiting
-- message of a key (keys.sequenceMode latest).
alter table messages add column sequence_latest boolean not null default false;
create index messages_sequence_lane_idx on messages (environment_id, flow_id, sequence_key, sequence_n)
    where sequence_key is not null and status not in ('delivered', 'unrouted');

-- held: a message (or delivery) waiting for an earlier message of its key,
-- or held behind one that failed for good until a person deals with it.
-- superseded: a delivery of a snapshot key (sequenceMode latest) that a
-- newer message of the key made pointless; superseded_by names it.
alter table messages drop constraint messages_status_check;
alter table messages add constraint messages_status_check
    check (status in ('received', 'rejected', 'failed', 'queued', 'held', 'retrying', 'delivered', 'unrouted', 'superseded'));
alter table deliveries drop constraint deliveries_status_check;
alter table deliveries add constraint deliveries_status_check
    check (status in ('pending', 'held', 'retrying', 'delivered', 'failed', 'superseded'));
alter table deliveries add column superseded_by uuid;
-- The orphan check's safety net finds lanes whose held deliveries have
-- waited long.
create index deliveries_held_idx on deliveries (updated_at) where status = 'held';

alter table lineage_events drop constraint lineage_events_stage_check;
alter table lineage_events add constraint lineage_events_stage_check
    check (stage in ('received', 'validated', 'rejected', 'mapped', 'routed', 'queued', 'held', 'superseded',
        'delivering', 'delivered', 'retry_scheduled', 'failed', 'replayed', 'resolved'));
