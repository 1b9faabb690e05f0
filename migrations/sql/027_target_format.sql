-- The format an environment's target receives its bodies in: json (the
-- mapped output as it is), xml or csv with their settings (engine/format
-- Spec as JSON). Existing targets keep receiving JSON.
alter table target_configs add column format jsonb not null default '{"kind": "json"}'
    check (jsonb_typeof(format) = 'object' and pg_column_size(format) <= 65536);
