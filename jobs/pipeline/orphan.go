package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/store"
)

// OrphanGrace is how long a message or delivery may wait without a live
// job before the orphan check files an exception: longer than any insert
// transaction, short enough that support hears of it the same hour.
const OrphanGrace = 5 * time.Minute

// OrphanCheckArgs is the periodic job that turns work River gave up on into
// exceptions. River's discarded jobs are not a dead-letter queue (they are
// deleted after a week, and the rescuer can discard a stuck job without
// calling any error handler), so the pipeline looks for its own rows whose
// job is gone instead of relying on River to tell it.
type OrphanCheckArgs struct{}

// Kind names the job in River's tables.
func (OrphanCheckArgs) Kind() string { return "orphan_check" }

// InsertOpts collapses the inserts of several leaders into one job.
func (OrphanCheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// OrphanCheckWorker files an exception for every message still waiting to
// be processed and every delivery still waiting to be sent whose job no
// longer exists in a runnable state, and marks them failed so their status
// says so. Running it twice files nothing twice: marked rows no longer
// match. It also wakes the sequence lanes whose held deliveries have
// waited longer than OrphanGrace (wakeStaleLanes).
type OrphanCheckWorker struct {
	river.WorkerDefaults[OrphanCheckArgs]
	DB store.DB
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Work runs one check.
func (w *OrphanCheckWorker) Work(ctx context.Context, job *river.Job[OrphanCheckArgs]) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	before := now().Add(-OrphanGrace)
	// The live jobs' ids are read once, for a hashed "not in", rather than
	// looked up per waiting row: River's jobs have no index on their
	// arguments (migration 015), and a backlog of thousands of retrying
	// deliveries would otherwise scan the live jobs once per delivery.
	err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, orphanedMessagesLock, before)
		if err != nil {
			return fmt.Errorf("orphaned messages: %w", err)
		}
		msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Exception, error) {
			var e store.Exception
			err := r.Scan(&e.MessageID, &e.EnvironmentID, &e.FlowID)
			return e, err
		})
		if err != nil {
			return fmt.Errorf("orphaned messages: %w", err)
		}
		failed := make([]uuid.UUID, len(msgs))
		for i, e := range msgs {
			failed[i] = e.MessageID
		}
		if err := store.RecordStoredPayloadValues(ctx, tx, failed); err != nil { // they leave received
			return err
		}
		for _, e := range msgs {
			e.Kind, e.Stage, e.ErrorClass = store.ExceptionMapping, "process", "job discarded"
			e.Message = "processing this message was given up (its job failed too often or was discarded); check the flow's version and replay it"
			if err := store.AddLineage(ctx, tx, e.MessageID, store.Lineage{Stage: store.StageFailed, Detail: map[string]any{"error": e.Message}}); err != nil {
				return err
			}
			if err := store.RaiseException(ctx, tx, e); err != nil {
				return err
			}
			if err := store.SetMessageStatus(ctx, tx, e.MessageID, store.StatusFailed); err != nil {
				return err
			}
		}

		rows, err = tx.Query(ctx, orphanedDeliveriesLock, before)
		if err != nil {
			return fmt.Errorf("orphaned deliveries: %w", err)
		}
		type orphan struct {
			e      store.Exception
			target string
		}
		dels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orphan, error) {
			var o orphan
			var id uuid.UUID
			err := r.Scan(&id, &o.e.MessageID, &o.e.EnvironmentID, &o.e.FlowID, &o.target)
			o.e.DeliveryID = &id
			return o, err
		})
		if err != nil {
			return fmt.Errorf("orphaned deliveries: %w", err)
		}
		for _, o := range dels {
			e := o.e
			e.Kind, e.Stage, e.ErrorClass = store.ExceptionDelivery, "deliver", "job discarded"
			e.Message = fmt.Sprintf("delivery to target “%s” was given up by the queue (its job failed too often or was discarded); retry it", o.target)
			if _, err := tx.Exec(ctx, deliveryFail, *e.DeliveryID, e.Message); err != nil {
				return fmt.Errorf("delivery %s: %w", *e.DeliveryID, err)
			}
			if err := store.AddLineage(ctx, tx, e.MessageID, store.Lineage{DeliveryID: e.DeliveryID, Stage: store.StageFailed, Detail: map[string]any{"error": e.Message}}); err != nil {
				return err
			}
			if err := store.RaiseException(ctx, tx, e); err != nil {
				return err
			}
			if err := store.RecomputeMessageStatus(ctx, tx, e.MessageID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// In a transaction of its own: a lane's lock is taken before any
	// message row of the lane, and the check above has locked some.
	return txn.Run(ctx, w.DB, func(tx pgx.Tx) error { return wakeStaleLanes(ctx, tx, before) })
}

// wakeStaleLanes wakes the lanes whose held deliveries have waited since
// before: a safety net, since every change that can release a delivery
// wakes its lane in the same transaction. A lane held behind an open
// exception stays held.
func wakeStaleLanes(ctx context.Context, tx pgx.Tx, before time.Time) error {
	rows, err := tx.Query(ctx, staleLanesSelect, before)
	if err != nil {
		return fmt.Errorf("lanes held long: %w", err)
	}
	lanes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lane, error) {
		var l Lane
		return l, r.Scan(&l.EnvID, &l.FlowID, &l.Key)
	})
	if err != nil {
		return fmt.Errorf("lanes held long: %w", err)
	}
	released, err := wakeLanes(ctx, tx, lanes)
	if err != nil {
		return err
	}
	return insertJobs(ctx, tx, deliverJobs(released), true)
}
