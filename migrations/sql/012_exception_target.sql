-- The inbox's target filter ("every exception of the ERP target") read
-- each exception's delivery to learn its target, walking exceptions newest
-- first until a page was full: for a target with few exceptions that walk
-- covered all of them (243 ms at a million, docs/benchmarks.md). The
-- target is now kept on the exception when it is raised (delivery and
-- configuration exceptions; validation and mapping ones have none), and an
-- index on (target, id) starts the page at the target's newest.
alter table exceptions add column target text;

update exceptions e set target = d.target from deliveries d where d.id = e.delivery_id;

create index exceptions_target_idx on exceptions (target, id desc) where target is not null;

-- Statistics for the new column now, not at autovacuum's next analyze:
-- without them the planner kept walking the id index (133 ms p50 at a
-- million exceptions; 0.1 ms with them).
analyze exceptions (target);
