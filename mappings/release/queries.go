package release

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// deployments: which version of a flow runs in an environment, and when it
// changed.

// targetUsersSelect reads the versions running in an environment that
// deliver to a target, under its name or a flow's local name for it, with
// the kind each gives it, for RemoveTarget.
const targetUsersSelect = `
			select f.slug || ' v' || d.version_number, coalesce(nullif(t->>'kind', ''), 'http')
			from current_deployments cd
			join deployments d on d.id = cd.deployment_id
			join flows f on f.id = d.flow_id
			join flow_versions v on v.flow_id = d.flow_id and v.number = d.version_number
			cross join lateral jsonb_array_elements(case jsonb_typeof(v.definition->'targets') when 'array' then v.definition->'targets' else '[]' end) t
			left join flow_target_names n on n.environment_id = cd.environment_id and n.flow_id = d.flow_id and n.name = t->>'name'
			where cd.environment_id = $1 and coalesce(n.target, t->>'name') = $2
			order by f.slug`

// deploymentInsert writes a deployment and makes it the current one, for
// deploy.
const deploymentInsert = `
		with d as (
			insert into deployments (environment_id, flow_id, version_number, checksum, deployed_by_email, kind, reason, gates)
			values ($1, $2, $3, $4, $5, $6, $7, $8)
			returning id, environment_id, flow_id, deployed_at
		), moved as (
			insert into current_deployments (environment_id, flow_id, deployment_id)
			select environment_id, flow_id, id from d
			on conflict (environment_id, flow_id) do update set deployment_id = excluded.deployment_id
		)
		select id, deployed_at from d`

// deploymentSelect is the select list of a Deployment; append the joins and
// the WHERE clause.
const deploymentSelect = `
	select d.id, d.environment_id, d.flow_id, d.version_number, d.checksum, d.deployed_by_email, d.deployed_at,
	       exists (select 1 from current_deployments c where c.deployment_id = d.id), d.kind, d.reason, d.gates
	from deployments d`

// deploymentCurrentSelect reads deployments for DeploymentCurrent.
const deploymentCurrentSelect = deploymentSelect + ` join current_deployments c on c.deployment_id = d.id where c.environment_id = $1 and c.flow_id = $2`

// deploymentListSelect reads deployments for DeploymentList.
const deploymentListSelect = deploymentSelect + ` join current_deployments c on c.deployment_id = d.id where c.environment_id = $1 order by d.flow_id`

// deploymentHistorySelect reads deployments for DeploymentHistory.
const deploymentHistorySelect = deploymentSelect + ` where d.environment_id = $1 and d.flow_id = $2 order by d.id desc`

// previousVersionSelect reads the version deployed last before the current
// deployment that is not the current version, for rollback.
const previousVersionSelect = `select version_number from deployments where environment_id = $1 and flow_id = $2 and id < $3 and version_number <> $4
		order by id desc limit 1`

// environment_notifications: where an environment announces its exception
// groups.

// notificationConfigSelect reads environment_notifications for
// NotificationConfigGet.
const notificationConfigSelect = `select environment_id, enabled, url_ciphertext, url_hint, threshold, window_ms, approvals, updated_by_email, updated_at
		from environment_notifications where environment_id = $1`

// notificationConfigListSelect reads environment_notifications for
// NotificationConfigList.
const notificationConfigListSelect = `select environment_id, enabled, url_hint, threshold, window_ms, approvals, updated_by_email, updated_at from environment_notifications`

// notificationConfigInsert inserts into environment_notifications for
// NotificationConfigPut.
const notificationConfigInsert = `
			insert into environment_notifications (environment_id, enabled, url_ciphertext, url_hint, threshold, window_ms, updated_by_email, approvals)
			values ($1, $2, $3, $4, $5, $6, $7, $8)
			on conflict (environment_id) do update set enabled = excluded.enabled, url_ciphertext = excluded.url_ciphertext,
				url_hint = excluded.url_hint, threshold = excluded.threshold, window_ms = excluded.window_ms,
				approvals = excluded.approvals, updated_by_email = excluded.updated_by_email, updated_at = now()`

// notificationConfigUpdate updates environment_notifications for
// NotificationConfigPut.
const notificationConfigUpdate = `update environment_notifications set enabled = $2, threshold = $3, window_ms = $4,
			updated_by_email = $5, approvals = $6, updated_at = now() where environment_id = $1`

// requestsAnnounceClaim marks an environment's pending, unannounced
// promotion requests announced, for ClaimRequestsToAnnounce.
const requestsAnnounceClaim = `update promotion_requests set announced_at = $2
		where environment_id = $1 and status = 'pending' and announced_at is null returning id`

// notificationConfigDelete deletes from environment_notifications for
// NotificationConfigDelete.
const notificationConfigDelete = `delete from environment_notifications where environment_id = $1`

// environment_variables: the values a flow's definition reads per
// environment.

// variablesSelect reads environment_variables for Variables.
const variablesSelect = `select name, value from environment_variables where environment_id = $1`

// variableUpsert inserts into environment_variables for VariableSet.
const variableUpsert = `
		insert into environment_variables (environment_id, name, value) values ($1, $2, $3)
		on conflict (environment_id, name) do update set value = excluded.value, updated_at = now()`

// variableDelete deletes from environment_variables for VariableDelete.
const variableDelete = `delete from environment_variables where environment_id = $1 and name = $2`

// environments: the environments, in promotion order.

// environmentListSelect reads environments for EnvironmentList.
const environmentListSelect = `select id, name, position, protected from environments order by position, id`

// environmentByNameSelect reads environments for EnvironmentByName.
const environmentByNameSelect = `select id, name, position, protected from environments where name = $1`

// environmentByIDSelect reads environments for EnvironmentByID.
const environmentByIDSelect = `select id, name, position, protected from environments where id = $1`

// environmentInsert inserts into environments for EnvironmentCreate.
const environmentInsert = `insert into environments (name, position, protected)
		values ($1, coalesce((select max(position) from environments), 0) + 1, $2) returning id, name, position, protected`

// environmentPositionUpdate updates environments for EnvironmentUpdate.
const environmentPositionUpdate = `update environments set position = $2 where id = $1`

// environmentProtectedUpdate updates environments for EnvironmentUpdate.
const environmentProtectedUpdate = `update environments set protected = $2 where id = $1`

// exception_group_notices: the announced groups an environment's
// notifications forget with them.

// groupNoticesDelete deletes from exception_group_notices for
// NotificationConfigDelete.
const groupNoticesDelete = `delete from exception_group_notices where environment_id = $1`

// flow_drafts: the drafts and versions a target's kind and the flows that
// name it are read from.

// targetUsesSelect reads the flows whose deployed version, latest version
// or draft name a target, directly or by a local name of the flow in the
// environment, for TargetUses.
const targetUsesSelect = `
		with named as (
			select f.id, f.slug, v.number, coalesce(nullif(t->>'kind', ''), 'http') as kind
			from flows f join flow_versions v on v.flow_id = f.id
			cross join lateral jsonb_array_elements(case jsonb_typeof(v.definition->'targets') when 'array' then v.definition->'targets' else '[]' end) t
			left join flow_target_names ln on ln.environment_id = $1 and ln.flow_id = f.id and ln.name = t->>'name'
			where coalesce(ln.target, t->>'name') = $2
		), drafted as (
			select f.id, f.slug, coalesce(nullif(t->>'kind', ''), 'http') as kind
			from flows f join flow_drafts d on d.flow_id = f.id
			cross join lateral jsonb_array_elements(case jsonb_typeof(d.definition->'targets') when 'array' then d.definition->'targets' else '[]' end) t
			left join flow_target_names ln on ln.environment_id = $1 and ln.flow_id = f.id and ln.name = t->>'name'
			where coalesce(ln.target, t->>'name') = $2
		), flows_using as (
			select id, slug from named union select id, slug from drafted
		)
		select u.slug,
		       coalesce((select dr.kind from drafted dr where dr.id = u.id limit 1),
		                (select n.kind from named n where n.id = u.id order by n.number desc limit 1)),
		       coalesce((select d.version_number from current_deployments cd join deployments d on d.id = cd.deployment_id
		                 join named n on n.id = d.flow_id and n.number = d.version_number
		                 where cd.environment_id = $1 and cd.flow_id = u.id), 0),
		       coalesce((select max(n.number) from named n where n.id = u.id), 0),
		       exists (select 1 from drafted dr where dr.id = u.id),
		       coalesce((select ln.name from flow_target_names ln where ln.environment_id = $1 and ln.flow_id = u.id and ln.target = $2
		                 order by ln.name limit 1), '')
		from flows_using u order by u.slug`

// targetKindSelect reads the kind the flows' newest definitions give a
// target, for TargetKindOf.
const targetKindSelect = `
		select coalesce(nullif(t->>'kind', ''), 'http') from (
			select definition, updated_at as at from flow_drafts
			union all
			select definition, created_at from flow_versions
		) d cross join lateral jsonb_array_elements(case jsonb_typeof(d.definition->'targets') when 'array' then d.definition->'targets' else '[]' end) t
		where t->>'name' = $1
		order by d.at desc limit 1`

// flow_versions: published versions, checked and imported.

// versionChecksumSelect reads a version's checksum, for deploy and
// importVersions.
const versionChecksumSelect = `select checksum from flow_versions where flow_id = $1 and number = $2`

// importedVersionInsert inserts into flow_versions for importVersions.
const importedVersionInsert = `insert into flow_versions (flow_id, number, definition, checksum, note, author_email, created_at, imported_from)
				values ($1, $2, $3, $4, $5, $6, $7, $8)`

// promotion_requests: requests to promote a version into a protected
// environment.

// requestsSupersede supersedes the pending requests of a flow and
// environment, for promote.
const requestsSupersede = `update promotion_requests set status = 'superseded', decided_at = now(), decided_by_email = $3,
		decision_comment = 'superseded by a newer request'
		where flow_id = $1 and environment_id = $2 and status = 'pending'`

// requestInsert inserts into promotion_requests for promote.
const requestInsert = `insert into promotion_requests (flow_id, version_number, checksum, environment_id, from_version, reason, gates, requested_by_id, requested_by_email)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`

// requestStatusLock reads promotion_requests for decide.
const requestStatusLock = `select status from promotion_requests where id = $1 for update`

// requestReject updates promotion_requests for decide.
const requestReject = `update promotion_requests set status = 'rejected', decided_by_id = $2, decided_by_email = $3, decided_at = now(), decision_comment = $4 where id = $1`

// requestApprove updates promotion_requests for decide.
const requestApprove = `update promotion_requests set status = 'approved', decided_by_id = $2, decided_by_email = $3, decided_at = now(),
		decision_comment = $4, deployment_id = $5 where id = $1`

// requestSelect is the select list and joins of a PromotionRequest; append
// the WHERE clause.
const requestSelect = `
	select r.id, r.flow_id, f.slug, f.name, r.version_number, r.checksum, r.environment_id, e.name, r.from_version, r.reason, r.gates,
	       r.requested_by_id, r.requested_by_email, r.requested_at, r.status, r.decided_by_email, r.decided_at,
	       r.decision_comment, r.deployment_id
	from promotion_requests r join flows f on f.id = r.flow_id join environments e on e.id = r.environment_id`

// requestByIDSelect reads promotion_requests for PromotionRequestGet.
const requestByIDSelect = requestSelect + ` where r.id = $1`

// requestListSelect reads promotion_requests for
// PromotionRequestListOfFlows.
const requestListSelect = requestSelect + ` where ($1 = '' or r.status = $1) and ($3::text[] is null or f.slug = any($3))
		order by r.status = 'pending' desc, r.requested_at desc, r.id desc limit $2`

// target_configs: how each environment reaches each target, its secret
// sealed.

// targetConfigDelete deletes from target_configs for RemoveTarget.
const targetConfigDelete = `delete from target_configs where environment_id = $1 and target_name = $2`

// targetSelect is the select list of a TargetConfig; append the WHERE
// clause.
const targetSelect = `
	select environment_id, target_name, url_template, method, headers, auth_kind, auth_header_name, username,
	       secret_ciphertext, timeout_ms, rate_per_sec, max_attempts, base_delay_ms, max_delay_ms, window_ms,
	       failure_threshold, open_for_ms, settings, format, updated_by_email, updated_at
	from target_configs`

// targetConfigSelect reads target_configs for TargetConfigGet.
const targetConfigSelect = targetSelect + ` where environment_id = $1 and target_name = $2`

// maskedTargetSelect reads target_configs without the secret, only
// whether one is stored, for TargetConfigList and TargetConfigMasked.
const maskedTargetSelect = `
		select environment_id, target_name, url_template, method, headers, auth_kind, auth_header_name, username,
		       secret_ciphertext is not null, timeout_ms, rate_per_sec, max_attempts, base_delay_ms, max_delay_ms, window_ms,
		       failure_threshold, open_for_ms, settings, format, updated_by_email, updated_at
		from target_configs`

// targetConfigListSelect reads target_configs for TargetConfigList.
const targetConfigListSelect = maskedTargetSelect + ` where environment_id = $1 order by target_name`

// targetConfigMaskedSelect reads target_configs for TargetConfigMasked.
const targetConfigMaskedSelect = maskedTargetSelect + ` where environment_id = $1 and target_name = $2`

// targetConfigUpsert inserts into target_configs for TargetConfigPut.
const targetConfigUpsert = `
		insert into target_configs (environment_id, target_name, url_template, method, headers, auth_kind, auth_header_name,
			username, secret_ciphertext, timeout_ms, rate_per_sec, max_attempts, base_delay_ms, max_delay_ms, window_ms,
			failure_threshold, open_for_ms, updated_by_email, settings, format)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $20, $21)
		on conflict (environment_id, target_name) do update set
			url_template = excluded.url_template, method = excluded.method, headers = excluded.headers,
			auth_kind = excluded.auth_kind, auth_header_name = excluded.auth_header_name, username = excluded.username,
			secret_ciphertext = case when $19 then target_configs.secret_ciphertext else excluded.secret_ciphertext end,
			timeout_ms = excluded.timeout_ms, rate_per_sec = excluded.rate_per_sec, max_attempts = excluded.max_attempts,
			base_delay_ms = excluded.base_delay_ms, max_delay_ms = excluded.max_delay_ms, window_ms = excluded.window_ms,
			failure_threshold = excluded.failure_threshold, open_for_ms = excluded.open_for_ms, settings = excluded.settings, format = excluded.format,
			updated_by_email = excluded.updated_by_email, updated_at = now()`

// flow_target_names: a flow's local names for an environment's targets.

// flowTargetNamesSelect reads flow_target_names for FlowTargetNames.
const flowTargetNamesSelect = `select name, target from flow_target_names where environment_id = $1 and flow_id = $2 order by name`

// environmentTargetNamesSelect reads flow_target_names for
// EnvironmentTargetNames.
const environmentTargetNamesSelect = `select f.slug, n.name, n.target from flow_target_names n join flows f on f.id = n.flow_id
		where n.environment_id = $1 order by f.slug, n.name`

// flowTargetNameSelect reads the environment target one local name
// reaches, for FlowTargetConfigGet's refusal.
const flowTargetNameSelect = `select target from flow_target_names where environment_id = $1 and flow_id = $2 and name = $3`

// flowTargetNamesDelete deletes from flow_target_names for
// SetFlowTargetNames.
const flowTargetNamesDelete = `delete from flow_target_names where environment_id = $1 and flow_id = $2`

// flowTargetNameInsert inserts into flow_target_names for
// SetFlowTargetNames.
const flowTargetNameInsert = `insert into flow_target_names (environment_id, flow_id, name, target, updated_by_email) values ($1, $2, $3, $4, $5)`

// flowTargetConfigSelect reads target_configs for FlowTargetConfigGet: the
// environment target a flow's local name reaches, else the one of that
// name.
const flowTargetConfigSelect = targetSelect + ` where environment_id = $1 and target_name = coalesce(
		(select n.target from flow_target_names n where n.environment_id = $1 and n.flow_id = $2 and n.name = $3), $3)`

// environments: retention.

// retentionDaysSelect reads environments for RetentionDays.
const retentionDaysSelect = `select retention_days from environments where id = $1`

// retentionDaysLock reads environments for SetRetention.
const retentionDaysLock = `select retention_days from environments where id = $1 for update`

// retentionSetUpdate updates environments for SetRetention.
const retentionSetUpdate = `update environments set retention_days = $2 where id = $1`

// awaitingDecisionCount counts the pending requests someone other than the
// actor ($1 user id, 0 for none; $2 e-mail) filed, as Actor.isRequester
// tells them apart, for AwaitingDecisionCount.
const awaitingDecisionCount = `
		select count(*) from promotion_requests
		where status = 'pending' and requested_by_id is distinct from nullif($1::bigint, 0) and lower(requested_by_email) <> lower($2)`
