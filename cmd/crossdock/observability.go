package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"riverqueue.com/riverui"

	"github.com/crossdock/crossdock/internal/metrics"
	"github.com/crossdock/crossdock/jobs/queue"
)

// riverUIPrefix is where River's UI is mounted (admins only, web/routes.go).
const riverUIPrefix = "/admin/river"

// observability builds the Prometheus metrics of this process.
func observability(ctx context.Context, pool *pgxpool.Pool) (*metrics.Metrics, error) {
	m := metrics.New(pool, queueDepths(pool))
	if err := m.LoadEnvironmentNames(ctx, pool); err != nil {
		return nil, err
	}
	return m, nil
}

// queueDepths gives the metrics River's queue depths as jobs reads them.
func queueDepths(pool *pgxpool.Pool) metrics.QueueDepths {
	return func(ctx context.Context) ([]metrics.QueueDepth, error) {
		qs, err := queue.Depths(ctx, pool)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.QueueDepth, len(qs))
		for i, q := range qs {
			out[i] = metrics.QueueDepth(q)
		}
		return out, nil
	}
}

// serveMetrics serves /metrics (and Go's /debug/pprof/) on addr, apart from the UI, so it can
// be reached by Prometheus on a private interface. Empty addr: nothing.
// The returned stop shuts the listener down.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("CROSSDOCK_METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	// Go's profiler on the same private listener: CPU and heap profiles of
	// the real server under load are how docs/benchmarks.md finds where the
	// time goes. Never on the UI's address.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// riverUIHandler builds River's UI for /admin/river and starts its
// background caches on ctx.
func riverUIHandler(ctx context.Context, client *river.Client[pgx.Tx], log *slog.Logger) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    log,
		Prefix:    riverUIPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	return h, nil
}

// tracing sends OpenTelemetry traces over OTLP/HTTP to endpoint, the full
// traces URL (http://collector:4318/v1/traces). Empty endpoint: no tracing,
// a nil tracer. shutdown flushes the spans still buffered.
func tracing(ctx context.Context, endpoint string) (tracer trace.Tracer, shutdown func(), err error) {
	if endpoint == "" {
		return nil, func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("CROSSDOCK_OTLP_ENDPOINT: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "crossdock"),
			attribute.String("service.version", buildVersion()))))
	return tp.Tracer("github.com/crossdock/crossdock"), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}, nil
}
