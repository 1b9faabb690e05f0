package insight

import (
	"context"
	"fmt"
	"time"

	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/queue"
)

// DashboardQuery picks an environment and a time range of the rollups.
type DashboardQuery struct {
	EnvironmentID int64
	From, To      time.Time
	// Step is the width of one point of the time series (a multiple of a
	// minute).
	Step time.Duration
	// AllMessages makes SLA adherence count every received message; by
	// default it counts the messages that had something to deliver,
	// leaving out those a validation rule rejected (a data error at the
	// source is not a delivery missed).
	AllMessages bool
}

// Dashboard is what the operations dashboard shows, read from the
// per-minute rollups only.
type Dashboard struct {
	Totals DashboardTotals
	// Series has one point per Step from From, oldest first, including
	// empty ones.
	Series   []DashboardPoint
	Flows    []SLAFigure // per flow
	Channels []SLAFigure // per flow and channel
	Targets  []TargetHealth
	Queues   []queue.Depth
}

// DashboardTotals sums the range.
type DashboardTotals struct {
	Received, Delivered, Failed, WithinSLA int64
	// Rejected is the validation rejects among Received; SLABase is what
	// adherence divides by (Received, less Rejected unless AllMessages).
	Rejected, SLABase                  int64
	ExceptionsOpened, ExceptionsClosed int64
	// Held is the messages held now (not in the range) behind an earlier
	// message of their sequence key.
	Held int64
	// P50, P95, P99 are accept → delivered latency percentiles, each the
	// upper bound of the histogram bucket it falls in; zero without
	// deliveries, and -1 when beyond the last bound.
	P50, P95, P99 time.Duration
}

// DashboardPoint is one step of the time series.
type DashboardPoint struct {
	At                               time.Time
	Received, Delivered, Failed      int64
	ExceptionsOpened, ExceptionsDone int64
}

// SLAFigure is SLA adherence of a flow (or one channel of it): the share of
// its messages delivered within the flow's SLA (a message no route matched
// counts as within). Which messages count is Base: those received, less
// the validation rejects unless the query asks for all messages.
type SLAFigure struct {
	FlowID                      int64
	FlowSlug, FlowName, Channel string
	Received, Delivered, Failed int64
	Rejected, Base              int64
	WithinSLA                   int64
	WithinSeconds               int
	ObjectivePercent, Adherence float64 // percent; Adherence is 0 without messages
	Met                         bool
}

// TargetHealth is a target's attempts in the range and its last known
// circuit state.
type TargetHealth struct {
	Target         string
	Attempts       int64
	Errors         int64
	ErrorRate      float64 // percent
	AverageLatency time.Duration
	Circuit        string // closed, half-open, open; "" when never reported
	CircuitSince   time.Time
}

// DashboardGet reads the dashboard for q.
func DashboardGet(ctx context.Context, db txn.DBTX, q DashboardQuery) (Dashboard, error) {
	if q.Step < time.Minute {
		q.Step = time.Minute
	}
	from := q.From.Truncate(q.Step)
	var d Dashboard
	points := map[int64]*DashboardPoint{}
	for t := from; !t.After(q.To); t = t.Add(q.Step) {
		d.Series = append(d.Series, DashboardPoint{At: t})
	}
	for i := range d.Series {
		points[d.Series[i].At.Unix()] = &d.Series[i]
	}
	at := func(t time.Time) *DashboardPoint { return points[t.Unix()] }

	rows, err := db.Query(ctx, flowSeriesSelect, q.EnvironmentID, from, q.To, int64(q.Step.Seconds()))
	if err != nil {
		return d, fmt.Errorf("dashboard series: %w", err)
	}
	for rows.Next() {
		var t time.Time
		var r, dl, f int64
		if err := rows.Scan(&t, &r, &dl, &f); err != nil {
			rows.Close()
			return d, fmt.Errorf("dashboard series: %w", err)
		}
		if p := at(t); p != nil {
			p.Received, p.Delivered, p.Failed = r, dl, f
		}
		d.Totals.Received += r
		d.Totals.Delivered += dl
		d.Totals.Failed += f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("dashboard series: %w", err)
	}

	rows, err = db.Query(ctx, exceptionSeriesSelect, q.EnvironmentID, from, q.To, int64(q.Step.Seconds()))
	if err != nil {
		return d, fmt.Errorf("dashboard exceptions: %w", err)
	}
	for rows.Next() {
		var t time.Time
		var o, c int64
		if err := rows.Scan(&t, &o, &c); err != nil {
			rows.Close()
			return d, fmt.Errorf("dashboard exceptions: %w", err)
		}
		if p := at(t); p != nil {
			p.ExceptionsOpened, p.ExceptionsDone = o, c
		}
		d.Totals.ExceptionsOpened += o
		d.Totals.ExceptionsClosed += c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("dashboard exceptions: %w", err)
	}

	if err := d.latency(ctx, db, q.EnvironmentID, from, q.To); err != nil {
		return d, err
	}
	if d.Flows, err = slaFigures(ctx, db, q, from, false); err != nil {
		return d, err
	}
	if d.Channels, err = slaFigures(ctx, db, q, from, true); err != nil {
		return d, err
	}
	for _, f := range d.Flows {
		d.Totals.WithinSLA += f.WithinSLA
		d.Totals.Rejected += f.Rejected
		d.Totals.SLABase += f.Base
	}
	if err := db.QueryRow(ctx, heldCount, q.EnvironmentID).Scan(&d.Totals.Held); err != nil {
		return d, fmt.Errorf("dashboard held: %w", err)
	}
	if d.Targets, err = targetHealth(ctx, db, q.EnvironmentID, from, q.To); err != nil {
		return d, err
	}
	if d.Queues, err = queue.Depths(ctx, db); err != nil {
		return d, err
	}
	return d, nil
}

// latency sums the cumulative latency histograms element-wise and reads
// the percentiles off them.
func (d *Dashboard) latency(ctx context.Context, db txn.DBTX, envID int64, from, to time.Time) error {
	rows, err := db.Query(ctx, latencyBucketsSelect, envID, from, to)
	if err != nil {
		return fmt.Errorf("dashboard latency: %w", err)
	}
	defer rows.Close()
	cum := make([]int64, len(LatencyBoundsMS))
	for rows.Next() {
		var i int
		var n int64
		if err := rows.Scan(&i, &n); err != nil {
			return fmt.Errorf("dashboard latency: %w", err)
		}
		if i >= 1 && i <= len(cum) {
			cum[i-1] = n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("dashboard latency: %w", err)
	}
	d.Totals.P50 = Percentile(cum, d.Totals.Delivered, 0.50)
	d.Totals.P95 = Percentile(cum, d.Totals.Delivered, 0.95)
	d.Totals.P99 = Percentile(cum, d.Totals.Delivered, 0.99)
	return nil
}

// Percentile reads quantile q (0..1) of total observations from cumulative
// counts per LatencyBoundsMS: the bound of the first bucket holding it, -1
// when it lies beyond the last bound, 0 without observations.
func Percentile(cum []int64, total int64, q float64) time.Duration {
	if total <= 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.999999)
	for i, n := range cum {
		if n >= rank && i < len(LatencyBoundsMS) {
			return time.Duration(LatencyBoundsMS[i]) * time.Millisecond
		}
	}
	return -1
}

func slaFigures(ctx context.Context, db txn.DBTX, q DashboardQuery, from time.Time, byChannel bool) ([]SLAFigure, error) {
	channel, group := "''::text", "f.id, f.slug, f.name"
	if byChannel {
		channel, group = "s.channel", "f.id, f.slug, f.name, s.channel"
	}
	rows, err := db.Query(ctx, fmt.Sprintf(slaFiguresFormat, channel, group), q.EnvironmentID, from, q.To)
	if err != nil {
		return nil, fmt.Errorf("dashboard SLA: %w", err)
	}
	defer rows.Close()
	var out []SLAFigure
	for rows.Next() {
		var f SLAFigure
		if err := rows.Scan(&f.FlowID, &f.FlowSlug, &f.FlowName, &f.Channel, &f.Received, &f.Delivered, &f.Failed, &f.Rejected,
			&f.WithinSLA, &f.WithinSeconds, &f.ObjectivePercent); err != nil {
			return nil, fmt.Errorf("dashboard SLA: %w", err)
		}
		f.Base = f.Received
		if !q.AllMessages {
			f.Base -= f.Rejected
		}
		if f.Base > 0 {
			f.Adherence = 100 * float64(f.WithinSLA) / float64(f.Base)
		}
		f.Met = f.Base > 0 && f.Adherence >= f.ObjectivePercent
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard SLA: %w", err)
	}
	return out, nil
}

func targetHealth(ctx context.Context, db txn.DBTX, envID int64, from, to time.Time) ([]TargetHealth, error) {
	rows, err := db.Query(ctx, targetHealthSelect, envID, from, to)
	if err != nil {
		return nil, fmt.Errorf("dashboard targets: %w", err)
	}
	defer rows.Close()
	var out []TargetHealth
	for rows.Next() {
		var h TargetHealth
		var latency int64
		var since *time.Time
		if err := rows.Scan(&h.Target, &h.Attempts, &h.Errors, &latency, &h.Circuit, &since); err != nil {
			return nil, fmt.Errorf("dashboard targets: %w", err)
		}
		if h.Attempts > 0 {
			h.ErrorRate = 100 * float64(h.Errors) / float64(h.Attempts)
			h.AverageLatency = time.Duration(latency/h.Attempts) * time.Millisecond
		}
		if since != nil {
			h.CircuitSince = *since
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard targets: %w", err)
	}
	return out, nil
}
