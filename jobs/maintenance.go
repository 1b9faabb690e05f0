package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/account"
)

// LoginAttemptRetention is how long sign-in attempts are kept: far longer
// than the throttle window, long enough to investigate a guessing campaign.
const LoginAttemptRetention = 30 * 24 * time.Hour

// MaintenanceArgs is the periodic housekeeping job.
type MaintenanceArgs struct{}

// Kind names the job in River's tables.
func (MaintenanceArgs) Kind() string { return "maintenance" }

// InsertOpts makes concurrent periodic inserts (several leaders in turn, a
// restart) collapse into one pending job.
func (MaintenanceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// MaintenanceWorker deletes expired browser sessions and old sign-in
// attempts. Both deletes are idempotent, so running twice is harmless.
type MaintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	DB account.DBTX
}

// Work runs one housekeeping pass.
func (w *MaintenanceWorker) Work(ctx context.Context, job *river.Job[MaintenanceArgs]) error {
	now := time.Now()
	if _, err := w.DB.Exec(ctx, `delete from sessions where expiry < $1`, now); err != nil {
		return fmt.Errorf("delete expired sessions: %w", err)
	}
	if _, err := w.DB.Exec(ctx, `delete from login_attempts where at < $1`, now.Add(-LoginAttemptRetention)); err != nil {
		return fmt.Errorf("prune sign-in attempts: %w", err)
	}
	return nil
}
