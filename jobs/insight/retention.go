package insight

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/txn"
)

// DefaultRetentionBatch is how many messages one retention statement
// deletes: small enough that each delete is a short transaction holding few
// row locks, so intake and delivery never wait on it.
const DefaultRetentionBatch = 500

// RetentionArgs is the periodic job that prunes old pipeline rows.
type RetentionArgs struct{}

// Kind names the job in River's tables.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts collapses concurrent periodic inserts into one pending job.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// RetentionWorker applies each environment's retention_days:
//   - delivered messages received more than N days ago are deleted with
//     their deliveries, attempts, lineage and captures — unless one of their
//     exceptions is still open or assigned, or was closed within N days;
//   - resolved and ignored exceptions closed more than N days ago are
//     deleted;
//   - messages that are not delivered (failed, rejected, under way) stay,
//     and the dashboard's rollups are never touched.
//
// Deletes run in batches of Batch rows, each its own statement, skipping
// rows another transaction holds, with Pause between batches.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	DB txn.DBTX
	// Batch is the rows per delete; default DefaultRetentionBatch.
	Batch int
	// Pause is the wait between two batches; default 20 ms.
	Pause time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Timeout lets a large first pass run long; it resumes where it stopped
// next time anyway.
func (w *RetentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return 30 * time.Minute }

// Work runs one retention pass.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	_, err := Prune(ctx, w.DB, now, w.Batch, w.Pause)
	return err
}

// PruneResult counts what one retention pass deleted.
type PruneResult struct {
	Messages   int64
	Exceptions int64
}

// Prune deletes, per environment, what its retention has expired as of
// now (see RetentionWorker).
func Prune(ctx context.Context, db txn.DBTX, now time.Time, batch int, pause time.Duration) (PruneResult, error) {
	if batch <= 0 {
		batch = DefaultRetentionBatch
	}
	if pause <= 0 {
		pause = 20 * time.Millisecond
	}
	type env struct {
		id   int64
		days int
	}
	rows, err := db.Query(ctx, retentionListSelect)
	if err != nil {
		return PruneResult{}, fmt.Errorf("retention: environments: %w", err)
	}
	var envs []env
	for rows.Next() {
		var e env
		if err := rows.Scan(&e.id, &e.days); err != nil {
			rows.Close()
			return PruneResult{}, fmt.Errorf("retention: environments: %w", err)
		}
		envs = append(envs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return PruneResult{}, fmt.Errorf("retention: environments: %w", err)
	}
	var res PruneResult
	for _, e := range envs {
		cutoff := now.Add(-time.Duration(e.days) * 24 * time.Hour)
		n, err := pruneBatches(ctx, db, pruneMessagesSQL, e.id, cutoff, batch, pause)
		res.Messages += n
		if err != nil {
			return res, fmt.Errorf("retention: messages of environment %d: %w", e.id, err)
		}
		n, err = pruneBatches(ctx, db, pruneExceptionsSQL, e.id, cutoff, batch, pause)
		res.Exceptions += n
		if err != nil {
			return res, fmt.Errorf("retention: exceptions of environment %d: %w", e.id, err)
		}
	}
	return res, nil
}

func pruneBatches(ctx context.Context, db txn.DBTX, sql string, envID int64, cutoff time.Time, batch int, pause time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := db.Exec(ctx, sql, envID, cutoff, batch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(pause):
		}
	}
}
