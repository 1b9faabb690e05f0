package jobs

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/queue"
	"github.com/crossdock/crossdock/jobs/transport"
)

// Config tunes the River client. Zero values take the defaults.
//
// River's defaults (100 workers, 100 ms fetch cool-down) cap a queue near
// 1,000 jobs/s; the defaults here are sized for the pipeline's targets of
// thousands of messages a second per process. Raise DeliverWorkers when
// targets are slow (each in-flight request holds a worker); lower the
// workers when the database connection pool is small.
type Config struct {
	// MaxWorkers is how many housekeeping jobs run at once. Default 20.
	MaxWorkers int
	// MaintenanceEvery is how often housekeeping runs (leader only).
	// Default 10 minutes.
	MaintenanceEvery time.Duration
	// ProcessWorkers is how many messages this process maps at once.
	// Default 8 per CPU, at least 16. Processing is nothing but database
	// work and a little CPU, so more workers than the pool has connections
	// only queue for connections ahead of intake: with 200, the trigger's
	// accepts waited behind them (make bench-load: 141 → 368 accepts/s,
	// p99 980 → 664 ms, the same delivered throughput). Under overload the
	// backlog grows in the database instead, where it is durable.
	ProcessWorkers int
	// DeliverWorkers is how many deliveries this process sends at once.
	// Default 500.
	DeliverWorkers int
	// FetchCooldown is the shortest pause between two fetches of a queue.
	// Default 5 ms (River: 100 ms).
	FetchCooldown time.Duration
	// FetchPollInterval is how often queues are polled when no insert
	// notification arrives. Default 100 ms: River sends at most one insert
	// notification per queue per FetchCooldown, so under steady load a job
	// whose notification was suppressed waits at most this long.
	FetchPollInterval time.Duration
	// Sealer opens target secrets; nil means targets with a stored secret
	// fail with a configuration exception.
	Sealer *secret.Sealer
	// RescueAfter is how long a job may run before River considers its
	// process dead and runs it again (River's default: one hour). Default
	// 3 minutes. Deliver jobs time out at the lesser of this and 2 minutes,
	// since River waits for a job's timeout before rescuing it; a process
	// killed mid-work has its messages moving again about that much later
	// (plus River's rescuer interval of 30 s).
	RescueAfter time.Duration
	// KeyClaimTTL is how long idempotency keys stay claimed. Default
	// DefaultKeyClaimTTL (72 hours).
	KeyClaimTTL time.Duration
	// HTTPClient sends http deliveries; nil means a pooled client
	// suitable for many concurrent requests to few hosts.
	HTTPClient *http.Client
	// Transports deliver, one per target kind; nil means
	// Transports(pool, HTTPClient). Pass the same registry to the web
	// server, so the designer and the gates know the same kinds.
	Transports *transport.Registry

	// Observability (package insight, pipeline.Observer).
	// Observer is told about delivery attempts; nil means nobody.
	Observer pipeline.Observer
	// RollupEvery is how often the dashboard's rollups are written.
	// Default 1 minute.
	RollupEvery time.Duration
	// RollupLookback is how far back each rollup recounts. Default
	// DefaultRollupLookback.
	RollupLookback time.Duration
	// RetentionEvery is how often expired messages are pruned. Default
	// 1 hour.
	RetentionEvery time.Duration
	// Tracer, when set, wraps every job in an OpenTelemetry span
	// (tracing.go); nil means no tracing.
	Tracer trace.Tracer
	// NotifyEvery is how often exception groups are checked for
	// notifications (leader only). Default 30 s.
	NotifyEvery time.Duration
	// BaseURL is where users reach Crossdock, for links in notifications.
	BaseURL string
}

// NewClient builds the River client with every worker and periodic job.
// The caller starts it (Start) to work jobs and stops it (Stop) at shutdown;
// a client that is never started can still insert jobs. Stop lets running
// deliveries finish; StopAndCancel makes them snooze back to the queue
// without counting an attempt.
func NewClient(pool *pgxpool.Pool, logger *slog.Logger, cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 20
	}
	if cfg.MaintenanceEvery <= 0 {
		cfg.MaintenanceEvery = 10 * time.Minute
	}
	if cfg.ProcessWorkers <= 0 {
		cfg.ProcessWorkers = max(16, 8*runtime.GOMAXPROCS(0))
	}
	if cfg.DeliverWorkers <= 0 {
		cfg.DeliverWorkers = 500
	}
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = 5 * time.Millisecond
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = 3 * time.Minute
	}
	if cfg.FetchPollInterval <= 0 {
		cfg.FetchPollInterval = 100 * time.Millisecond
	}
	if cfg.RollupEvery <= 0 {
		cfg.RollupEvery = time.Minute
	}
	if cfg.RetentionEvery <= 0 {
		cfg.RetentionEvery = time.Hour
	}
	deliver := pipeline.NewDeliverWorker(pool, cfg.Sealer, cfg.HTTPClient, logger)
	deliver.Observer = cfg.Observer
	if cfg.Transports != nil {
		deliver.Transports = cfg.Transports
	}
	deliver.JobTimeout = cfg.RescueAfter
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &MaintenanceWorker{DB: pool, KeyClaimTTL: cfg.KeyClaimTTL}); err != nil {
		return nil, fmt.Errorf("register maintenance worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &pipeline.ProcessWorker{DB: pool, Logger: logger, Deliver: deliver}); err != nil {
		return nil, fmt.Errorf("register process worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &pipeline.OrphanCheckWorker{DB: pool}); err != nil {
		return nil, fmt.Errorf("register orphan check worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &inbox.BulkWorker{DB: pool}); err != nil {
		return nil, fmt.Errorf("register bulk action worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, deliver); err != nil {
		return nil, fmt.Errorf("register deliver worker: %w", err)
	}
	if cfg.NotifyEvery <= 0 {
		cfg.NotifyEvery = 30 * time.Second
	}
	if err := river.AddWorkerSafely(workers, &insight.NotifySweepWorker{DB: pool}); err != nil {
		return nil, fmt.Errorf("register notify sweep worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &insight.NotifyWorker{DB: pool, Sealer: cfg.Sealer, BaseURL: cfg.BaseURL, Logger: logger}); err != nil {
		return nil, fmt.Errorf("register notify worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &pipeline.SequenceWakeWorker{DB: pool}); err != nil {
		return nil, fmt.Errorf("register sequence wake worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &pipeline.DeliverGroupWorker{Deliver: deliver}); err != nil {
		return nil, fmt.Errorf("register deliver group worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &insight.RollupWorker{DB: pool, Lookback: cfg.RollupLookback}); err != nil {
		return nil, fmt.Errorf("register rollup worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &insight.RetentionWorker{DB: pool}); err != nil {
		return nil, fmt.Errorf("register retention worker: %w", err)
	}
	var middleware []rivertype.Middleware
	if cfg.Tracer != nil {
		middleware = append(middleware, &tracingMiddleware{tracer: cfg.Tracer})
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Middleware:           middleware,
		Logger:               logger,
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// River refuses a rescue time below the default job timeout; the
		// deliver workers set their own, longer, timeouts.
		JobTimeout: min(time.Minute, cfg.RescueAfter),
		// Migration 015 drops River's index of job arguments; the
		// reindexer is not to look for it.
		ReindexerIndexNames: slices.DeleteFunc(river.ReindexerIndexNamesDefault(), func(n string) bool { return n == "river_job_args_index" }),
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.MaxWorkers},
			queue.Process:      {MaxWorkers: cfg.ProcessWorkers},
			queue.Deliver:      {MaxWorkers: cfg.DeliverWorkers},
		},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.MaintenanceEvery),
				func() (river.JobArgs, *river.InsertOpts) { return MaintenanceArgs{}, nil },
				&river.PeriodicJobOpts{ID: "maintenance", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return pipeline.OrphanCheckArgs{}, nil },
				&river.PeriodicJobOpts{ID: "orphan_check"}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.RollupEvery),
				func() (river.JobArgs, *river.InsertOpts) { return insight.RollupArgs{}, nil },
				&river.PeriodicJobOpts{ID: "rollup", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.RetentionEvery),
				func() (river.JobArgs, *river.InsertOpts) { return insight.RetentionArgs{}, nil },
				&river.PeriodicJobOpts{ID: "retention", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.NotifyEvery),
				func() (river.JobArgs, *river.InsertOpts) { return insight.NotifySweepArgs{}, nil },
				&river.PeriodicJobOpts{ID: "notify_sweep"}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}
