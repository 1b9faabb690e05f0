package store

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// deliveries: a message's deliveries to its targets, their attempts and the
// captures of the capture target kind.

// deliveriesOfMessageSelect reads deliveries for deliveriesOf.
const deliveriesOfMessageSelect = `
		select d.id, d.message_id, d.route, d.target, d.target_kind, d.body, d.status, d.attempts, d.last_status_code,
		       d.last_error, d.next_attempt_at, d.delivered_at, d.created_at, d.superseded_by,
		       c.method, c.url, c.headers, c.body, c.captured_at, d.step, d.parent_id, d.response
		from deliveries d left join captures c on c.delivery_id = d.id
		where d.message_id = $1 order by d.created_at, d.route, d.step`

// attemptsOfMessageSelect reads delivery_attempts for deliveriesOf.
const attemptsOfMessageSelect = `
		select delivery_id, n, started_at, latency_ms, status_code, outcome, response_excerpt, error
		from delivery_attempts where delivery_id = any($1) order by delivery_id, n`

// captureListSelect reads captures for CaptureList.
const captureListSelect = `
		select c.id, c.delivery_id, d.message_id, m.correlation_id, c.target, c.method, c.url, c.headers, c.body, c.captured_at
		from captures c join deliveries d on d.id = c.delivery_id join messages m on m.id = d.message_id
		where c.environment_id = $1 and ($2 = '' or c.target = $2) and ($3::int8 = 0 or c.id < $3)
		order by c.id desc limit $4`

// exceptions: what went wrong with a message or a delivery, for the inbox.

// exceptionInsert inserts into exceptions for RaiseException.
const exceptionInsert = `
		insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, delivery_id, stage, error_class, message, detail, target)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (select target from deliveries where id = $6))
		on conflict (message_id, coalesce(delivery_id, '00000000-0000-0000-0000-000000000000'::uuid), stage)
			where status in ('open', 'assigned')
		do update set kind = excluded.kind, fingerprint = excluded.fingerprint, error_class = excluded.error_class,
			message = excluded.message, detail = excluded.detail, updated_at = now()`

// exceptionsOfMessageSelect reads exceptions for ExceptionsOfMessage.
const exceptionsOfMessageSelect = `
		select id, kind, fingerprint, environment_id, flow_id, message_id, delivery_id, stage, error_class, message, detail,
		       status, resolution, created_at, updated_at, resolved_at
		from exceptions where message_id = $1 order by id`

// lineage_events: what happened to a message, stage by stage.

// lineageOfMessageSelect reads lineage_events for lineageOf.
const lineageOfMessageSelect = `select id, delivery_id, at, stage, detail, duration_ms from lineage_events where message_id = $1 order by id`

// lineageInsert inserts into lineage_events for AddLineage.
const lineageInsert = `
		insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
		select $1, d, a, s, x::jsonb, n from unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::int8[])
			with ordinality as u(d, a, s, x, n, o) order by o`

// message_values: the payload values the message explorer searches.

// payloadValuesInsert inserts into message_values for RecordPayloadValues.
const payloadValuesInsert = `
		insert into message_values (message_id, payload_values)
		select u.id, u.v::jsonb from unnest($1::uuid[], $2::text[]) as u(id, v)
		on conflict (message_id) do nothing`

// storedPayloadValuesInsert inserts into message_values for
// RecordStoredPayloadValues.
const storedPayloadValuesInsert = `
		insert into message_values (message_id, payload_values)
		select id, message_payload_values(payload) from messages where id = any($1)
		on conflict (message_id) do nothing`

// messages: accepted messages and their status.

// messageSelect is the select list and joins of a Message; append the WHERE
// clause.
const messageSelect = `
	select m.id, m.environment_id, e.name, m.flow_id, f.slug, m.version_number, m.checksum, m.idempotency_key,
	       m.correlation_id, m.payload, m.status, m.received_at, m.updated_at, coalesce(m.sequence_key, '')
	from messages m join environments e on e.id = m.environment_id join flows f on f.id = m.flow_id`

// messageByIDSelect reads messages for MessageByID.
const messageByIDSelect = messageSelect + ` where m.id = $1`

// messagesByCorrelationIDSelect reads messages for MessagesByCorrelationID.
const messagesByCorrelationIDSelect = messageSelect + ` where m.correlation_id = $1 order by m.received_at desc limit 100`

// messageStatusUpdate updates messages for SetMessageStatus.
const messageStatusUpdate = `update messages set status = $2, updated_at = now() where id = $1`

// messagesLock reads messages for RecomputeMessageStatus.
const messagesLock = `select 1 from messages where id = any($1) order by id for no key update`

// messageStatusRecompute updates messages for RecomputeLockedMessageStatus.
const messageStatusRecompute = `
		update messages m set status = s.status, updated_at = now()
		from (select message_id, case
				when bool_or(status = 'failed') then 'failed'
				when bool_or(status = 'retrying') then 'retrying'
				when bool_and(status = 'superseded') then 'superseded'
				when bool_and(status in ('delivered', 'superseded')) then 'delivered'
				when bool_or(status = 'pending') then 'queued'
				when bool_or(status = 'held') then 'held'
				else 'queued' end as status
			from deliveries where message_id = any($1) group by message_id) s
		where m.id = any($1) and m.id = s.message_id and m.status <> s.status`

// sequence lanes: the order of the messages of one sequence key.

// LaneBlocked is the condition under which message b, earlier in its lane
// than the message h.sequence_n, blocks that message's delivery to
// h.target: b is not processed yet, or its delivery to the target has
// not ended, or it has an open exception of its processing or of its
// delivery to the target. Delivered and unrouted messages never block
// (and are not in the lane index). The pipeline releases held deliveries
// with it; MessageGet says what a held message waits for.
const LaneBlocked = `
			b.environment_id = h.env and b.flow_id = h.flow and b.sequence_key = h.key and b.sequence_n < h.sequence_n
			and b.status not in ('delivered', 'unrouted')
			and (b.status = 'received'
				or exists (select from deliveries bd where bd.message_id = b.id and bd.target = h.target and bd.status in ('pending', 'held', 'retrying'))
				or exists (select from exceptions e where e.message_id = b.id and e.status in ('open', 'assigned')
					and (e.delivery_id is null or exists (select from deliveries ed where ed.id = e.delivery_id and ed.target = h.target))))`

// sequenceStateSelect reads, for SequenceStateOf, a message's sequence
// key, the earliest earlier message that holds one of its held deliveries
// (LaneBlocked) and, when it has an open exception, how many later
// messages of its key are held.
const sequenceStateSelect = `
		select m.sequence_key,
			(select b.id from deliveries d
				cross join lateral (select m.environment_id as env, m.flow_id as flow, m.sequence_key as key, m.sequence_n as sequence_n, d.target as target) h
				join messages b on ` + LaneBlocked + `
				where d.message_id = m.id and d.status = 'held'
				order by b.sequence_n limit 1),
			case when exists (select from exceptions e where e.message_id = m.id and e.status in ('open', 'assigned')) then
				(select count(*) from messages l where l.environment_id = m.environment_id and l.flow_id = m.flow_id
					and l.sequence_key = m.sequence_key and l.sequence_n > m.sequence_n and l.status = 'held')
			else 0 end
		from messages m where m.id = $1 and m.sequence_key is not null`

// messageReplySelect reads a message's reply for MessageReply.
const messageReplySelect = `select reply from messages where id = $1`
