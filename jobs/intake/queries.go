package intake

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// environments: the environment, flow and deployed version a message is
// accepted for.

// ingressResolve finds the environment, the flow and the deployed version
// an accepted message is for, for resolve.
const ingressResolve = `
		select e.id, f.id, d.id, d.version_number, d.checksum
		from environments e
		left join flows f on f.slug = $2
		left join current_deployments c on c.environment_id = e.id and c.flow_id = f.id
		left join deployments d on d.id = c.deployment_id
		where e.name = $1`

// messages: accepted messages, found again by their idempotency key.

// storedPayloadSelect reads a message's payload as text, for sameEvent.
const storedPayloadSelect = `select payload::text from messages where id = $1`

// messageByKeySelect reads messages for existing.
const messageByKeySelect = `
		select id, correlation_id, payload_sha256, version_number, received_at from messages
		where environment_id = $1 and flow_id = $2 and key_claim = $3`

// messageOfInlineMapSelect reads messages for mapInline.
const messageOfInlineMapSelect = `select environment_id, flow_id, version_number, checksum, received_at from messages where id = $1`

// messageReplySelect reads a message's reply and status for waitReply.
const messageReplySelect = `select reply, status from messages where id = $1`

// groupInsertSQL inserts the batch's messages and their received events
// in one statement. A message with a sequence key draws its place in the
// key's order (sequence_n) in the order the events came (arrival: a
// batch's lines in order), not in the order of the insert, which is
// sorted by key. A message is inserted only while the deployment it was
// resolved against is still live (messages run on the version deployed
// when they arrived) and its key is not claimed; each input row reports
// which happened.
const groupInsertSQL = `
	with input as (
		select * from unnest($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int4[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::bytea[], $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::bool[], $16::int4[], $17::text[], $18::text[])
			with ordinality as u(id, env, flow, deployment, version, checksum, key, correlation, payload, sha, received_at, detail, channel, sequence, latest, arrival, customer, amount, ord)
	), live as (
		select input.* from input
		join current_deployments c on c.environment_id = input.env and c.flow_id = input.flow and c.deployment_id = input.deployment
	), seq as (
		select s.id, nextval('message_sequence_n') as n from (select id from live where sequence <> '' order by arrival) s
	), m as (
		insert into messages (id, environment_id, flow_id, version_number, checksum, idempotency_key, key_claim, correlation_id,
			payload, payload_sha256, received_at, channel, sequence_key, sequence_n, sequence_latest, customer, amount)
		select live.id, env, flow, version, checksum, key, key, correlation, payload::json, sha, received_at, channel,
			nullif(sequence, ''), seq.n, latest and sequence <> '', customer, amount
		from live left join seq on seq.id = live.id order by ord
		on conflict (environment_id, flow_id, key_claim) do nothing
		returning id
	), l as (
		insert into lineage_events (message_id, at, stage, detail)
		select live.id, live.received_at, 'received', live.detail::jsonb from live join m on m.id = live.id order by live.ord
	)
	select input.ord, m.id is not null, live.ord is not null
	from input left join live on live.ord = input.ord left join m on m.id = input.id`
