-- can_support lets automation (a ticketing bot, a runbook script) use the
-- exception inbox API as a support person would: read, retry, replay,
-- resolve, ignore and assign exceptions, in the key's environment (and
-- flows) only. It is separate from can_manage because the management API
-- works across environments and the inbox must not.
alter table api_keys add column can_support boolean not null default false;
