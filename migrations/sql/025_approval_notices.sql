-- An environment's notification webhook may also announce the promotion
-- requests waiting for an approver there (approvals), each once:
-- announced_at is set by the notification sweep when it claims a pending
-- request, in the transaction that enqueues the notice.
alter table environment_notifications add column approvals boolean not null default false;

alter table promotion_requests add column announced_at timestamptz;

-- The sweep's claim reads only what is pending and not yet announced.
create index promotion_requests_unannounced_idx on promotion_requests (environment_id)
    where status = 'pending' and announced_at is null;
