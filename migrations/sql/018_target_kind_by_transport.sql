-- A delivery's target kind is whatever transport the flow's definition
-- names (jobs/transport); which kinds exist is the installation's
-- registry, not the schema's. The column keeps only the shape of a kind
-- name, as the definition format does.
alter table deliveries drop constraint deliveries_target_kind_check;
alter table deliveries add constraint deliveries_target_kind_check check (target_kind ~ '^[a-z][a-z0-9-]{0,31}$');
