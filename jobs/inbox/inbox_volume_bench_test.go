package inbox_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
)

// BenchmarkInboxVolume measures the inbox's grouped view and flat list, page
// by page, with each filter and each kind of text search, on a database
// filled by `crossdock seed-volume` (CROSSDOCK_BENCH_DATABASE_URL; skipped
// without it). It reports the median and 95th percentile of one page (50
// rows) as inbox.GroupList and inbox.List serve it — query, transfer and
// decoding, on the same machine as PostgreSQL; the handler adds rendering.
// Searches draw a different sampled value on each iteration, so they do not
// all hit the same cached pages. With CROSSDOCK_BENCH_EXPLAIN=1 it logs
// EXPLAIN (ANALYZE, BUFFERS) of each kind once (run with -v). Figures in
// docs/benchmarks.md.
func BenchmarkInboxVolume(b *testing.B) {
	pool := jobstest.VolumePool(b)
	ctx := context.Background()
	var envID, flowID, deepID, assignee int64
	var fingerprint string
	// The prod environment's biggest flow, an id half-way down the table
	// (a deep keyset page), the biggest group's fingerprint.
	if err := pool.QueryRow(ctx, `select environment_id, flow_id, fingerprint from exceptions order by id desc limit 1`).Scan(&envID, &flowID, &fingerprint); err != nil {
		b.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `select environment_id, fingerprint from exception_groups order by open_count desc limit 1`).Scan(&envID, &fingerprint); err != nil {
		b.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `select id from exceptions order by id desc offset (select count(*) / 2 from exceptions) limit 1`).Scan(&deepID); err != nil {
		b.Fatal(err)
	}
	_ = pool.QueryRow(ctx, `select coalesce(max(assigned_to), 0) from exceptions where status = 'assigned'`).Scan(&assignee)
	var groupSeen time.Time
	var groupID int64
	if err := pool.QueryRow(ctx, `select last_seen, id from exception_groups order by last_seen desc, id desc offset 50 limit 1`).Scan(&groupSeen, &groupID); err != nil {
		b.Fatal(err)
	}
	// Correlation ids (order names such as #1001) and idempotency keys of
	// exceptions' messages, sampled across the table.
	rows, err := pool.Query(ctx, `select m.correlation_id, m.idempotency_key from exceptions e tablesample system (1)
		join messages m on m.id = e.message_id limit 1000`)
	if err != nil {
		b.Fatal(err)
	}
	type sample struct{ corr, key string }
	samples, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sample, error) {
		var s sample
		return s, r.Scan(&s.corr, &s.key)
	})
	if err != nil || len(samples) == 0 {
		b.Fatal("no sampled exceptions", err)
	}
	var orders []string
	for _, s := range samples {
		if strings.HasPrefix(s.corr, "#") {
			orders = append(orders, s.corr)
		}
	}
	if len(orders) == 0 {
		b.Fatal("no sampled order names")
	}
	i := 0
	next := func(list []string) string { i++; return list[i%len(list)] }
	corrs, keys := make([]string, len(samples)), make([]string, len(samples))
	for j, s := range samples {
		corrs[j], keys[j] = s.corr, s.key
	}

	type kind struct {
		name  string
		group func() inbox.GroupFilter
		flat  func() inbox.Filter
	}
	kinds := []kind{
		{name: "grouped_open", group: func() inbox.GroupFilter { return inbox.GroupFilter{} }},
		{name: "grouped_all", group: func() inbox.GroupFilter { return inbox.GroupFilter{All: true} }},
		{name: "grouped_env", group: func() inbox.GroupFilter { return inbox.GroupFilter{EnvironmentID: envID} }},
		{name: "grouped_flow", group: func() inbox.GroupFilter { return inbox.GroupFilter{FlowID: flowID} }},
		{name: "grouped_kind", group: func() inbox.GroupFilter { return inbox.GroupFilter{Kind: store.ExceptionMapping} }},
		{name: "grouped_page2", group: func() inbox.GroupFilter {
			return inbox.GroupFilter{All: true, BeforeLastSeen: groupSeen, BeforeID: groupID}
		}},
		{name: "flat_active", flat: func() inbox.Filter { return inbox.Filter{} }},
		{name: "flat_all", flat: func() inbox.Filter { return inbox.Filter{Status: inbox.All} }},
		{name: "flat_deep_keyset_page", flat: func() inbox.Filter { return inbox.Filter{Status: inbox.All, BeforeID: deepID} }},
		{name: "flat_active_deep_keyset_page", flat: func() inbox.Filter { return inbox.Filter{BeforeID: deepID} }},
		{name: "flat_env", flat: func() inbox.Filter { return inbox.Filter{EnvironmentID: envID} }},
		{name: "flat_flow", flat: func() inbox.Filter { return inbox.Filter{FlowID: flowID} }},
		{name: "flat_kind", flat: func() inbox.Filter { return inbox.Filter{Kind: store.ExceptionValidation} }},
		{name: "flat_env_kind", flat: func() inbox.Filter {
			return inbox.Filter{EnvironmentID: envID, Kind: store.ExceptionDelivery}
		}},
		{name: "flat_status_resolved", flat: func() inbox.Filter { return inbox.Filter{Status: "resolved"} }},
		{name: "flat_status_ignored_env", flat: func() inbox.Filter {
			return inbox.Filter{Status: "ignored", EnvironmentID: envID}
		}},
		{name: "flat_assignee", flat: func() inbox.Filter { return inbox.Filter{AssigneeID: assignee} }},
		{name: "flat_target", flat: func() inbox.Filter { return inbox.Filter{Target: "erp"} }},
		{name: "flat_age_7d", flat: func() inbox.Filter { return inbox.Filter{OlderThan: 7 * 24 * time.Hour} }},
		{name: "flat_group", flat: func() inbox.Filter {
			return inbox.Filter{EnvironmentID: envID, Fingerprint: fingerprint}
		}},
		{name: "text_error_common", flat: func() inbox.Filter { return inbox.Filter{Text: "answered 500"} }},
		{name: "text_error_rare", flat: func() inbox.Filter { return inbox.Filter{Text: "payload too large"} }},
		{name: "text_error_rare_all", flat: func() inbox.Filter {
			return inbox.Filter{Text: "payload too large", Status: inbox.All}
		}},
		{name: "text_absent", flat: func() inbox.Filter {
			return inbox.Filter{Text: "no such error anywhere", Status: inbox.All}
		}},
		{name: "text_order_name", flat: func() inbox.Filter { return inbox.Filter{Text: next(orders), Status: inbox.All} }},
		{name: "text_correlation_id", flat: func() inbox.Filter { return inbox.Filter{Text: next(corrs), Status: inbox.All} }},
		{name: "text_idempotency_key", flat: func() inbox.Filter { return inbox.Filter{Text: next(keys), Status: inbox.All} }},
	}
	if f := os.Getenv("CROSSDOCK_BENCH_ONLY"); f != "" {
		kinds = slices.DeleteFunc(kinds, func(k kind) bool { return !strings.Contains(k.name, f) })
	}
	run := func(k kind) error {
		if k.group != nil {
			_, _, err := inbox.GroupList(ctx, pool, k.group())
			return err
		}
		_, _, err := inbox.List(ctx, pool, k.flat())
		return err
	}
	explained := map[string]bool{}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			if os.Getenv("CROSSDOCK_BENCH_EXPLAIN") == "1" && !explained[k.name] {
				explained[k.name] = true
				var sql string
				var args []any
				var err error
				if k.group != nil {
					sql, args, _, err = inbox.GroupListQuery(k.group())
				} else {
					sql, args, _, err = inbox.ListQuery(k.flat())
				}
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
				b.Logf("%s args %v\n%s", k.name, args, strings.Join(plan, "\n"))
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := run(k); err != nil {
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
