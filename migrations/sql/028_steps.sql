-- Steps (a route's then): each step is a delivery of its own that follows
-- the delivery whose answer it maps.
--
-- step is the step's name ('' for a route's own delivery), so the unique
-- key of a message's deliveries becomes (message, route, step); parent_id
-- names the delivery the step follows. response is the answer of a
-- delivered route or step that has steps after it, or that its route's
-- reply reads — status, headers
-- (credentials left out) and body (at most 64 KiB, secrets masked) — kept
-- so a step that fails is retried, and re-mapped, from that step without
-- sending the ones before it again.
alter table deliveries add column step text not null default '';
alter table deliveries add column parent_id uuid references deliveries (id) on delete cascade;
alter table deliveries add column response jsonb;
drop index deliveries_message_route_key;
create unique index deliveries_message_route_key on deliveries (message_id, route, step);
create index deliveries_parent_idx on deliveries (parent_id) where parent_id is not null;

-- reply is a route's reply (its reply mapping of the answers it names),
-- kept once they are all delivered, for a trigger call waiting with
-- Prefer: wait=N and for the message's status resource.
alter table messages add column reply jsonb;
