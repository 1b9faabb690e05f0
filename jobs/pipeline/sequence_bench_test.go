package pipeline_test

import (
	"context"
	"testing"

	"github.com/crossdock/crossdock/jobs/jobstest"
)

// BenchmarkHotKey measures how soon a hot sequence key's next delivery
// starts after the previous one ended: b.N updates of one key are
// accepted at once, so each waits for the one before; the target answers
// every request at once. The gaps are read from delivery_attempts (the
// end of attempt n is its start plus its latency, the next is the start
// of n+1's first attempt) and reported as percentiles — the time the
// lane's wake-up takes: commit, River's insert notification, its fetch,
// and loading the delivery. Figures in docs/benchmarks.md.
//
//	go test ./jobs/pipeline -run '^$' -bench HotKey -benchtime 300x -count 3
func BenchmarkHotKey(b *testing.B) {
	u := jobstest.SetupUpdates(b, `, "sequence": "source.key"`, 0)
	ctx := context.Background()
	b.ResetTimer()
	for n := 1; n <= b.N; n++ {
		u.Post(b, "HOT", n, "")
	}
	u.WaitDelivered(b, b.N)
	b.StopTimer()
	var p50, p90, p99, worst float64
	if err := u.Pool.QueryRow(ctx, `
		with a as (
			select m.sequence_n, a.started_at s, a.started_at + a.latency_ms * interval '1 ms' e
			from delivery_attempts a join deliveries d on d.id = a.delivery_id join messages m on m.id = d.message_id
			where m.sequence_key = 'HOT'),
		g as (select extract(epoch from lead(s) over (order by sequence_n) - e) * 1000 ms from a)
		select coalesce(percentile_cont(0.5) within group (order by ms), 0), coalesce(percentile_cont(0.9) within group (order by ms), 0),
			coalesce(percentile_cont(0.99) within group (order by ms), 0), coalesce(max(ms), 0)
		from g where ms is not null`).Scan(&p50, &p90, &p99, &worst); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(p50, "gap-p50-ms")
	b.ReportMetric(p90, "gap-p90-ms")
	b.ReportMetric(p99, "gap-p99-ms")
	b.ReportMetric(worst, "gap-max-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "delivered/s")
}
