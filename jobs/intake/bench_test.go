package intake_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

// BenchmarkAccept measures durable accepts (message + lineage + process job
// in one transaction, shared by concurrent events through the trigger's
// group-commit Intake) from 64 concurrent callers. Compare runs with
// benchstat; the load test of the real server is in docs/benchmarks.md.
func BenchmarkAccept(b *testing.B) {
	bb := jobstest.Setup(b, false)
	cfg, err := pgxpool.ParseConfig(bb.Pool.Config().ConnString())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	in := intake.New(pool, bb.Client, intake.Config{})
	var n atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := in.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
				Payload: []byte(fmt.Sprintf(`{"id": %d, "name": "#%d", "total": 10.5, "lines": [{"sku": "A-1", "qty": 2}]}`, i, i))})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accepts/s")
}

// BenchmarkAcceptBatch measures NDJSON batches of MaxBatchLines events,
// one caller at a time: one op is one batch.
func BenchmarkAcceptBatch(b *testing.B) {
	bb := jobstest.Setup(b, false)
	n := 0
	lines := make([][]byte, intake.MaxBatchLines)
	b.ResetTimer()
	for range b.N {
		for i := range lines {
			n++
			lines[i] = fmt.Appendf(nil, `{"id": %d, "name": "#%d", "total": 10.5, "lines": [{"sku": "A-1", "qty": 2}]}`, n, n)
		}
		if _, err := bb.Intake.AcceptBatch(context.Background(), intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: lines}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*intake.MaxBatchLines)/b.Elapsed().Seconds(), "events/s")
}
