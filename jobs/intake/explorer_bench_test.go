package intake_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

// BenchmarkAcceptExplorerIndexes measures what the explorer's index on
// messages by time (008_explorer.sql) costs the trigger's accept path: the
// same concurrent accepts as BenchmarkAccept, with a realistic storefront
// order (docs/demo-order.json, 1.8 kB), on databases with and without it. Run with -count 6 so the variants interleave, and compare with
// benchstat; figures in docs/benchmarks.md.
func BenchmarkAcceptExplorerIndexes(b *testing.B) {
	order, err := os.ReadFile("../../docs/demo-order.json")
	if err != nil {
		b.Fatal(err)
	}
	tmpl := strings.Replace(strings.Replace(string(order), `"id": 5012345678901`, `"id": %[1]d`, 1), `"name": "#1001"`, `"name": "#%[1]d"`, 1)
	if tmpl == string(order) {
		b.Fatal("docs/demo-order.json changed: its id and name are not where the benchmark expects them")
	}
	variants := []struct {
		name string
		drop []string
	}{
		// The payload values' index is on message_values, written by
		// processing (migration 013), so the accept path does not pay it.
		{"none", []string{"messages_received_at_idx"}},
		{"received_at", nil},
	}
	for _, v := range variants {
		bb := jobstest.Setup(b, false)
		for _, ix := range v.drop {
			if _, err := bb.Pool.Exec(context.Background(), `drop index `+ix); err != nil {
				b.Fatal(err)
			}
		}
		cfg, err := pgxpool.ParseConfig(bb.Pool.Config().ConnString())
		if err != nil {
			b.Fatal(err)
		}
		cfg.MaxConns = 32
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		in := intake.New(pool, bb.Client, intake.Config{})
		var n atomic.Int64
		b.Run("indexes="+v.name, func(b *testing.B) {
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					_, err := in.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
						Payload: fmt.Appendf(nil, tmpl, i)})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accepts/s")
		})
	}
}
