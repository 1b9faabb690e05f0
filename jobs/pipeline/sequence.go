package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/queue"
	"github.com/crossdock/crossdock/jobs/store"
)

// Sequencing per business key (keys.sequence) lives in PostgreSQL, not in
// a worker's memory, so it holds across restarts and processes.
//
// A lane is a flow's sequence key in an environment. A delivery of a
// message with a sequence key is written held; it is released (pending,
// with a deliver job) only when no earlier message of its lane blocks its
// target: one not processed yet, one with a delivery to the target that
// has not ended (pending, held, retrying), or one with an open exception
// (of processing, or of its delivery to the target). Whoever ends a
// blocking state — an attempt delivered, a message processed, a person
// closing an exception, a retry — wakes the lane in the same transaction
// (wakeLanes): the earliest held delivery of each target is released if
// nothing blocks it any more, and its job is inserted beside it, so the
// next message starts as soon as the previous one's transaction commits,
// without polling. Both sides take the lane's advisory lock first
// (lockLanes), so a delivery that found its lane blocked cannot miss the
// wake-up of the transaction that unblocked it. Messages without a key
// never come here.

// Lane is one sequence key of a flow in an environment.
type Lane struct {
	EnvID  int64  `json:"env"`
	FlowID int64  `json:"flow"`
	Key    string `json:"key"`
}

// laneOf is the lane of message m; ok is false for an unordered message.
func laneOf(m store.Message) (Lane, bool) {
	return Lane{EnvID: m.EnvironmentID, FlowID: m.FlowID, Key: m.SequenceKey}, m.SequenceKey != ""
}

// uniqueLanes returns lanes sorted and without repeats.
func uniqueLanes(lanes []Lane) []Lane {
	slices.SortFunc(lanes, func(a, b Lane) int {
		return cmp.Or(cmp.Compare(a.EnvID, b.EnvID), cmp.Compare(a.FlowID, b.FlowID), cmp.Compare(a.Key, b.Key))
	})
	return slices.Compact(lanes)
}

func laneColumns(lanes []Lane) (envs, flows []int64, keys []string) {
	for _, l := range lanes {
		envs, flows, keys = append(envs, l.EnvID), append(flows, l.FlowID), append(keys, l.Key)
	}
	return envs, flows, keys
}

// lockLanes takes the lanes' locks until tx ends, in one fixed order so
// that two transactions locking several lanes cannot deadlock. Call it
// before the transaction locks any row that a holder of the lanes may
// want: the earlier messages of the lanes and their deliveries and
// exceptions. (Processing locks them only to wake them, after writing its
// own new messages' deliveries, which nobody else can see yet.)
func lockLanes(ctx context.Context, tx pgx.Tx, lanes []Lane) error {
	if len(lanes) == 0 {
		return nil
	}
	envs, flows, keys := laneColumns(uniqueLanes(lanes))
	if _, err := tx.Exec(ctx, lanesLock, envs, flows, keys); err != nil {
		return fmt.Errorf("lock sequence lanes: %w", err)
	}
	return nil
}

// wakeLanes releases, in tx and under the lanes' locks (lockLanes), the
// held deliveries nothing blocks any more: per lane and target those of
// the earliest message waiting or, in latest mode, those of the newest of
// the messages waiting together, superseding the others (heldRelease). It
// writes their lineage and their messages' statuses and returns the ids
// of those released; the caller inserts their jobs (deliverJobs) in the
// same transaction.
func wakeLanes(ctx context.Context, tx pgx.Tx, lanes []Lane) ([]uuid.UUID, error) {
	if len(lanes) == 0 {
		return nil, nil
	}
	lanes = uniqueLanes(lanes)
	if err := lockLanes(ctx, tx, lanes); err != nil {
		return nil, err
	}
	envs, flows, keys := laneColumns(lanes)
	rows, err := tx.Query(ctx, heldRelease, envs, flows, keys)
	if err != nil {
		return nil, fmt.Errorf("release held deliveries: %w", err)
	}
	type released struct {
		delivery, message uuid.UUID
		superseded        bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (released, error) {
		var x released
		return x, r.Scan(&x.delivery, &x.message, &x.superseded)
	})
	if err != nil {
		return nil, fmt.Errorf("release held deliveries: %w", err)
	}
	if len(got) == 0 {
		return nil, nil
	}
	var ids, messages []uuid.UUID
	for _, x := range got {
		if !x.superseded {
			ids = append(ids, x.delivery)
		}
		messages = append(messages, x.message)
	}
	slices.SortFunc(messages, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if err := store.RecomputeMessageStatus(ctx, tx, slices.Compact(messages)...); err != nil {
		return nil, err
	}
	return ids, nil
}

// deliverJobs are the jobs that make the first attempts of deliveries
// released from held: DeliverGroupArgs jobs, which hand anything but a
// first attempt to a DeliverArgs job of its own.
func deliverJobs(ids []uuid.UUID) []river.InsertManyParams {
	var jobs []river.InsertManyParams
	for chunk := range slices.Chunk(ids, intake.ProcessGroupSize) {
		jobs = append(jobs, river.InsertManyParams{Args: DeliverGroupArgs{DeliveryIDs: chunk}})
	}
	return jobs
}

// SequenceLanes locks the lanes of messages (those with a sequence key)
// for the rest of tx and returns them, for SequenceWake: an action that
// may unblock a lane (closing an exception) calls it before it locks
// anything else.
func SequenceLanes(ctx context.Context, tx pgx.Tx, messageIDs ...uuid.UUID) ([]Lane, error) {
	rows, err := tx.Query(ctx, lanesOfMessagesSelect, messageIDs)
	if err != nil {
		return nil, fmt.Errorf("sequence lanes: %w", err)
	}
	lanes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lane, error) {
		var l Lane
		return l, r.Scan(&l.EnvID, &l.FlowID, &l.Key)
	})
	if err != nil {
		return nil, fmt.Errorf("sequence lanes: %w", err)
	}
	return lanes, lockLanes(ctx, tx, lanes)
}

// SequenceWake releases the held deliveries of lanes that nothing blocks
// any more and enqueues their jobs with client, in tx.
func SequenceWake(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], lanes []Lane) error {
	ids, err := wakeLanes(ctx, tx, lanes)
	if err != nil || len(ids) == 0 {
		return err
	}
	if _, err := client.InsertManyFastTx(ctx, tx, deliverJobs(ids)); err != nil {
		return fmt.Errorf("enqueue released deliveries: %w", err)
	}
	return nil
}

// tryLockLanes takes, without waiting, the locks of those of lanes no
// other transaction holds, until tx ends, and returns the lanes it locked
// and those it found busy. Not waiting, it cannot deadlock whatever the
// order.
func tryLockLanes(ctx context.Context, tx pgx.Tx, lanes []Lane) (locked, busy []Lane, err error) {
	if len(lanes) == 0 {
		return nil, nil, nil
	}
	lanes = uniqueLanes(lanes)
	envs, flows, keys := laneColumns(lanes)
	rows, err := tx.Query(ctx, lanesTryLock, envs, flows, keys)
	if err != nil {
		return nil, nil, fmt.Errorf("lock sequence lanes: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return nil, nil, fmt.Errorf("lock sequence lanes: %w", err)
	}
	for i, ok := range got {
		if ok {
			locked = append(locked, lanes[i])
		} else {
			busy = append(busy, lanes[i])
		}
	}
	return locked, busy, nil
}

// SequenceWakeArgs is the job that wakes lanes a processing transaction
// found busy (ProcessWorker.recordAll): it runs once that transaction has
// committed, waits for the lanes' locks and releases what nothing blocks
// any more, so processing never queues for a lane.
type SequenceWakeArgs struct {
	Lanes []Lane `json:"lanes"`
}

// Kind names the job in River's tables.
func (SequenceWakeArgs) Kind() string { return "sequence_wake" }

// InsertOpts puts the wake-ups on the deliver queue, beside the
// deliveries they release.
func (SequenceWakeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue.Deliver, MaxAttempts: 25}
}

// SequenceWakeWorker works SequenceWakeArgs jobs.
type SequenceWakeWorker struct {
	river.WorkerDefaults[SequenceWakeArgs]
	DB store.DB
}

// Work wakes the job's lanes and enqueues the deliveries released.
func (w *SequenceWakeWorker) Work(ctx context.Context, job *river.Job[SequenceWakeArgs]) error {
	return txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		released, err := wakeLanes(ctx, tx, job.Args.Lanes)
		if err != nil {
			return err
		}
		if err := insertJobs(ctx, tx, deliverJobs(released), true); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
}
