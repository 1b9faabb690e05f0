package jobs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/mappings/release"
)

// BenchmarkEndToEnd measures accepted → delivered throughput to a local
// HTTP target with a started client: b.N messages are accepted in batches,
// then the clock runs until every one is delivered.
func BenchmarkEndToEnd(b *testing.B) {
	bb := jobstest.Setup(b, true)
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer tg.Close()
	_, err := release.TargetConfigPut(context.Background(), bb.Pool, nil,
		release.TargetConfig{EnvironmentID: bb.Env.ID, Target: "erp", URLTemplate: tg.URL}, bb.Editor)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for start := 0; start < b.N; start += intake.MaxBatchLines {
		lines := make([][]byte, 0, intake.MaxBatchLines)
		for i := start; i < min(b.N, start+intake.MaxBatchLines); i++ {
			lines = append(lines, fmt.Appendf(nil, `{"id": %d, "name": "#%d", "total": 10.5}`, i, i))
		}
		if _, err := bb.Intake.AcceptBatch(context.Background(), intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: lines}); err != nil {
			b.Fatal(err)
		}
	}
	for {
		var pending int
		if err := bb.Pool.QueryRow(context.Background(), `select count(*) from messages where status <> 'delivered'`).Scan(&pending); err != nil {
			b.Fatal(err)
		}
		if pending == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "delivered/s")
}
