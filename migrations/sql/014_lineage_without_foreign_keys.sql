-- Lineage is an append-only log written about seven times per message
-- (received, validated, mapped, routed, queued, delivering, delivered).
-- Its two foreign keys made each of those inserts run a referential check:
-- a query per row that also locks the message (FOR KEY SHARE), and the
-- delivery for the delivery stages, which writes to their rows again. On
-- the whole pipeline the checks cost about a quarter of the messages
-- delivered per second (705 and 725 with them, 960 and 977 without;
-- docs/benchmarks.md).
--
-- Every writer of lineage writes it in the transaction that writes or
-- locks the message it describes, so the keys only guarded deletion:
-- retention (the one place messages are deleted) now deletes a message's
-- lineage in the statement that deletes the message
-- (jobs.pruneMessagesSQL), where the cascade used to.
alter table lineage_events drop constraint lineage_events_message_id_fkey;
alter table lineage_events drop constraint lineage_events_delivery_id_fkey;
