package insight

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/txn"
)

// LatencyBoundsMS are the upper bounds, in milliseconds, of the
// accept → delivered latency histogram kept per minute in
// flow_minute_stats.latency_le (cumulative counts). Percentiles read from
// the rollups are the bound of the bucket they fall in.
var LatencyBoundsMS = []int{50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000}

// DefaultRollupLookback is how far back each rollup pass recounts. A
// message still under way after that is counted in the state it had then.
const DefaultRollupLookback = 15 * time.Minute

// RollupArgs is the periodic job that writes the dashboard's per-minute
// rollups.
type RollupArgs struct{}

// Kind names the job in River's tables.
func (RollupArgs) Kind() string { return "rollup" }

// RollupWorker recounts the last Lookback of messages, exceptions and
// delivery attempts into flow_minute_stats, exception_minute_stats and
// target_minute_stats. Every pass overwrites the minutes it covers, so
// running twice, or in two processes, is harmless. Each pass reads one
// lookback's worth of rows through the received_at index per environment;
// the dashboard reads only the rollups.
type RollupWorker struct {
	river.WorkerDefaults[RollupArgs]
	DB       txn.DBTX
	Lookback time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Timeout bounds one pass.
func (w *RollupWorker) Timeout(*river.Job[RollupArgs]) time.Duration { return 2 * time.Minute }

// Work runs one rollup pass.
func (w *RollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	lookback := w.Lookback
	if lookback <= 0 {
		lookback = DefaultRollupLookback
	}
	return Rollup(ctx, w.DB, now.Add(-lookback).Truncate(time.Minute), now)
}

// Rollup recounts the minutes from from (rounded down to the minute) up to
// and including the minute of to.
func Rollup(ctx context.Context, db txn.DBTX, from, to time.Time) error {
	from = from.Truncate(time.Minute)
	rows, err := db.Query(ctx, `select id from environments order by id`)
	if err != nil {
		return fmt.Errorf("rollup: environments: %w", err)
	}
	var envs []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("rollup: environments: %w", err)
		}
		envs = append(envs, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rollup: environments: %w", err)
	}
	for _, env := range envs {
		if _, err := db.Exec(ctx, flowRollupSQL, env, from, to, engine.DefaultSLA.WithinSeconds, engine.DefaultSLA.ObjectivePercent); err != nil {
			return fmt.Errorf("rollup: messages of environment %d: %w", env, err)
		}
		if _, err := db.Exec(ctx, targetRollupSQL, env, from, to); err != nil {
			return fmt.Errorf("rollup: delivery attempts of environment %d: %w", env, err)
		}
	}
	if _, err := db.Exec(ctx, exceptionRollupSQL, from, to); err != nil {
		return fmt.Errorf("rollup: exceptions: %w", err)
	}
	return nil
}

// flowRollupSQL counts messages by received minute, flow and channel.
// A message's latency is from acceptance to its last delivery; a message
// no route matched had nothing to deliver and counts as within the SLA.
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
	insert into flow_minute_stats (environment_id, flow_id, channel, minute, received, delivered, failed, within_sla,
		sla_seconds, sla_objective, latency_ms_sum, latency_le)
	select $1, flow_id, channel, minute, count(*), count(*) filter (where status = 'delivered'),
	       count(*) filter (where status in ('failed', 'rejected')),
	       count(*) filter (where latency_ms <= sla_seconds * 1000 or status = 'unrouted'),
	       max(sla_seconds), max(sla_objective), coalesce(sum(latency_ms), 0),
	       array[` + latencyBucketsSQL() + `]
	from m group by flow_id, channel, minute
	on conflict (environment_id, minute, flow_id, channel) do update set
		received = excluded.received, delivered = excluded.delivered, failed = excluded.failed,
		within_sla = excluded.within_sla, sla_seconds = excluded.sla_seconds, sla_objective = excluded.sla_objective,
		latency_ms_sum = excluded.latency_ms_sum, latency_le = excluded.latency_le`

func latencyBucketsSQL() string {
	parts := make([]string, len(LatencyBoundsMS))
	for i, b := range LatencyBoundsMS {
		parts[i] = fmt.Sprintf("count(*) filter (where latency_ms <= %d)::int", b)
	}
	return strings.Join(parts, ", ")
}

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
