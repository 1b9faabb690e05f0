package insight_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
)

// BenchmarkExplorerSearch measures the message explorer's searches on a
// database filled by `crossdock seed-volume` (CROSSDOCK_BENCH_DATABASE_URL;
// skipped without it). Each iteration searches for a different value
// sampled from the database. It reports the median and 95th percentile of
// one search (query and transfer of a 50-row page, measured around
// insight.MessageSearch on the same machine as PostgreSQL). With
// CROSSDOCK_BENCH_EXPLAIN=1 it logs EXPLAIN (ANALYZE, BUFFERS) of one
// search of each kind (run with -v). scripts/bench-explorer.sh runs it.
func BenchmarkExplorerSearch(b *testing.B) {
	pool := jobstest.VolumePool(b)
	ctx := context.Background()

	type sample struct {
		id           uuid.UUID
		corr, key    string
		envID        int64
		flowID       int64
		receivedAt   time.Time
		orderNumber  string
		hasOrderNumb bool
	}
	rows, err := pool.Query(ctx, `select id, correlation_id, idempotency_key, environment_id, flow_id, received_at,
		coalesce(payload->>'order_number', '') from messages tablesample system (0.2) limit 5000`)
	if err != nil {
		b.Fatal(err)
	}
	samples, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sample, error) {
		var s sample
		err := r.Scan(&s.id, &s.corr, &s.key, &s.envID, &s.flowID, &s.receivedAt, &s.orderNumber)
		s.hasOrderNumb = s.orderNumber != ""
		return s, err
	})
	if err != nil || len(samples) == 0 {
		b.Fatalf("sample messages: %v (%d found)", err, len(samples))
	}
	var prodID int64
	if err := pool.QueryRow(ctx, `select id from environments order by position desc limit 1`).Scan(&prodID); err != nil {
		b.Fatal(err)
	}
	var orders []sample
	for _, s := range samples {
		if s.hasOrderNumb {
			orders = append(orders, s)
		}
	}
	if len(orders) == 0 {
		orders = samples
	}
	pick := func() sample { return samples[rand.IntN(len(samples))] }

	kinds := []struct {
		name   string
		filter func() insight.MessageFilter
	}{
		{"correlation_id", func() insight.MessageFilter { return insight.MessageFilter{CorrelationID: pick().corr} }},
		{"correlation_id_miss", func() insight.MessageFilter { return insight.MessageFilter{CorrelationID: "#" + uuid.NewString()} }},
		{"payload_order_name", func() insight.MessageFilter {
			return insight.MessageFilter{PayloadValue: orders[rand.IntN(len(orders))].corr}
		}},
		{"payload_order_number", func() insight.MessageFilter {
			return insight.MessageFilter{PayloadValue: orders[rand.IntN(len(orders))].orderNumber}
		}},
		{"words_order_name_without_hash", func() insight.MessageFilter {
			return insight.MessageFilter{PayloadValue: strings.TrimLeft(orders[rand.IntN(len(orders))].corr, "#")}
		}},
		{"words_email_fragment", func() insight.MessageFilter {
			// "customer123": the beginning of an address, found by its
			// words (customer123@…, customer1234@…: some hundreds of
			// messages at 5,000,000).
			return insight.MessageFilter{PayloadValue: fmt.Sprintf("customer%d", 100+rand.IntN(400))}
		}},
		{"words_in_every_payload", func() insight.MessageFilter {
			// Every seeded customer is called Kim: the worst case, a word
			// every message has.
			return insight.MessageFilter{PayloadValue: "kim", EnvironmentID: prodID}
		}},
		{"payload_order_name_in_env", func() insight.MessageFilter {
			s := orders[rand.IntN(len(orders))]
			return insight.MessageFilter{PayloadValue: s.corr, EnvironmentID: s.envID}
		}},
		{"idempotency_key", func() insight.MessageFilter { return insight.MessageFilter{IdempotencyKey: pick().key} }},
		{"id", func() insight.MessageFilter { return insight.MessageFilter{ID: pick().id} }},
		{"newest_all", func() insight.MessageFilter { return insight.MessageFilter{} }},
		{"newest_env", func() insight.MessageFilter { return insight.MessageFilter{EnvironmentID: prodID} }},
		{"flow_failed", func() insight.MessageFilter {
			return insight.MessageFilter{FlowID: pick().flowID, Status: store.StatusFailed}
		}},
		{"env_status_rejected", func() insight.MessageFilter {
			return insight.MessageFilter{EnvironmentID: prodID, Status: store.StatusRejected}
		}},
		{"env_day", func() insight.MessageFilter {
			s := pick()
			return insight.MessageFilter{EnvironmentID: s.envID, From: s.receivedAt.Add(-24 * time.Hour), To: s.receivedAt}
		}},
		{"keyset_page_env", func() insight.MessageFilter {
			s := pick()
			return insight.MessageFilter{EnvironmentID: s.envID, After: &insight.MessageCursor{ReceivedAt: s.receivedAt, ID: s.id}}
		}},
		{"flow_status_delivered_day", func() insight.MessageFilter {
			s := pick()
			return insight.MessageFilter{FlowID: s.flowID, Status: store.StatusDelivered, From: s.receivedAt.Add(-24 * time.Hour), To: s.receivedAt}
		}},
	}
	explained := map[string]bool{}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			if os.Getenv("CROSSDOCK_BENCH_EXPLAIN") == "1" && !explained[k.name] {
				explained[k.name] = true
				sql, args, _, err := insight.MessageSearchQuery(k.filter())
				if err != nil {
					b.Fatal(err)
				}
				rows, err := pool.Query(ctx, "explain (analyze, buffers) "+sql, append([]any{pgx.QueryExecModeDescribeExec}, args...)...)
				if err != nil {
					b.Fatal(err)
				}
				plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("%s\n%s\n%s", k.name, sql, strings.Join(plan, "\n"))
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				f := k.filter()
				start := time.Now()
				if _, err := insight.MessageSearch(ctx, pool, f); err != nil {
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
