package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
)

// TestServeSendsTracesOverOTLP serves with CROSSDOCK_OTLP_ENDPOINT pointing
// at a fake collector: a request and the periodic jobs make spans, and
// shutdown flushes them to the collector.
func TestServeSendsTracesOverOTLP(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	var bodies atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			b, _ := io.ReadAll(r.Body)
			bodies.Add(int64(len(b)))
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_ADDR": "127.0.0.1:0",
		"CROSSDOCK_OTLP_ENDPOINT": collector.URL + "/v1/traces"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"crossdock", "serve"}, env(kv), strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	addr := regexp.MustCompile(`msg=listening addr=(\S+)`)
	var m []string
	for m == nil {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		m = addr.FindStringSubmatch(stderr.String())
	}
	res, err := http.Get("http://" + m[1] + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	cancel()
	require.NoError(t, <-done)
	require.Positive(t, posts.Load(), "no spans reached the collector")
	require.Positive(t, bodies.Load())
}

func TestBadOTLPEndpointIsRefused(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_OTLP_ENDPOINT": "collector:4318"}
	_, _, err := runCmd(t, env(kv), "", "serve")
	require.ErrorContains(t, err, "CROSSDOCK_OTLP_ENDPOINT")
	kv = map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_METRICS_TOKEN": "short"}
	_, _, err = runCmd(t, env(kv), "", "serve")
	require.ErrorContains(t, err, "CROSSDOCK_METRICS_TOKEN must be at least 16")
	kv = map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_ROLLUP_EVERY": "10ms"}
	_, _, err = runCmd(t, env(kv), "", "serve")
	require.ErrorContains(t, err, "CROSSDOCK_ROLLUP_EVERY")
}

// TestMetricsReportTheQueuesDepths scrapes the metrics serve builds: the
// queue depths come from queue.Depths through queueDepths.
func TestMetricsReportTheQueuesDepths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	m, err := observability(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `insert into river_job (args, kind, max_attempts, queue, state, scheduled_at)
		values ('{}', 'deliver', 5, 'deliver', 'available', now() - interval '1 minute')`)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	for _, line := range []string{
		`crossdock_queue_jobs{queue="process",state="available"} 0`,
		`crossdock_queue_jobs{queue="deliver",state="available"} 1`,
		`crossdock_metrics_database_up 1`,
	} {
		require.Contains(t, out, line)
	}
	require.Regexp(t, `crossdock_queue_oldest_available_seconds\{queue="deliver"\} (5\d|6\d)\.`, out)
}
