package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/txn"
)

// LoginAttemptRetention is how long sign-in attempts are kept: far longer
// than the throttle window, long enough to investigate a guessing campaign.
const LoginAttemptRetention = 30 * 24 * time.Hour

// DefaultKeyClaimTTL is how long an idempotency key stays claimed: the
// IETF Idempotency-Key draft asks for at least 24 hours; 72 covers a
// weekend of a source system retrying.
const DefaultKeyClaimTTL = 72 * time.Hour

// keyReleaseBatch is how many claims one statement releases, so a backlog
// (after downtime) never holds many row locks or one long transaction.
const keyReleaseBatch = 5000

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
// attempts and releases idempotency keys claimed longer than KeyClaimTTL
// (zero: DefaultKeyClaimTTL), after which the same key makes a new
// message. Every step is idempotent, so running twice is harmless.
type MaintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	DB          txn.DBTX
	KeyClaimTTL time.Duration
}

// Work runs one housekeeping pass.
func (w *MaintenanceWorker) Work(ctx context.Context, job *river.Job[MaintenanceArgs]) error {
	now := time.Now()
	if _, err := w.DB.Exec(ctx, sessionsExpiredDelete, now); err != nil {
		return fmt.Errorf("delete expired sessions: %w", err)
	}
	if _, err := w.DB.Exec(ctx, loginAttemptsOldDelete, now.Add(-LoginAttemptRetention)); err != nil {
		return fmt.Errorf("prune sign-in attempts: %w", err)
	}
	ttl := w.KeyClaimTTL
	if ttl <= 0 {
		ttl = DefaultKeyClaimTTL
	}
	if _, err := ReleaseKeyClaims(ctx, w.DB, now.Add(-ttl)); err != nil {
		return err
	}
	return nil
}

// ReleaseKeyClaims releases the idempotency keys of messages received
// before cutoff, in batches, and returns how many it released. The key
// stays on the message (idempotency_key) for search; only the claim the
// unique index enforces (key_claim) is cleared.
func ReleaseKeyClaims(ctx context.Context, db txn.DBTX, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.Exec(ctx, keyClaimsRelease,
			cutoff, keyReleaseBatch)
		if err != nil {
			return total, fmt.Errorf("release idempotency keys: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < keyReleaseBatch {
			return total, nil
		}
	}
}
