package jobs_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/jobs"
)

// BenchmarkAccept measures durable accepts (message + lineage + process job
// in one transaction) from 64 concurrent callers. Compare runs with
// benchstat; the load test of the real server is in docs/benchmarks.md.
func BenchmarkAccept(b *testing.B) {
	bb := setup(b, false)
	cfg, err := pgxpool.ParseConfig(bb.pool.Config().ConnString())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	var n atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := jobs.Accept(context.Background(), pool, bb.client, jobs.AcceptRequest{Env: "dev", FlowSlug: "orders",
				Payload: []byte(fmt.Sprintf(`{"id": %d, "name": "#%d", "total": 10.5, "lines": [{"sku": "A-1", "qty": 2}]}`, i, i))})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accepts/s")
}
