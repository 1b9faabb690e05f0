package jobs_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/jobs"
)

// BenchmarkInboxVolume measures the inbox's list and grouped view on a
// database filled by `crossdock seed-volume` (CROSSDOCK_BENCH_DATABASE_URL;
// skipped without it), reporting the median and 95th percentile of one
// page (50 rows) as jobs.InboxList and jobs.GroupList serve it, on the same
// machine as PostgreSQL. Figures in docs/benchmarks.md.
func BenchmarkInboxVolume(b *testing.B) {
	dsn := os.Getenv("CROSSDOCK_BENCH_DATABASE_URL")
	if dsn == "" {
		b.Skip("CROSSDOCK_BENCH_DATABASE_URL is not set: point it at a database filled by crossdock seed-volume")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	var envID, flowID, midID int64
	if err := pool.QueryRow(ctx, `select environment_id, flow_id, id from exceptions order by id desc offset 5000 limit 1`).Scan(&envID, &flowID, &midID); err != nil {
		b.Fatal(err)
	}
	var groupSeen time.Time
	var groupID int64
	if err := pool.QueryRow(ctx, `select last_seen, id from exception_groups order by last_seen desc, id desc offset 50 limit 1`).Scan(&groupSeen, &groupID); err != nil {
		b.Fatal(err)
	}
	kinds := []struct {
		name string
		run  func() error
	}{
		{"grouped_open", func() error { _, _, err := jobs.GroupList(ctx, pool, jobs.GroupFilter{}); return err }},
		{"grouped_all", func() error { _, _, err := jobs.GroupList(ctx, pool, jobs.GroupFilter{All: true}); return err }},
		{"grouped_env", func() error {
			_, _, err := jobs.GroupList(ctx, pool, jobs.GroupFilter{EnvironmentID: envID})
			return err
		}},
		{"grouped_page2", func() error {
			_, _, err := jobs.GroupList(ctx, pool, jobs.GroupFilter{All: true, BeforeLastSeen: groupSeen, BeforeID: groupID})
			return err
		}},
		{"flat_active", func() error { _, _, err := jobs.InboxList(ctx, pool, jobs.InboxFilter{}); return err }},
		{"flat_all", func() error {
			_, _, err := jobs.InboxList(ctx, pool, jobs.InboxFilter{Status: jobs.InboxAll})
			return err
		}},
		{"flat_env_delivery", func() error {
			_, _, err := jobs.InboxList(ctx, pool, jobs.InboxFilter{EnvironmentID: envID, Kind: jobs.ExceptionDelivery})
			return err
		}},
		{"flat_flow", func() error { _, _, err := jobs.InboxList(ctx, pool, jobs.InboxFilter{FlowID: flowID}); return err }},
		{"flat_keyset_page", func() error {
			_, _, err := jobs.InboxList(ctx, pool, jobs.InboxFilter{Status: jobs.InboxAll, BeforeID: midID})
			return err
		}},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := k.run(); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
			b.ReportMetric(ms(took[min(len(took)-1, len(took)*95/100)]), "p95-ms")
		})
	}
}
