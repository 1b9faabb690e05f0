// Package metrics holds Crossdock's Prometheus metrics: counters and
// histograms updated in memory on the hot path (HTTP requests, accepted
// messages, delivery attempts), and gauges read from the database only when
// Prometheus scrapes (queue depth, oldest waiting job, open exceptions).
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the registry and every metric Crossdock exports. Its methods
// are safe for concurrent use and never touch the database; it implements
// jobs.Observer.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	accepted        *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	attemptLatency  *prometheus.HistogramVec
	deliveryLatency *prometheus.HistogramVec
	circuit         *prometheus.GaugeVec

	mu       sync.RWMutex
	envNames map[int64]string
}

// QueueDepth is how many jobs of one queue wait or run, and how long the
// oldest available one has waited.
type QueueDepth struct {
	Queue           string
	Available       int64
	Scheduled       int64
	Retryable       int64
	Running         int64
	OldestAvailable time.Duration
}

// QueueDepths reads every queue's depth when Prometheus scrapes. The queue
// lives above this package (jobs), so the caller that wires both supplies
// it.
type QueueDepths func(ctx context.Context) ([]QueueDepth, error)

// New registers every metric, the Go runtime and process collectors and,
// when db is not nil, the scrape-time collector of open exceptions and,
// when queues is not nil too, of queue depth.
func New(db *pgxpool.Pool, queues QueueDepths) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry(), envNames: map[int64]string{}}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossdock_http_requests_total", Help: "HTTP requests answered, by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crossdock_http_request_duration_seconds", Help: "Time to answer an HTTP request, by method and route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossdock_messages_accepted_total", Help: "Messages accepted by a trigger (new ones, not replays of a known key), by environment and flow.",
	}, []string{"environment", "flow"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossdock_delivery_attempts_total", Help: "Delivery attempts by environment, target and outcome (delivered, captured, retry, failed).",
	}, []string{"environment", "target", "outcome"})
	m.attemptLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crossdock_delivery_attempt_duration_seconds", Help: "Time a target took to answer one delivery attempt.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"environment", "target"})
	m.deliveryLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crossdock_delivery_latency_seconds", Help: "Time from a message's acceptance to its delivery to a target.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	}, []string{"environment", "target"})
	m.circuit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "crossdock_target_circuit_state", Help: "A target's circuit breaker in this process: 0 closed, 1 half-open, 2 open.",
	}, []string{"environment", "target"})
	m.registry.MustRegister(m.httpRequests, m.httpDuration, m.accepted, m.attempts, m.attemptLatency, m.deliveryLatency, m.circuit,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.registry.MustRegister(&dbCollector{db: db, queues: queues, m: m})
	}
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// HTTPRequest counts one answered request; route is the matched pattern
// (never the raw path, which would make a series per message id).
func (m *Metrics) HTTPRequest(method, route string, code int, took time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

// Accepted counts n new messages accepted for a flow.
func (m *Metrics) Accepted(env, flow string, n int) {
	m.accepted.WithLabelValues(env, flow).Add(float64(n))
}

// DeliveryAttempted implements jobs.Observer.
func (m *Metrics) DeliveryAttempted(envID int64, target, outcome string, latency, sinceAccept time.Duration) {
	env := m.envName(envID)
	m.attempts.WithLabelValues(env, target, outcome).Inc()
	if outcome != "captured" {
		m.attemptLatency.WithLabelValues(env, target).Observe(latency.Seconds())
	}
	if outcome == "delivered" || outcome == "captured" {
		m.deliveryLatency.WithLabelValues(env, target).Observe(sinceAccept.Seconds())
	}
}

// CircuitChanged implements jobs.Observer.
func (m *Metrics) CircuitChanged(envID int64, target, state string) {
	v := 0.0
	switch state {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	m.circuit.WithLabelValues(m.envName(envID), target).Set(v)
}

// envName names an environment by id from the names the last scrape read
// (environments are few and rarely renamed); before that, the id.
func (m *Metrics) envName(id int64) string {
	m.mu.RLock()
	name, ok := m.envNames[id]
	m.mu.RUnlock()
	if ok {
		return name
	}
	return strconv.FormatInt(id, 10)
}

// SetEnvironmentNames tells the metrics the environments' names by id.
func (m *Metrics) SetEnvironmentNames(names map[int64]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, n := range names {
		m.envNames[id] = n
	}
}

// LoadEnvironmentNames reads the environments' names, so that delivery
// metrics are labelled by name from the start (each scrape refreshes them).
func (m *Metrics) LoadEnvironmentNames(ctx context.Context, db *pgxpool.Pool) error {
	names, err := environmentNames(ctx, db)
	if err != nil {
		return err
	}
	m.SetEnvironmentNames(names)
	return nil
}

func environmentNames(ctx context.Context, db *pgxpool.Pool) (map[int64]string, error) {
	names := map[int64]string{}
	rows, err := db.Query(ctx, environmentNamesSelect)
	if err != nil {
		return nil, fmt.Errorf("environment names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("environment names: %w", err)
		}
		names[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("environment names: %w", err)
	}
	return names, nil
}

// dbCollector reads queue depth, the oldest waiting job and open
// exceptions when Prometheus scrapes: a few indexed aggregate queries per
// scrape, none per message.
type dbCollector struct {
	db     *pgxpool.Pool
	queues QueueDepths
	m      *Metrics
}

var (
	queueDepthDesc = prometheus.NewDesc("crossdock_queue_jobs", "River jobs by queue and state (available, scheduled, retryable, running).",
		[]string{"queue", "state"}, nil)
	oldestDesc = prometheus.NewDesc("crossdock_queue_oldest_available_seconds", "Age of the oldest job waiting to run in each queue (0 when none).",
		[]string{"queue"}, nil)
	openExceptionsDesc = prometheus.NewDesc("crossdock_exceptions_open", "Exceptions open or assigned, by environment and kind.",
		[]string{"environment", "kind"}, nil)
	scrapeErrorDesc = prometheus.NewDesc("crossdock_metrics_database_up", "1 when the last scrape could read the database, else 0.", nil, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- oldestDesc
	ch <- openExceptionsDesc
	ch <- scrapeErrorDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, 1)
}

func (c *dbCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	names, err := environmentNames(ctx, c.db)
	if err != nil {
		return err
	}
	c.m.SetEnvironmentNames(names)

	var queues []QueueDepth
	if c.queues != nil {
		if queues, err = c.queues(ctx); err != nil {
			return err
		}
	}
	for _, q := range queues {
		for state, n := range map[string]int64{"available": q.Available, "scheduled": q.Scheduled, "retryable": q.Retryable, "running": q.Running} {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), q.Queue, state)
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, q.OldestAvailable.Seconds(), q.Queue)
	}

	rows, err := c.db.Query(ctx, openExceptionsByKindSelect)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var env int64
		var kind string
		var n int64
		if err := rows.Scan(&env, &kind, &n); err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(openExceptionsDesc, prometheus.GaugeValue, float64(n), c.m.envName(env), kind)
	}
	return rows.Err()
}
