package jobs

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Config tunes the River client. Zero values take the defaults.
type Config struct {
	// MaxWorkers is how many jobs of the default queue run at once in this
	// process. Default 20.
	MaxWorkers int
	// MaintenanceEvery is how often housekeeping runs (leader only).
	// Default 10 minutes.
	MaintenanceEvery time.Duration
}

// NewClient builds the River client with every worker and periodic job.
// The caller starts it (Start) to work jobs and stops it (Stop) at shutdown;
// a client that is never started can still insert jobs.
func NewClient(pool *pgxpool.Pool, logger *slog.Logger, cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 20
	}
	if cfg.MaintenanceEvery <= 0 {
		cfg.MaintenanceEvery = 10 * time.Minute
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &MaintenanceWorker{DB: pool}); err != nil {
		return nil, fmt.Errorf("register maintenance worker: %w", err)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:  logger,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.MaintenanceEvery),
				func() (river.JobArgs, *river.InsertOpts) { return MaintenanceArgs{}, nil },
				&river.PeriodicJobOpts{ID: "maintenance", RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}
