-- Lineage is read one message at a time, in order (where message_id = $1
-- order by id), which lineage_events_message_idx (message_id, id) served;
-- the primary key on id alone served nothing but uniqueness. Each of the
-- seven events a message writes paid for both. The key is now
-- (message_id, id), one index doing both jobs: seven index entries fewer
-- per message. id stays unique on its own (an identity column).
alter table lineage_events drop constraint lineage_events_pkey;
alter table lineage_events add constraint lineage_events_pkey primary key (message_id, id);
drop index lineage_events_message_idx;
