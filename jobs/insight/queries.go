package insight

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// environment_notifications: where and when an environment's exception
// groups are announced.

// notificationsEnabledSelect reads environment_notifications for NotifySweepWorker.
const notificationsEnabledSelect = `select environment_id, threshold, window_ms, approvals from environment_notifications where enabled`

// promotion_requests: the requests waiting for an approver, announced once
// (release.ClaimRequestsToAnnounce marks them).

// approvalNoticeSelect reads what a notification about a waiting promotion
// request says, for notice.
const approvalNoticeSelect = `
		select e.name, f.slug, f.name, r.version_number, r.reason, r.requested_by_email, r.requested_at, r.status
		from promotion_requests r join flows f on f.id = r.flow_id join environments e on e.id = r.environment_id
		where r.id = $1`

// environments: the environments the rollups and the retention run over.

// retentionListSelect reads environments for Prune.
const retentionListSelect = `select id, retention_days from environments order by id`

// environmentIDsSelect reads environments for Rollup.
const environmentIDsSelect = `select id from environments order by id`

// exception_group_notices: which exception groups have been announced, so
// each is announced once.

// noticesClose updates exception_group_notices for NotifySweepWorker.
const noticesClose = `
				update exception_group_notices g set open = false
				where g.environment_id = $1 and g.open and not exists (select 1 from exceptions x
					where x.fingerprint = g.fingerprint and x.environment_id = g.environment_id and x.status in ('open', 'assigned'))`

// noticeOpen inserts into exception_group_notices for NotifySweepWorker.
const noticeOpen = `
						insert into exception_group_notices (environment_id, fingerprint, open, opened_at) values ($1, $2, true, $3)
						on conflict (environment_id, fingerprint) do update set open = true, opened_at = excluded.opened_at
						where not exception_group_notices.open`

// noticeThreshold inserts into exception_group_notices for NotifySweepWorker.
const noticeThreshold = `
						insert into exception_group_notices (environment_id, fingerprint, open, opened_at, threshold_at) values ($1, $2, $3, $4, $4)
						on conflict (environment_id, fingerprint) do update set threshold_at = excluded.threshold_at
						where exception_group_notices.threshold_at is null or exception_group_notices.threshold_at <= $5`

// exception_minute_stats: exceptions opened and closed per minute.

// exceptionSeriesSelect reads exception_minute_stats for DashboardGet.
const exceptionSeriesSelect = `
		select date_bin($4 * interval '1 second', minute, $2), sum(opened), sum(closed)
		from exception_minute_stats where environment_id = $1 and minute >= $2 and minute <= $3
		group by 1`

// exceptionRollupSQL counts exceptions opened and closed (resolved or
// ignored) per minute.
const exceptionRollupSQL = `
	with ev as (
		select environment_id, flow_id, date_trunc('minute', created_at) as minute, 1 as opened, 0 as closed
		from exceptions where created_at >= $1 and created_at < date_trunc('minute', $2::timestamptz) + interval '1 minute'
		union all
		select environment_id, flow_id, date_trunc('minute', resolved_at), 0, 1
		from exceptions where resolved_at >= $1 and resolved_at < date_trunc('minute', $2::timestamptz) + interval '1 minute'
			and status in ('resolved', 'ignored')
	)
	insert into exception_minute_stats (environment_id, flow_id, minute, opened, closed)
	select environment_id, flow_id, minute, sum(opened), sum(closed) from ev group by environment_id, flow_id, minute
	on conflict (environment_id, minute, flow_id) do update set opened = excluded.opened, closed = excluded.closed`

// exceptions: exceptions counted, described and pruned.

// fingerprintCountsSelect counts the exceptions per fingerprint in the
// notification window, for NotifySweepWorker.
const fingerprintCountsSelect = `
				select fingerprint, count(*), bool_or(status in ('open', 'assigned'))
				from exceptions where environment_id = $1 and created_at > $2 and created_at <= $3
				group by fingerprint order by fingerprint`

// noticeSelect reads what a notification about an exception group says, for
// notice.
const noticeSelect = `
		select e.name, f.slug, x.kind, x.stage, x.error_class, x.message, x.message_id::text, s.open, s.first, s.last
		from (select count(*) filter (where status in ('open', 'assigned')) as open, min(created_at) as first, max(created_at) as last,
		             max(id) as latest
		      from exceptions where environment_id = $1 and fingerprint = $2) s
		join exceptions x on x.id = s.latest
		join environments e on e.id = x.environment_id join flows f on f.id = x.flow_id`

// pruneExceptionsSQL deletes one batch of exceptions closed before the
// cutoff.
const pruneExceptionsSQL = `
	delete from exceptions where id in (
		select id from exceptions
		where environment_id = $1 and status in ('resolved', 'ignored') and resolved_at < $2
		order by resolved_at
		limit $3
		for update skip locked)`

// flow_minute_stats: messages per flow, channel and minute, for the
// dashboard.

// slaFiguresFormat sums the SLA figures per flow, and per channel when
// slaFigures passes "s.channel" as %[1]s and adds it to the grouping %[2]s
// (an empty text and the flow's columns otherwise).
const slaFiguresFormat = `
		select f.id, f.slug, f.name, %[1]s, sum(s.received), sum(s.delivered), sum(s.failed), sum(s.rejected), sum(s.within_sla),
		       (array_agg(s.sla_seconds order by s.minute desc))[1], (array_agg(s.sla_objective order by s.minute desc))[1]
		from flow_minute_stats s join flows f on f.id = s.flow_id
		where s.environment_id = $1 and s.minute >= $2 and s.minute <= $3
		group by %[2]s
		order by %[2]s`

// flowSeriesSelect reads flow_minute_stats for DashboardGet.
const flowSeriesSelect = `
		select date_bin($4 * interval '1 second', minute, $2), sum(received), sum(delivered), sum(failed)
		from flow_minute_stats where environment_id = $1 and minute >= $2 and minute <= $3
		group by 1`

// latencyBucketsSelect reads flow_minute_stats for latency.
const latencyBucketsSelect = `
		select i, sum(s.latency_le[i])
		from flow_minute_stats s, generate_subscripts(s.latency_le, 1) i
		where s.environment_id = $1 and s.minute >= $2 and s.minute <= $3
		group by i order by i`

// flowRollupSQL counts messages by received minute, flow and channel.
// A message's latency is from acceptance to its last delivery; a message
// no route matched had nothing to deliver, and one a newer message of its
// sequence key superseded had nothing left to deliver: both count as
// within the SLA.
var flowRollupSQL = `
	with m as (
		select m.flow_id, m.channel, date_trunc('minute', m.received_at) as minute, m.status,
		       case when m.status = 'delivered' then
		           (extract(epoch from (select max(d.delivered_at) from deliveries d where d.message_id = m.id) - m.received_at) * 1000)::bigint
		       end as latency_ms,
		       coalesce((v.definition->'sla'->>'withinSeconds')::int, $4) as sla_seconds,
		       coalesce((v.definition->'sla'->>'objectivePercent')::float8, $5) as sla_objective
		from messages m
		join flow_versions v on v.flow_id = m.flow_id and v.number = m.version_number
		where m.environment_id = $1 and m.received_at >= $2 and m.received_at < date_trunc('minute', $3::timestamptz) + interval '1 minute'
	)
	insert into flow_minute_stats (environment_id, flow_id, channel, minute, received, delivered, failed, rejected, within_sla,
		sla_seconds, sla_objective, latency_ms_sum, latency_le)
	select $1, flow_id, channel, minute, count(*), count(*) filter (where status = 'delivered'),
	       count(*) filter (where status in ('failed', 'rejected')), count(*) filter (where status = 'rejected'),
	       count(*) filter (where latency_ms <= sla_seconds * 1000 or status in ('unrouted', 'superseded')),
	       max(sla_seconds), max(sla_objective), coalesce(sum(latency_ms), 0),
	       array[` + latencyBucketsSQL() + `]
	from m group by flow_id, channel, minute
	on conflict (environment_id, minute, flow_id, channel) do update set
		received = excluded.received, delivered = excluded.delivered, failed = excluded.failed, rejected = excluded.rejected,
		within_sla = excluded.within_sla, sla_seconds = excluded.sla_seconds, sla_objective = excluded.sla_objective,
		latency_ms_sum = excluded.latency_ms_sum, latency_le = excluded.latency_le`

// latencyBucketFormat is one latency bucket's count in flowRollupSQL,
// formatted with the bucket's bound by latencyBucketsSQL.
const latencyBucketFormat = "count(*) filter (where latency_ms <= %d)::int"

// messages: messages searched in the explorer and expired ones pruned.

// messageSearchSelect is the select list and joins of the message
// explorer; MessageSearchQuery appends the WHERE clause it builds with
// internal/sqlwhere and the order and limit.
const messageSearchSelect = `select m.id, e.name, f.slug, m.version_number, m.idempotency_key, m.correlation_id, m.status, m.received_at, m.updated_at,
		m.customer, m.amount
		from messages m join environments e on e.id = m.environment_id join flows f on f.id = m.flow_id`

// messageSearchByTime and messageSearchByExpression follow the WHERE
// clause of a message search (MessageSearchQuery says when each); the
// limit comes last.
const (
	messageSearchByTime       = " order by m.received_at desc, m.id desc limit "
	messageSearchByExpression = " order by (m.received_at + interval '0 seconds') desc, m.id desc limit "
)

// pruneMessagesSQL deletes one batch of expired delivered messages and
// their lineage (which has no foreign key, migration 014); the foreign keys
// cascade to deliveries, attempts, captures, payload values and the
// message's closed exceptions.
const pruneMessagesSQL = `
	with doomed as (
		select m.id from messages m
		where m.environment_id = $1 and m.received_at < $2 and m.status = 'delivered'
		  and not exists (select 1 from exceptions e where e.message_id = m.id
		                  and (e.status in ('open', 'assigned') or e.resolved_at is null or e.resolved_at >= $2))
		order by m.received_at
		limit $3
		for update skip locked
	), lineage as (
		delete from lineage_events where message_id in (select id from doomed)
	)
	delete from messages where id in (select id from doomed)`

// target_minute_stats: delivery attempts per target and minute.

// targetHealthSelect reads target_minute_stats for targetHealth.
const targetHealthSelect = `
		with t as (
			select target, sum(attempts) as attempts, sum(errors) as errors, sum(latency_ms_sum) as latency
			from target_minute_stats where environment_id = $1 and minute >= $2 and minute <= $3 group by target
		)
		select coalesce(t.target, c.target), coalesce(t.attempts, 0), coalesce(t.errors, 0), coalesce(t.latency, 0),
		       coalesce(c.state, ''), c.changed_at
		from t full join (select * from target_circuits where environment_id = $1) c on c.target = t.target
		order by 1`

// targetRollupSQL counts the delivery attempts of messages received in the
// window, by target: an attempt that neither delivered nor captured is an
// error.
const targetRollupSQL = `
	insert into target_minute_stats (environment_id, target, minute, attempts, errors, latency_ms_sum)
	select $1, d.target, date_trunc('minute', m.received_at), count(*),
	       count(*) filter (where a.outcome not in ('delivered', 'captured')), coalesce(sum(a.latency_ms), 0)
	from messages m
	join deliveries d on d.message_id = m.id
	join delivery_attempts a on a.delivery_id = d.id
	where m.environment_id = $1 and m.received_at >= $2 and m.received_at < date_trunc('minute', $3::timestamptz) + interval '1 minute'
	group by d.target, date_trunc('minute', m.received_at)
	on conflict (environment_id, minute, target) do update set
		attempts = excluded.attempts, errors = excluded.errors, latency_ms_sum = excluded.latency_ms_sum`

// heldCount counts an environment's messages held now behind an earlier
// message of their sequence key, for DashboardGet (messages_status_idx).
const heldCount = `select count(*) from messages where status = 'held' and environment_id = $1`
