-- Idempotency keys are claimed for a limited time (72 hours by default, per
-- the IETF Idempotency-Key draft's "at least 24 hours"), then released so a
-- source system may reuse them. The key itself stays on the message for
-- search and display; key_claim is the copy the unique index enforces, set
-- at intake and cleared when the claim expires (nulls never conflict).
alter table messages add column key_claim text;
update messages set key_claim = idempotency_key;
create unique index messages_key_claim_key on messages (environment_id, flow_id, key_claim);
drop index messages_idempotency_key;
-- Lets the pruning job find live claims past their time without scanning
-- messages whose claim is already released.
create index messages_key_claim_expiry_idx on messages (received_at) where key_claim is not null;
