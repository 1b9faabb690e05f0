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
	rows, err := db.Query(ctx, environmentIDsSelect)
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

func latencyBucketsSQL() string {
	parts := make([]string, len(LatencyBoundsMS))
	for i, b := range LatencyBoundsMS {
		parts[i] = fmt.Sprintf(latencyBucketFormat, b)
	}
	return strings.Join(parts, ", ")
}
