-- An API key may configure its environment (targets, variables) from
-- scripts and CI, as an admin does on the Environments page.
alter table api_keys add column can_configure boolean not null default false;
