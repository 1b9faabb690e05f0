-- Validation rejects per flow, channel and minute: the dashboard's SLA
-- adherence counts, by default, only messages that had something to
-- deliver, so a data error at the source is not a delivery miss.
alter table flow_minute_stats add column rejected integer not null default 0;
