package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// volumeOptions says how much seedVolume writes.
type volumeOptions struct {
	// Messages is how many messages to add (at least 1).
	Messages int64
	// Exceptions is how many of them get an exception (at most Messages).
	Exceptions int64
	// Environment limits the messages to one environment; empty spreads
	// them over all (70 % in the last environment, prod by default, 20 %
	// in the one before, the rest in the first).
	Environment string
	// Days is how far back received_at reaches. Default 30.
	Days int
	// Chunk is how many messages one statement inserts. Default 250,000.
	Chunk int64
}

// volumeFlows are the flows seedVolume spreads messages over: four kinds of
// business event, each family with its own correlation id shape, and
// deliberately uneven volumes (the first flows carry most messages).
var volumeFlows = []struct{ slug, family string }{
	{"volume-storefront-orders", "order"}, {"volume-marketplace-orders", "order"}, {"volume-pos-sales", "order"},
	{"volume-b2b-orders", "order"}, {"volume-wms-shipments", "shipment"}, {"volume-carrier-tracking", "shipment"},
	{"volume-returns", "return"}, {"volume-store-returns", "return"}, {"volume-inventory-adjustments", "inventory"},
	{"volume-stock-transfers", "inventory"}, {"volume-price-updates", "inventory"}, {"volume-crm-customers", "order"},
}

// volumeErrorClasses are the kinds of failure seeded exceptions have. With
// every flow, stage and class combined they make a few hundred
// fingerprints; a power-law pick makes a few groups huge and most small.
var volumeErrorClasses = []struct {
	kind         store.ExceptionKind
	stage, class string
	message      string
}{
	{store.ExceptionDelivery, "deliver", "http 500", "target “erp” answered 500 Internal Server Error after 5 attempts"},
	{store.ExceptionDelivery, "deliver", "http 503", "target “erp” answered 503 Service Unavailable after 5 attempts"},
	{store.ExceptionDelivery, "deliver", "http 400", "target “erp” refused the delivery: 400 Bad Request"},
	{store.ExceptionDelivery, "deliver", "http 409", "target “erp” refused the delivery: 409 Conflict"},
	{store.ExceptionDelivery, "deliver", "http 422", "target “erp” refused the delivery: 422 Unprocessable Entity"},
	{store.ExceptionDelivery, "deliver", "timeout", "target “erp” did not answer within 10s (5 attempts)"},
	{store.ExceptionDelivery, "deliver", "connection refused", "target “wms” refused the connection (5 attempts)"},
	{store.ExceptionDelivery, "deliver", "tls", "target “crm” presented an expired TLS certificate"},
	{store.ExceptionValidation, "validate", "rule: has lines", "validation rule “has lines” failed: an order needs at least one line"},
	{store.ExceptionValidation, "validate", "rule: currency", "validation rule “currency” failed: currency must be EUR, GBP or USD"},
	{store.ExceptionValidation, "validate", "rule: email", "validation rule “email” failed: the customer needs an email address"},
	{store.ExceptionValidation, "validate", "rule: total", "validation rule “total” failed: total_price must be positive"},
	{store.ExceptionValidation, "validate", "schema", "the payload does not match the input schema: /line_items/0/quantity must be an integer"},
	{store.ExceptionMapping, "map", "lookup miss: plants", "lookup(“plants”, key) found no row for the store"},
	{store.ExceptionMapping, "map", "lookup miss: tax codes", "lookup(“tax_codes”, key) found no row for the tax rate"},
	{store.ExceptionMapping, "map", "nil member", "lines[].sku: cannot fetch sku from nil"},
	{store.ExceptionMapping, "map", "bad date", "header.order_date: parsing time “31/12/2026”: month out of range"},
	{store.ExceptionMapping, "map", "division by zero", "totals.unit_price: integer divide by zero"},
	{store.ExceptionConfiguration, "deliver", "target missing", "target “erp” is not configured in this environment"},
	{store.ExceptionConfiguration, "deliver", "secret unreadable", "the secret of target “erp” cannot be decrypted"},
	{store.ExceptionConfiguration, "process", "nothing deployed", "nothing is deployed for this flow in this environment"},
	{store.ExceptionDelivery, "deliver", "job discarded", "delivery was given up by the queue; retry it"},
	{store.ExceptionMapping, "process", "job discarded", "processing this message was given up; replay it"},
	{store.ExceptionDelivery, "deliver", "http 401", "target “erp” refused the credentials: 401 Unauthorized"},
	{store.ExceptionDelivery, "deliver", "http 413", "target “erp” refused the delivery: 413 Payload Too Large"},
}

// seedVolume adds opts.Messages messages and opts.Exceptions exceptions to
// the database for measuring the explorer and the inbox at volume: messages
// spread over twelve volume-* flows (created when missing) with uneven
// volumes, realistic statuses, times over the last Days days, correlation
// ids like "#1001" (orders), "SHP-…", "RMA-…" and "ADJ-…" shared by one to
// two messages each, and payloads with the fields a search would look for;
// exceptions over a few hundred fingerprints, most resolved or ignored,
// some open.
//
// Rows are made by the database (generate_series), chunk by chunk, in one
// transaction that drops the secondary indexes of messages and exceptions
// first and builds them again at the end, which is several times faster
// than maintaining them row by row; an interrupted run leaves nothing
// behind. Nothing else can write to those tables meanwhile: never run it
// against a database in use. progress is called after every chunk.
func seedVolume(ctx context.Context, pool *pgxpool.Pool, opts volumeOptions, progress func(done int64, elapsed time.Duration)) error {
	if opts.Messages < 1 {
		return fault.Errorf(fault.Invalid, "--messages must be at least 1")
	}
	if opts.Exceptions < 0 || opts.Exceptions > opts.Messages {
		return fault.Errorf(fault.Invalid, "--exceptions must be between 0 and --messages (%d)", opts.Messages)
	}
	if opts.Days <= 0 {
		opts.Days = 30
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 250_000
	}
	start := time.Now()
	envs, err := release.EnvironmentList(ctx, pool)
	if err != nil {
		return err
	}
	var envIDs []int64
	for _, e := range envs {
		if opts.Environment == "" || e.Name == opts.Environment {
			envIDs = append(envIDs, e.ID)
		}
	}
	if len(envIDs) == 0 {
		return fault.Errorf(fault.NotFound, "no environment “%s”", opts.Environment)
	}
	for len(envIDs) < 3 { // weights are for three; fewer environments repeat
		envIDs = append([]int64{envIDs[0]}, envIDs...)
	}
	flowIDs := make([]int64, len(volumeFlows))
	families := make([]string, len(volumeFlows))
	for i, vf := range volumeFlows {
		f, err := mappings.FlowBySlug(ctx, pool, vf.slug)
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Code == fault.NotFound {
			f, err = mappings.FlowCreate(ctx, pool, mappings.NewFlow{Slug: vf.slug, Name: vf.slug, Description: "made by crossdock seed-volume", SourceSystem: vf.family}, mappings.Editor{Email: "seed-volume"})
		}
		if err != nil {
			return fmt.Errorf("flow %s: %w", vf.slug, err)
		}
		flowIDs[i], families[i] = f.ID, vf.family
	}

	// Support people to give the assigned exceptions to, so the inbox's
	// assignee filter has something to find. Their password hash is not a
	// hash: nobody can sign in as them.
	var assignees []int64
	for i := 1; i <= 5; i++ {
		var id int64
		email := fmt.Sprintf("support%d@volume.example", i)
		if err := pool.QueryRow(ctx, `
			with ins as (insert into users (email, name, password_hash, role) values ($1, $1, '!seed-volume', 'support')
			             on conflict (lower(email)) do nothing returning id)
			select id from ins union all select id from users where lower(email) = lower($1)`, email).Scan(&id); err != nil {
			return fmt.Errorf("user %s: %w", email, err)
		}
		assignees = append(assignees, id)
	}

	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The payload-values GIN index is most of the rebuild; a GIN build
		// sorts its entries in maintenance_work_mem and merges them into
		// the index each time it fills, so more memory means fewer, larger
		// merges.
		if _, err := tx.Exec(ctx, `set local maintenance_work_mem = '1GB'`); err != nil {
			return err
		}
		// exception_groups_track would run once per seeded exception, each
		// time updating one of a few hundred group rows: a million
		// row-by-row upserts. It is switched off for this transaction (the
		// ALTER locks exceptions, which nothing else may write meanwhile
		// anyway) and the seeded groups are counted in one statement at the
		// end, the same counts the trigger would have kept.
		if _, err := tx.Exec(ctx, `alter table exceptions disable trigger exception_groups_track`); err != nil {
			return fmt.Errorf("pause group tracking: %w", err)
		}
		// The error classes, with fingerprints as the workers compute them.
		if _, err := tx.Exec(ctx, `create temp table volume_classes (n int primary key, flow_id bigint, kind text, stage text,
			error_class text, fingerprint text, message text) on commit drop`); err != nil {
			return fmt.Errorf("classes: %w", err)
		}
		n := 0
		for _, fid := range flowIDs {
			for _, c := range volumeErrorClasses {
				if _, err := tx.Exec(ctx, `insert into volume_classes values ($1, $2, $3, $4, $5, $6, $7)`,
					n, fid, c.kind, c.stage, c.class, store.Fingerprint(fid, c.stage, c.class), c.message); err != nil {
					return fmt.Errorf("classes: %w", err)
				}
				n++
			}
		}
		// Secondary indexes go and come back at the end.
		defs, err := secondaryIndexes(ctx, tx)
		if err != nil {
			return err
		}
		for _, d := range defs {
			if _, err := tx.Exec(ctx, `drop index `+d.name); err != nil {
				return fmt.Errorf("drop index %s: %w", d.name, err)
			}
		}
		// Unique per run, so a second run's idempotency keys never collide
		// with the first's (even within the same second).
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		stride := int64(0)
		if opts.Exceptions > 0 {
			stride = opts.Messages / opts.Exceptions
		}
		for from := int64(1); from <= opts.Messages; from += opts.Chunk {
			to := min(opts.Messages, from+opts.Chunk-1)
			if _, err := tx.Exec(ctx, volumeInsert, from, to, opts.Messages, run, envIDs, flowIDs, families, opts.Days, stride, opts.Exceptions, len(volumeErrorClasses), assignees); err != nil {
				return fmt.Errorf("insert messages %d–%d: %w", from, to, err)
			}
			if progress != nil {
				progress(to, time.Since(start))
			}
		}
		if _, err := tx.Exec(ctx, volumeGroups); err != nil {
			return fmt.Errorf("count exception groups: %w", err)
		}
		if _, err := tx.Exec(ctx, `alter table exceptions enable trigger exception_groups_track`); err != nil {
			return fmt.Errorf("resume group tracking: %w", err)
		}
		for _, d := range defs {
			if _, err := tx.Exec(ctx, d.def); err != nil {
				return fmt.Errorf("index %s: %w", d.name, err)
			}
		}
		return nil
	})
}

// volumeGroups sets the exception groups of the seeded fingerprints from
// the exceptions themselves — every exception with those fingerprints,
// from this run and any before, so the counts are right however many runs
// there were. The columns are what exception_groups_track keeps: total and
// open (open or assigned) counts, first and last seen, the newest
// exception's error as the sample.
const volumeGroups = `
insert into exception_groups as g (environment_id, fingerprint, kind, flow_id, stage, error_class, sample_message,
                                   total_count, open_count, first_seen, last_seen)
select distinct on (environment_id, fingerprint) environment_id, fingerprint, kind, flow_id, stage, error_class, message,
       count(*) over w, count(*) filter (where status in ('open', 'assigned')) over w,
       min(updated_at) over w, max(updated_at) over w
from exceptions
where fingerprint in (select fingerprint from volume_classes)
window w as (partition by environment_id, fingerprint)
order by environment_id, fingerprint, id desc
on conflict (environment_id, fingerprint) do update
    set total_count = excluded.total_count, open_count = excluded.open_count, sample_message = excluded.sample_message,
        first_seen = excluded.first_seen, last_seen = excluded.last_seen`

type indexDef struct{ name, def string }

// secondaryIndexes lists the indexes of messages, their payload values and
// exceptions that no constraint owns (the primary keys stay).
func secondaryIndexes(ctx context.Context, tx pgx.Tx) ([]indexDef, error) {
	rows, err := tx.Query(ctx, `
		select quote_ident(i.relname), pg_get_indexdef(i.oid)
		from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
		where t.relname in ('messages', 'message_values', 'exceptions') and t.relnamespace = 'public'::regnamespace
		and not exists (select 1 from pg_constraint c where c.conindid = i.oid)
		order by i.relname`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (indexDef, error) {
		var d indexDef
		err := r.Scan(&d.name, &d.def)
		return d, err
	})
}

// volumeInsert writes messages $1..$2 of $3 and, for every $9-th of them up
// to $10, an exception. Everything about message g is a function of g (h1…h4
// are cheap hashes of it), so the exception half can recompute what the
// message half chose.
//
// $4 run id (keeps idempotency keys unique across runs), $5 environment ids
// (weights 10/20/70 %), $6 flow ids and $7 their families, $8 days back,
// $11 error classes per flow, $12 the support users assigned exceptions
// go to.
var volumeInsert = strings.ReplaceAll(`
with g as (
	select g, (g * 2654435761 % 1000003)::float8 / 1000003 as h1, (g * 40503 % 10007)::float8 / 10007 as h2,
	       (g * 69069 % 65537)::float8 / 65537 as h3, (g * 7919 % 1009)::float8 / 1009 as h4
	from generate_series($1::bigint, $2::bigint) g
), p as (
	select g.*, least(cardinality($6::bigint[]) - 1, floor(cardinality($6::bigint[]) * power(h1, 1.6))::int) + 1 as fi,
	       case when h2 < 0.1 then 1 when h2 < 0.3 then 2 else 3 end as ei,
	       now() - make_interval(secs => ($8::int * 86400) * (1 - g::float8 / $3::bigint)) - make_interval(secs => h3 * 30) as at,
	       ($9::bigint > 0 and g % $9::bigint = 0 and g / $9::bigint <= $10::bigint) as failed,
	       least($11::int - 1, floor($11::int * power(h3, 2.2))::int) as ci
	from g
), m as (
	select p.*, ($6::bigint[])[fi] as flow_id, ($5::bigint[])[ei] as env_id,
	       case ($7::text[])[fi]
	           when 'order' then '#' || (1000 + g * 2 / 3)
	           when 'shipment' then 'SHP-' || lpad((g * 2 / 3)::text, 8, '0')
	           when 'return' then 'RMA-' || (500000 + g * 2 / 3)
	           else 'ADJ-' || (g * 2 / 3) end as corr,
	       ($7::text[])[fi] as family
	from p
), ins as (
	insert into messages (id, environment_id, flow_id, version_number, checksum, idempotency_key, correlation_id, payload,
	                      payload_sha256, status, received_at, updated_at)
	select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from at) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid,
	       env_id, flow_id, 1 + (g % 3)::int, repeat('a', 64), 'vol-' || $4::text || '-' || g, corr, payload,
	       sha256(convert_to(payload::text, 'UTF8')),
	       case when failed then (case when h4 >= 0.25 then 'delivered' when ci between 8 and 12 then 'rejected' else 'failed' end)
	            when h2 > 0.995 then 'retrying' when h2 > 0.99 and at > now() - interval '1 hour' then 'queued'
	            when h3 > 0.98 then 'unrouted' else 'delivered' end,
	       at, at + make_interval(secs => h4 * 5)
	from (select m.*, json_build_object(
	        'id', 5000000000 + g, 'name', corr, 'order_number', case when family = 'order' then 1000 + g * 2 / 3 end,
	        'email', 'customer' || (g % 50000) || '@example.com', 'created_at', at, 'currency', (array['EUR', 'GBP', 'USD'])[1 + g % 3],
	        'total_price', to_char((g % 50000) / 100.0 + 1, 'FM999990.00'), 'source_name', family,
	        'customer', json_build_object('id', 7000000 + g % 50000, 'email', 'customer' || (g % 50000) || '@example.com', 'first_name', 'Kim'),
	        'shipping_address', json_build_object('zip', lpad((g % 99999)::text, 5, '0'), 'country_code', (array['DE', 'GB', 'US', 'FR'])[1 + g % 4]),
	        'line_items', json_build_array(json_build_object('sku', 'SKU-' || (g % 997), 'quantity', 1 + g % 3, 'price', '19.90')),
	        'tags', case when g % 20 = 0 then 'vip' else '' end) as payload
	      from m) x
	returning id, environment_id, flow_id, received_at, status, split_part(idempotency_key, '-', 3)::bigint as g, payload
), vals as (
	insert into message_values (message_id, payload_values) select id, message_payload_values(payload) from ins
)
insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, stage, error_class, message, detail, status,
                        assigned_to, resolution, created_at, updated_at, resolved_at)
select c.kind, c.fingerprint, i.environment_id, i.flow_id, i.id, c.stage, c.error_class, c.message, '{}',
       case when h4 < 0.10 then 'open' when h4 < 0.13 then 'assigned' when h4 < 0.25 then 'ignored' else 'resolved' end,
       case when h4 >= 0.10 and h4 < 0.13 then ($12::bigint[])[1 + g % cardinality($12::bigint[])] end,
       case when h4 < 0.13 then '' when h4 < 0.25 then 'duplicate order, cancelled in the shop' else 'retried after the target was fixed' end,
       i.received_at + interval '2 seconds', i.received_at + make_interval(secs => 2 + h3 * 3600),
       case when h4 >= 0.13 then i.received_at + make_interval(secs => 2 + h3 * 3600) end
from ins i
join p using (g)
join volume_classes c on c.flow_id = i.flow_id and c.n % $11::int = p.ci
where p.failed`, "\t", " ")
