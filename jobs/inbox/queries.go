package inbox

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// bulk_actions: retries, resolutions and replays of many exceptions, run
// batch by batch.

// bulkSelect is the select list and joins of a Bulk; append the WHERE
// clause.
const bulkSelect = `
	select b.id, b.action, coalesce(b.fingerprint, ''), coalesce(g.id, 0), b.status, b.total, b.done, b.skipped, b.failed, b.error,
	       b.requested_by, b.created_at, b.finished_at
	from bulk_actions b
	left join exception_groups g on g.environment_id = b.environment_id and g.fingerprint = b.fingerprint`

// bulkByIDSelect reads bulk_actions for BulkGet.
const bulkByIDSelect = bulkSelect + ` where b.id = $1`

// bulkSelectionSelect reads bulk_actions for BulkSelection.
const bulkSelectionSelect = `select coalesce(exception_ids, '{}') from bulk_actions where id = $1`

// bulkByRequestKeySelect reads bulk_actions for BulkStart.
const bulkByRequestKeySelect = bulkSelect + ` where b.request_key = $1`

// bulkInsert inserts into bulk_actions for BulkStart.
const bulkInsert = `
			insert into bulk_actions (request_key, action, environment_id, fingerprint, exception_ids, up_to_id, reason,
			                          version_choice, requested_by_id, requested_by, total)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			on conflict do nothing returning id`

// bulkRunningSelect reads bulk_actions for BulkStart.
const bulkRunningSelect = bulkSelect + ` where b.environment_id = $1 and b.fingerprint = $2 and b.action = $3
				and b.status in ('queued', 'running')`

// bulkLock reads and locks a bulk action for its next batch.
const bulkLock = `
			select action, environment_id, fingerprint, exception_ids, up_to_id, last_id, reason, version_choice,
			       requested_by_id, requested_by, status
			from bulk_actions where id = $1 for update`

// bulkProgressUpdate updates bulk_actions for batch.
const bulkProgressUpdate = `
			update bulk_actions set last_id = $2, done = done + $3, skipped = skipped + $4, failed = failed + $5, status = $6,
				finished_at = case when $6 = 'done' then now() end
			where id = $1`

// deliveries: the delivery an exception retries.

// deliveryStatusSelect reads deliveries for ExceptionRetry.
const deliveryStatusSelect = `select status from deliveries where id = $1`

// exception_comments: what people wrote on an exception.

// commentInsert inserts into exception_comments for ExceptionComment.
const commentInsert = `
		insert into exception_comments (exception_id, author_id, author_email, body) values ($1, $2, $3, $4)
		returning id, created_at`

// exception_groups: open exceptions with one fingerprint in one
// environment.

// groupSelect is the select list and joins of a Group; GroupGet and
// GroupListQuery append their WHERE clause.
const groupSelect = `
	select g.id, g.environment_id, env.name, g.fingerprint, g.kind, g.flow_id, f.slug, g.stage, g.error_class,
	       g.sample_message, g.total_count, g.open_count, g.first_seen, g.last_seen
	from exception_groups g join environments env on env.id = g.environment_id join flows f on f.id = g.flow_id`

// groupOrder follows the WHERE clause GroupListQuery builds with
// internal/sqlwhere (from groupSelect and the filter); the limit's
// placeholder comes last.
const groupOrder = " order by g.last_seen desc, g.id desc limit "

// groupByIDSelect reads exception_groups for GroupGet.
const groupByIDSelect = groupSelect + ` where g.id = $1`

// openExceptionCountSelect reads exception_groups for OpenExceptionCount.
const openExceptionCountSelect = `select coalesce(sum(open_count), 0)::int8 from exception_groups where open_count > 0`

// exceptions: the inbox: one row per problem with a message or a delivery.

// bulkScopeSelect reads the last exception id and the group's open count a
// group-wide bulk action covers, for BulkStart.
const bulkScopeSelect = `
				select coalesce((select max(id) from exceptions), 0),
				       coalesce((select open_count from exception_groups where environment_id = $1 and fingerprint = $2), 0)`

// groupExceptionsBatchSelect reads exceptions for batch.
const groupExceptionsBatchSelect = `
				select id from exceptions
				where environment_id = $1 and fingerprint = $2 and status in ('open', 'assigned') and id > $3 and id <= $4
				order by id limit $5`

// selectedExceptionsBatchSelect reads the next ids of a bulk action's own
// selection, for batch.
const selectedExceptionsBatchSelect = `
				select id from unnest($1::int8[]) as u(id) where id > $2 group by id order by id limit $3`

// inboxSelect is the select list and joins of an inbox Exception;
// ExceptionGet and ListQuery append their WHERE clause.
const inboxSelect = `
	select e.id, e.kind, e.fingerprint, e.environment_id, e.flow_id, e.message_id, e.delivery_id, e.stage, e.error_class,
	       e.message, e.detail, e.status, e.resolution, e.created_at, e.updated_at, e.resolved_at,
	       env.name, f.slug, m.correlation_id, m.idempotency_key, m.version_number, m.status, e.assigned_to,
	       coalesce(u.email, ''), coalesce(d.target, ''), coalesce(d.route, ''), coalesce(d.status, ''), m.received_at,
	       coalesce(g.id, 0), coalesce(g.open_count, 0), m.customer, m.amount, coalesce(d.step, '')
	from exceptions e
	join environments env on env.id = e.environment_id
	join flows f on f.id = e.flow_id
	join messages m on m.id = e.message_id
	left join users u on u.id = e.assigned_to
	left join deliveries d on d.id = e.delivery_id
	left join exception_groups g on g.environment_id = e.environment_id and g.fingerprint = e.fingerprint`

// inboxOrder follows the WHERE clause ListQuery builds with
// internal/sqlwhere (from inboxSelect and the filter); the limit's
// placeholder comes last.
const inboxOrder = " order by e.id desc limit "

// exceptionByIDSelect reads exceptions for ExceptionGet.
const exceptionByIDSelect = inboxSelect + ` where e.id = $1`

// exceptionScopesSelect reads exceptions for ExceptionScopes.
const exceptionScopesSelect = `
		select e.id, env.name, f.slug from exceptions e
		join environments env on env.id = e.environment_id
		join flows f on f.id = e.flow_id
		where e.id = any($1)`

// replayExceptionResolve updates exceptions for ExceptionReplay.
const replayExceptionResolve = `
		update exceptions set status = 'resolved', resolution = $2, resolved_at = now(), updated_at = now() where id = $1`

// exceptionLock reads exceptions for lockException.
const exceptionLock = `
		select id, kind, fingerprint, environment_id, flow_id, message_id, delivery_id, stage, error_class, message, detail,
		       status, resolution, created_at, updated_at, resolved_at, assigned_to
		from exceptions where id = $1 for update`

// exceptionTouch updates exceptions for ExceptionRetry.
const exceptionTouch = `update exceptions set updated_at = now() where id = $1`

// exceptionClose updates exceptions for closeException.
const exceptionClose = `
		update exceptions set status = $2, resolution = $3, resolved_at = now(), updated_at = now() where id = $1`

// exceptionAssignUpdate updates exceptions for ExceptionAssign.
const exceptionAssignUpdate = `update exceptions set assigned_to = $2, status = $3, updated_at = now() where id = $1`

// exceptionHistorySelect reads an exception's history (audit entries and
// comments, oldest first) for ExceptionHistory.
const exceptionHistorySelect = `
		select at, actor, action, before, after, body from (
			select at, actor_email as actor, action, coalesce(before::text, '') as before, coalesce(after::text, '') as after, '' as body, id, 0 as k
			from audit_entries where target_type = 'exception' and target_id = $2 and action <> 'exception.comment'
			union all
			select created_at, author_email, 'comment', '', '', body, id, 1 from exception_comments where exception_id = $1
		) h order by at, k, id`

// message_revisions: edited and replayed messages and the original each
// came from.

// revisionsOfSelect reads message_revisions for RevisionsOf.
const revisionsOfSelect = `
		select message_id, original_id, revision, version_number, edited, diff, reason, created_by, created_at
		from message_revisions
		where original_id = coalesce((select original_id from message_revisions where message_id = $1), $1)
		order by revision`

// replayOriginalSelect reads message_revisions for ExceptionReplay.
const replayOriginalSelect = `
		select coalesce((select original_id from message_revisions where message_id = $1), $1)`

// revisionInsert inserts into message_revisions for ExceptionReplay.
const revisionInsert = `
		insert into message_revisions (message_id, original_id, revision, version_number, edited, diff, reason, created_by)
		values ($1, $2, $3, $4, $5, $6, $7, $8)`

// messages: the message an exception retries or replays.

// replayRevisionSelect locks the message replayed and reads its
// idempotency key and its next revision number, for ExceptionReplay.
const replayRevisionSelect = `
		select m.idempotency_key, coalesce((select max(revision) from message_revisions where original_id = m.id), 0) + 1
		from messages m where m.id = $1 for no key update`

// replayMessageInsert inserts into messages for ExceptionReplay. The
// revision takes the place of the message replayed ($11) in its sequence
// key's order (same key, same sequence_n) and keeps its labels: channel,
// customer and amount.
const replayMessageInsert = `
		insert into messages (id, environment_id, flow_id, version_number, checksum, idempotency_key, key_claim, correlation_id,
		                      payload, payload_sha256, status, received_at, sequence_key, sequence_n, sequence_latest, channel, customer, amount)
		select $1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 'received', $10, o.sequence_key, o.sequence_n, o.sequence_latest, o.channel, o.customer, o.amount
		from messages o where o.id = $11`

// messageVersionLock reads messages for ExceptionRetry.
const messageVersionLock = `select version_number, status from messages where id = $1 for no key update`

// inboxBlocking keeps, for ListQuery, the exceptions whose message holds a
// later message of its sequence key (status held, through the lane index).
const inboxBlocking = `exists (select from messages bm join messages bl on bl.environment_id = bm.environment_id and bl.flow_id = bm.flow_id
			and bl.sequence_key = bm.sequence_key and bl.sequence_n > bm.sequence_n and bl.status = 'held'
		where bm.id = e.message_id and bm.sequence_key is not null)`
