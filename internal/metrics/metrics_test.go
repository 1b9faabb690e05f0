package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape answered %d", rec.Code)
	}
	return rec.Body.String()
}

func requireLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("metrics lack %q", l)
		}
	}
}

func TestDeliveriesAndCircuitsAreCountedByEnvironmentName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	m := metrics.New(pool, func(context.Context) ([]metrics.QueueDepth, error) {
		return []metrics.QueueDepth{{Queue: "deliver", Available: 4, Running: 2, OldestAvailable: 1500 * time.Millisecond}, {Queue: "process"}}, nil
	})
	// Before the names are known, the id stands in.
	m.DeliveryAttempted(9, "erp", "retry", 30*time.Millisecond, time.Second)
	if err := m.LoadEnvironmentNames(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var dev int64
	if err := pool.QueryRow(ctx, `select id from environments where name = 'dev'`).Scan(&dev); err != nil {
		t.Fatal(err)
	}
	m.DeliveryAttempted(dev, "erp", "delivered", 40*time.Millisecond, 2*time.Second)
	m.DeliveryAttempted(dev, "audit", "captured", 0, time.Second)
	m.CircuitChanged(dev, "erp", "open")
	m.CircuitChanged(dev, "crm", "half-open")
	m.Accepted("dev", "orders", 3)
	m.HTTPRequest("GET", "/dashboard", 200, time.Millisecond)
	out := scrape(t, m)
	requireLines(t, out,
		`crossdock_delivery_attempts_total{environment="9",outcome="retry",target="erp"} 1`,
		`crossdock_delivery_attempts_total{environment="dev",outcome="delivered",target="erp"} 1`,
		`crossdock_delivery_attempts_total{environment="dev",outcome="captured",target="audit"} 1`,
		`crossdock_delivery_latency_seconds_count{environment="dev",target="erp"} 1`,
		`crossdock_delivery_attempt_duration_seconds_count{environment="dev",target="erp"} 1`,
		`crossdock_target_circuit_state{environment="dev",target="erp"} 2`,
		`crossdock_target_circuit_state{environment="dev",target="crm"} 1`,
		`crossdock_messages_accepted_total{environment="dev",flow="orders"} 3`,
		`crossdock_http_requests_total{code="200",method="GET",route="/dashboard"} 1`,
		`crossdock_queue_jobs{queue="process",state="available"} 0`,
		`crossdock_queue_jobs{queue="deliver",state="available"} 4`,
		`crossdock_queue_jobs{queue="deliver",state="running"} 2`,
		`crossdock_queue_oldest_available_seconds{queue="deliver"} 1.5`,
		`crossdock_metrics_database_up 1`)
	if strings.Contains(out, `crossdock_delivery_attempt_duration_seconds_count{environment="dev",target="audit"}`) {
		t.Error("a capture is not a target's answer and has no attempt latency")
	}
}

func TestScrapeWithTheDatabaseDownSaysSo(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	m := metrics.New(pool, nil)
	pool.Close()
	out := scrape(t, m)
	requireLines(t, out, `crossdock_metrics_database_up 0`, "go_goroutines")
	if err := m.LoadEnvironmentNames(context.Background(), pool); err == nil {
		t.Error("loading names from a closed pool must fail")
	}
}

func TestScrapeWithTheQueuesUnreadableSaysSo(t *testing.T) {
	t.Parallel()
	m := metrics.New(dbtest.NewPool(t), func(context.Context) ([]metrics.QueueDepth, error) {
		return nil, errors.New("queue table unreadable")
	})
	out := scrape(t, m)
	requireLines(t, out, `crossdock_metrics_database_up 0`)
	if strings.Contains(out, "crossdock_queue_jobs{") {
		t.Error("no queue depth can be reported when the queues cannot be read")
	}
}
