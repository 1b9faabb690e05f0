package pipeline

import "github.com/crossdock/crossdock/jobs/store"

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// liveStates are the job states in which River will still run a job, for
// the orphan checks' "not in".
const liveStates = `('available', 'pending', 'running', 'retryable', 'scheduled')`

// deliveries: a message's deliveries, their attempts and their retries.

// recordAttemptsSQL writes settled attempts: each delivery's new state,
// its attempt and its lineage, for deliveries no other run recorded an
// attempt on since they were loaded (attempts = n - 1); it returns those
// it wrote.
const recordAttemptsSQL = `
	with input as (
		select * from unnest($1::uuid[], $2::int4[], $3::timestamptz[], $4::int8[], $5::int4[], $6::text[], $7::text[], $8::text[],
			$9::timestamptz[], $10::text[], $11::timestamptz[])
			as u(id, n, started, latency, code, outcome, excerpt, error, window_from, status, next_at)
	), d as (
		update deliveries set attempts = input.n, window_from = input.window_from, status = input.status, last_status_code = input.code,
			last_error = input.error, next_attempt_at = input.next_at,
			delivered_at = case when input.status = 'delivered' then now() end, updated_at = now()
		from input where deliveries.id = any($1) and deliveries.id = input.id and deliveries.attempts = input.n - 1
		returning deliveries.id, deliveries.message_id
	), a as (
		insert into delivery_attempts (delivery_id, n, started_at, latency_ms, status_code, outcome, response_excerpt, error)
		select d.id, input.n, input.started, input.latency, input.code, input.outcome, input.excerpt, input.error
		from d join input on input.id = d.id
	), l as (
		insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
		select d.message_id, u.d, u.a, u.s, u.x::jsonb, u.n
		from unnest($12::uuid[], $13::timestamptz[], $14::text[], $15::text[], $16::int8[]) with ordinality as u(d, a, s, x, n, o)
		join d on d.id = u.d
		order by u.o
	)
	select id, message_id from d`

// loadDeliveriesSQL loads deliveries by id with what sending them needs
// from their messages.
const loadDeliveriesSQL = `
	select d.id, d.message_id, d.route, d.target, d.target_kind, d.body, d.status, d.attempts, d.budget_from, d.window_from,
	       m.environment_id, m.flow_id, m.correlation_id, m.received_at, coalesce(m.sequence_key, ''), d.step,
	       m.version_number, m.checksum
	from deliveries d join messages m on m.id = d.message_id where d.id = any($1) order by d.id`

// deliveryWaitForCircuit updates deliveries for waitForCircuit.
const deliveryWaitForCircuit = `update deliveries set status = 'retrying', next_attempt_at = $2, last_error = $3, updated_at = now() where id = $1 and status in ('pending', 'retrying')`

// deliveryFail fails a delivery for good (an orphan, or a target without
// configuration).
const deliveryFail = `update deliveries set status = 'failed', last_error = $2, next_attempt_at = null, updated_at = now() where id = $1`

// deliveryStatusLock reads deliveries for DeliveryRetry.
const deliveryStatusLock = `select status from deliveries where id = $1 for no key update`

// deliveryLaneSelect reads the sequence lane of a delivery's message,
// for DeliveryRetry; the key is ” when the message has none.
const deliveryLaneSelect = `
		select m.environment_id, m.flow_id, coalesce(m.sequence_key, '') from deliveries d join messages m on m.id = d.message_id where d.id = $1`

// deliveryRetryUpdate updates deliveries for DeliveryRetry: pending, or
// held ($2) when its message has a sequence key.
const deliveryRetryUpdate = `
		update deliveries set status = $2, budget_from = attempts, window_from = null, next_attempt_at = now(), updated_at = now()
		where id = $1 returning message_id`

// orphanedDeliveriesLock locks waiting deliveries no live deliver job
// holds, for OrphanCheckWorker.
const orphanedDeliveriesLock = `
			select d.id, d.message_id, m.environment_id, m.flow_id, d.target from deliveries d join messages m on m.id = d.message_id
			where d.status in ('pending', 'retrying') and d.updated_at < $1
			and d.id not in (select (j.args->>'delivery_id')::uuid from river_job j where j.kind = 'deliver' and j.args ? 'delivery_id' and j.state in ` + liveStates + `
				union all
				select x::uuid from river_job j, jsonb_array_elements_text(j.args->'delivery_ids') x
				where j.kind = 'deliver_group' and j.state in ` + liveStates + `)
			order by d.created_at limit 1000
			for no key update of d skip locked`

// exceptions: processing and delivery exceptions a later success resolves.

// attemptsExceptionsResolve locks the messages and resolves the exceptions
// of the deliveries delivered, in one round trip, for recordAttempts.
const attemptsExceptionsResolve = `
		with lock as (
			select id from messages where id = any($1) order by id for no key update
		), r as (
			update exceptions set status = 'resolved', resolution = 'delivered on attempt ' || u.n, resolved_at = now(), updated_at = now()
			from unnest($2::uuid[], $3::int4[]) as u(id, n)
			where exceptions.delivery_id = any($2) and exceptions.delivery_id = u.id and exceptions.status in ('open', 'assigned')
			returning exceptions.message_id, exceptions.delivery_id
		)
		select (select count(*) from lock), coalesce(array_agg(message_id order by delivery_id), '{}'), coalesce(array_agg(delivery_id order by delivery_id), '{}')
		from r`

// processExceptionsResolve updates exceptions for resolveProcessExceptions.
const processExceptionsResolve = `
		update exceptions set status = 'resolved', resolution = 'processed on retry', resolved_at = now(), updated_at = now()
		where message_id = $1 and delivery_id is null and status in ('open', 'assigned')`

// messages: messages claimed, routed and found orphaned.

// orphanedMessagesLock locks received messages no live process job holds,
// for OrphanCheckWorker.
const orphanedMessagesLock = `
			select m.id, m.environment_id, m.flow_id from messages m
			where m.status = 'received' and m.updated_at < $1
			and m.id not in (select x::uuid from river_job j, jsonb_array_elements_text(j.args->'message_ids') x
				where j.kind = 'process' and j.state in ` + liveStates + `)
			order by m.received_at limit 1000
			for no key update of m skip locked`

// processInputsSelect reads environment_variables for processInputs, and
// the target names configured for each message's flow (a flow's local name
// counts when the environment target it reaches is configured).
const processInputsSelect = `
		select m.id, m.environment_id, e.name, m.flow_id, f.slug, m.version_number, m.checksum, m.idempotency_key,
		       m.correlation_id, m.payload, m.status, m.received_at, m.updated_at, coalesce(m.sequence_key, ''),
		       (select coalesce(jsonb_object_agg(v.name, v.value), '{}') from environment_variables v where v.environment_id = m.environment_id),
		       (select coalesce(array_agg(c.name), '{}') from (
		          select t.target_name as name from target_configs t where t.environment_id = m.environment_id and not exists (
		            select 1 from flow_target_names n where n.environment_id = m.environment_id and n.flow_id = m.flow_id and n.name = t.target_name)
		          union all -- the flow's local names of configured targets
		          select n.name from flow_target_names n join target_configs t on t.environment_id = n.environment_id and t.target_name = n.target
		          where n.environment_id = m.environment_id and n.flow_id = m.flow_id) c)
		from messages m join environments e on e.id = m.environment_id join flows f on f.id = m.flow_id
		where m.id = any($1)
		order by m.id`

// claimSQL moves a message out of received into the status processing
// decided on. It is the first statement of the processing transaction: the
// row lock it takes serialises two runs of the same job, and when it
// updates nothing another run got there first (errProcessed).
const claimSQL = `update messages set status = $2, updated_at = now() where id = $1 and status = 'received'`

// routedMessagesUpdate sets routed messages' status and writes their
// deliveries, first attempts and lineage in one statement, for routeAll.
const routedMessagesUpdate = `
		with m as (
			update messages set status = u.status, updated_at = now()
			from unnest($1::uuid[], $2::text[]) as u(id, status)
			where messages.id = any($1) and messages.id = u.id and messages.status = 'received'
			returning messages.id
		), d as (
			insert into deliveries (id, message_id, route, target, target_kind, body, status, last_error,
				attempts, window_from, last_status_code, delivered_at)
			select u.id, m.id, u.route, u.target, u.kind, u.body::json, u.status, u.last_error,
				u.attempts, u.window_from, u.code, case when u.status = 'delivered' then now() end
			from unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
				$17::int4[], $18::timestamptz[], $19::int4[])
				as u(id, message_id, route, target, kind, body, status, last_error, attempts, window_from, code)
			join m on m.id = u.message_id
		), a as (
			insert into delivery_attempts (delivery_id, n, started_at, latency_ms, status_code, outcome, response_excerpt, error)
			select u.id, u.n, u.started, u.latency, u.code, u.outcome, u.excerpt, ''
			from unnest($20::uuid[], $21::uuid[], $22::timestamptz[], $23::int8[], $24::int4[], $25::text[], $27::int4[], $28::text[])
				as u(id, message_id, started, latency, code, excerpt, n, outcome)
			join m on m.id = u.message_id
		), l as (
			insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
			select m.id, u.d, u.a, u.s, u.x::jsonb, u.n
			from unnest($11::uuid[], $12::uuid[], $13::timestamptz[], $14::text[], $15::text[], $16::int8[])
				with ordinality as u(message_id, d, a, s, x, n, o)
			join m on m.id = u.message_id
			order by u.o
		), v as (
			insert into message_values (message_id, payload_values)
			select m.id, u.v::jsonb from unnest($1::uuid[], $26::text[]) as u(id, v) join m on m.id = u.id
			on conflict (message_id) do nothing
		)
		select id from m`

// session: settings of the transaction's session.

// genericPlansSet makes the transaction use cached generic plans, for
// genericPlans.
const genericPlansSet = `set local plan_cache_mode = force_generic_plan`

// target_circuits: the circuit breaker's state per target, for the
// dashboard.

// targetCircuitUpsert inserts into target_circuits for circuitChanged.
const targetCircuitUpsert = `
			insert into target_circuits (environment_id, target, state, changed_at) values ($1, $2, $3, $4)
			on conflict (environment_id, target) do update set state = excluded.state, changed_at = excluded.changed_at
			where target_circuits.changed_at <= excluded.changed_at`

// sequence lanes: the order of the messages of one sequence key
// (sequence.go).

// lanesLock takes the advisory locks of lanes ($1 environments, $2 flows,
// $3 keys), in the order of their hashes, for lockLanes.
const lanesLock = `
		select count(pg_advisory_xact_lock(h)) from (
			select distinct hashtextextended(u.env || '/' || u.flow || '/' || u.key, 21) as h
			from unnest($1::int8[], $2::int8[], $3::text[]) as u(env, flow, key)
			order by h) s`

// lanesTryLock takes the advisory locks of lanes (as lanesLock) that are
// free, without waiting, and says per lane, in the order given, whether it
// got it.
const lanesTryLock = `
		select pg_try_advisory_xact_lock(hashtextextended(u.env || '/' || u.flow || '/' || u.key, 21))
		from unnest($1::int8[], $2::int8[], $3::text[]) with ordinality as u(env, flow, key, ord)
		order by u.ord`

// lanesFreeSelect returns those of messages $1 (fifo mode) no unfinished
// earlier message of their sequence key precedes, for freeLanes: stricter
// than store.LaneBlocked (any target, any earlier message not delivered or
// unrouted), through the lane index.
const lanesFreeSelect = `
		select m.id from messages m
		where m.id = any($1) and m.sequence_key is not null and not m.sequence_latest
			and not exists (select from messages b
				where b.environment_id = m.environment_id and b.flow_id = m.flow_id and b.sequence_key = m.sequence_key
					and b.sequence_n < m.sequence_n and b.status not in ('delivered', 'unrouted'))`

// lanesOfMessagesSelect reads the lanes of messages, for SequenceLanes.
const lanesOfMessagesSelect = `
		select distinct environment_id, flow_id, sequence_key from messages where id = any($1) and sequence_key is not null`

// staleLanesSelect reads the lanes of deliveries held since before $1,
// for wakeStaleLanes.
const staleLanesSelect = `
		select distinct m.environment_id, m.flow_id, m.sequence_key from deliveries d join messages m on m.id = d.message_id
		where d.status = 'held' and d.updated_at < $1 and m.sequence_key is not null
		limit 1000`

// heldRelease releases, per lane and target, the held deliveries of the
// earliest message waiting when no earlier message blocks them
// (store.LaneBlocked). In latest mode (sequence_latest of that message) it
// releases instead those of the newest message held for the target that
// nothing but held deliveries to the target separates from the earliest,
// and supersedes the held deliveries to the target in between. It writes
// their lineage and returns them, superseded or not, for wakeLanes.
const heldRelease = `
		with lane as (
			select * from unnest($1::int8[], $2::int8[], $3::text[]) as u(env, flow, key)
		), head as (
			select distinct on (l.env, l.flow, l.key, d.target) l.env, l.flow, l.key, d.target, m.sequence_n, m.sequence_latest as latest, m.id
			from lane l
			join messages m on m.environment_id = l.env and m.flow_id = l.flow and m.sequence_key = l.key
				and m.status not in ('delivered', 'unrouted')
			join deliveries d on d.message_id = m.id and d.status = 'held'
			order by l.env, l.flow, l.key, d.target, m.sequence_n
		), free as (
			select h.* from head h where not exists (select from messages b where ` + store.LaneBlocked + `)
		), pick as (
			select f.env, f.flow, f.key, f.target, f.sequence_n as from_n, coalesce(c.sequence_n, f.sequence_n) as to_n, coalesce(c.id, f.id) as to_id
			from free f left join lateral (
				select c.id, c.sequence_n from messages c
				join deliveries cd on cd.message_id = c.id and cd.target = f.target and cd.status = 'held'
				where f.latest and c.environment_id = f.env and c.flow_id = f.flow and c.sequence_key = f.key and c.sequence_n > f.sequence_n
					and c.status not in ('delivered', 'unrouted')
					and not exists (select from messages b
						where b.environment_id = f.env and b.flow_id = f.flow and b.sequence_key = f.key
							and b.sequence_n > f.sequence_n and b.sequence_n < c.sequence_n and b.status not in ('delivered', 'unrouted')
							and (b.status = 'received'
								or exists (select from deliveries bd where bd.message_id = b.id and bd.target = f.target and bd.status in ('pending', 'retrying'))
								or exists (select from exceptions e where e.message_id = b.id and e.status in ('open', 'assigned')
									and (e.delivery_id is null or exists (select from deliveries ed where ed.id = e.delivery_id and ed.target = f.target)))))
				order by c.sequence_n desc limit 1) c on true
		), r as (
			update deliveries d set status = 'pending', next_attempt_at = now(), updated_at = now()
			from pick p
			where d.message_id = p.to_id and d.target = p.target and d.status = 'held'
			returning d.id, d.message_id
		), s as (
			update deliveries d set status = 'superseded', superseded_by = p.to_id, next_attempt_at = null, updated_at = now()
			from pick p join messages m on m.environment_id = p.env and m.flow_id = p.flow and m.sequence_key = p.key
				and m.sequence_n >= p.from_n and m.sequence_n < p.to_n and m.status not in ('delivered', 'unrouted')
			where d.message_id = m.id and d.target = p.target and d.status = 'held'
			returning d.id, d.message_id, p.to_id as by
		), l as (
			insert into lineage_events (message_id, delivery_id, at, stage, detail)
			select message_id, id, clock_timestamp(), 'queued', '{"released": true}' from r
			union all
			select message_id, id, clock_timestamp(), 'superseded', jsonb_build_object('by', by) from s
		)
		select id, message_id, false from r
		union all
		select id, message_id, true from s
		order by 1`

// steps (step.go): the answers deliveries keep for the steps after them,
// and the steps' own deliveries.

// stepMessageSelect reads what mapping a message's steps needs of it.
const stepMessageSelect = `
		select environment_id, flow_id, version_number, checksum, payload, received_at, coalesce(sequence_key, '')
		from messages where id = $1`

// deliveryResponseUpdate stores the answer of a delivered route or step.
const deliveryResponseUpdate = `update deliveries set response = $2 where id = $1`

// storedResponsesSelect reads the answers stored on a message's
// deliveries of one route.
const storedResponsesSelect = `select step, response from deliveries where message_id = $1 and route = $2 and response is not null`

// stepDeliveryInsert inserts a step's delivery, unless it was inserted
// before (the id is derived from message, route and step).
const stepDeliveryInsert = `
		insert into deliveries (id, message_id, route, step, parent_id, target, target_kind, body, status, last_error)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		on conflict do nothing returning id`

// stepBodyUpdate gives a step whose mapping failed the body mapped again.
const stepBodyUpdate = `update deliveries set body = $2, last_error = '', updated_at = now() where id = $1`

// stepOfDeliverySelect reads where a delivery stands in its chain, for
// DeliveryRetry.
const stepOfDeliverySelect = `select message_id, route, step, parent_id, body from deliveries where id = $1`

// stepOfParentSelect reads the step name of the delivery a step follows.
const stepOfParentSelect = `select step from deliveries where id = $1`

// messageReplyUpdate keeps a message's reply (the first one mapped).
const messageReplyUpdate = `update messages set reply = $2 where id = $1 and reply is null`
