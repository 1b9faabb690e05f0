package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/store"
)

// BulkActionKind is what a bulk action does to each exception.
type BulkActionKind string

// The bulk actions.
const (
	BulkRetry   BulkActionKind = "retry"
	BulkResolve BulkActionKind = "resolve"
	BulkIgnore  BulkActionKind = "ignore"
	BulkReplay  BulkActionKind = "replay"
)

// bulkBatch is how many exceptions one transaction of a bulk job handles;
// progress is committed with each batch, so a job that runs again after a
// crash continues where it stopped.
const bulkBatch = 100

// BulkRequest asks for an action on a selection of exceptions or on every
// open exception of a group (EnvironmentID + Fingerprint).
type BulkRequest struct {
	// RequestKey identifies the request (a token in the form): the same key
	// again finds the first bulk action instead of starting another.
	RequestKey    string
	Action        BulkActionKind
	EnvironmentID int64
	Fingerprint   string
	ExceptionIDs  []int64
	Reason        string        // required for resolve and ignore
	Version       VersionChoice // for replay
	Actor         account.Actor
}

// BulkAction is a bulk action and its progress.
type BulkAction struct {
	ID          int64          `json:"id"`
	Action      BulkActionKind `json:"action"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	// GroupID is the group a whole-group action works on (0 for a
	// selection).
	GroupID     int64      `json:"groupId,omitempty"`
	Status      string     `json:"status"` // queued, running, done, failed
	Total       int        `json:"total"`
	Done        int        `json:"done"`
	Skipped     int        `json:"skipped"`
	Failed      int        `json:"failed"`
	Error       string     `json:"error,omitempty"`
	RequestedBy string     `json:"requestedBy"`
	CreatedAt   time.Time  `json:"createdAt"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
}

// BulkArgs is the job that works a bulk action.
type BulkArgs struct {
	BulkID int64 `json:"bulk_id" river:"unique"`
}

// Kind names the job in River's tables.
func (BulkArgs) Kind() string { return "inbox_bulk" }

// InsertOpts makes one job per bulk action.
func (BulkArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

func scanBulk(r pgx.Row) (BulkAction, error) {
	var b BulkAction
	err := r.Scan(&b.ID, &b.Action, &b.Fingerprint, &b.GroupID, &b.Status, &b.Total, &b.Done, &b.Skipped, &b.Failed, &b.Error, &b.RequestedBy, &b.CreatedAt, &b.FinishedAt)
	return b, err
}

// BulkGet returns a bulk action with its progress, or NotFound.
func BulkGet(ctx context.Context, db txn.DBTX, id int64) (BulkAction, error) {
	b, err := scanBulk(db.QueryRow(ctx, bulkByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, fault.Errorf(fault.NotFound, "no bulk action %d", id)
	}
	if err != nil {
		return b, fmt.Errorf("bulk action %d: %w", id, err)
	}
	return b, nil
}

// BulkSelection returns the exceptions a bulk action on a selection names
// (none for a whole group's). BulkGet leaves them out: the progress page
// polls it, and a selection may be 10,000 long.
func BulkSelection(ctx context.Context, db txn.DBTX, id int64) ([]int64, error) {
	var ids []int64
	err := db.QueryRow(ctx, bulkSelectionSelect, id).Scan(&ids)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fault.Errorf(fault.NotFound, "no bulk action %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("bulk action %d: %w", id, err)
	}
	return ids, nil
}

// BulkMaxSelection is how many exceptions one bulk action may name; more
// is a whole group's work.
const BulkMaxSelection = 10000

// CheckBulkSelection refuses a selection too large for one bulk action.
func CheckBulkSelection(ids []int64) error {
	if len(ids) > BulkMaxSelection {
		return fault.Errorf(fault.Invalid, "select at most 10,000 exceptions (%d were sent); act on the whole group instead", len(ids))
	}
	return nil
}

// BulkStart records a bulk action and enqueues its job in one transaction.
// It is safe to click twice: the same RequestKey, or a second request for
// the same action on a group while one runs, returns the first (created
// false). Only exceptions filed before the request are touched, so a group
// that keeps growing does not keep the job running.
func BulkStart(ctx context.Context, db store.DB, client *river.Client[pgx.Tx], req BulkRequest) (BulkAction, bool, error) {
	switch req.Action {
	case BulkRetry, BulkReplay:
	case BulkResolve, BulkIgnore:
		if strings.TrimSpace(req.Reason) == "" {
			return BulkAction{}, false, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("say why the exceptions are %sd: a reason is required", req.Action),
				Fields: map[string]string{"reason": "required"}}
		}
	default:
		return BulkAction{}, false, fault.Errorf(fault.Invalid, "action “%s” is not one of retry, replay, resolve, ignore", req.Action)
	}
	if req.Action == BulkReplay && req.Version == VersionDraft {
		return BulkAction{}, false, fault.Errorf(fault.Invalid, "a bulk replay runs on the version that ran or the one deployed, not the draft: publish and deploy the draft, then replay the group on the deployed version (one exception can be replayed on the draft from its page)")
	}
	if req.Action == BulkReplay && req.Version != "" && req.Version != VersionRan && req.Version != VersionDeployed {
		return BulkAction{}, false, fault.Errorf(fault.Invalid, "version “%s” is not one of ran, deployed", req.Version)
	}
	if (req.Fingerprint == "") == (len(req.ExceptionIDs) == 0) {
		return BulkAction{}, false, fault.Errorf(fault.Invalid, "choose exceptions, or a whole group, to act on")
	}
	if err := CheckBulkSelection(req.ExceptionIDs); err != nil {
		return BulkAction{}, false, err
	}
	if strings.TrimSpace(req.RequestKey) == "" {
		return BulkAction{}, false, fault.Errorf(fault.Invalid, "the request key is missing; reload the page and try again")
	}
	var out BulkAction
	created := false
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		existing, err := scanBulk(tx.QueryRow(ctx, bulkByRequestKeySelect, req.RequestKey))
		if err == nil {
			out = existing
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("bulk action: %w", err)
		}
		var env *int64
		var fp *string
		var ids []int64
		var upTo int64
		var total int
		if req.Fingerprint != "" {
			env, fp = &req.EnvironmentID, &req.Fingerprint
			if err := tx.QueryRow(ctx, bulkScopeSelect,
				req.EnvironmentID, req.Fingerprint).Scan(&upTo, &total); err != nil {
				return fmt.Errorf("bulk action: %w", err)
			}
		} else {
			ids = req.ExceptionIDs
			total = len(ids)
			for _, id := range ids {
				upTo = max(upTo, id)
			}
		}
		var actorID *int64
		if req.Actor.UserID != 0 {
			actorID = &req.Actor.UserID
		}
		var id int64
		err = tx.QueryRow(ctx, bulkInsert,
			req.RequestKey, req.Action, env, fp, ids, upTo, strings.TrimSpace(req.Reason), string(req.Version), actorID, req.Actor.Email, total).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			// The same action on the same group is running: show it.
			out, err = scanBulk(tx.QueryRow(ctx, bulkRunningSelect, req.EnvironmentID, req.Fingerprint, req.Action))
			if err != nil {
				return fmt.Errorf("bulk action: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("bulk action: %w", err)
		}
		if _, err := client.InsertTx(ctx, tx, BulkArgs{BulkID: id}, nil); err != nil {
			return fmt.Errorf("enqueue bulk action %d: %w", id, err)
		}
		if err := account.Audit(ctx, tx, req.Actor, "exception.bulk_"+string(req.Action), "bulk_action", fmt.Sprint(id), nil,
			map[string]any{"fingerprint": req.Fingerprint, "exceptions": ids, "reason": req.Reason, "version": req.Version, "total": total}); err != nil {
			return err
		}
		created = true
		out, err = scanBulk(tx.QueryRow(ctx, bulkByIDSelect, id))
		return err
	})
	return out, created, err
}

// BulkWorker works a bulk action batch by batch, applying the single
// exception action (audited one by one, as if a person clicked each) and
// committing progress with every batch.
type BulkWorker struct {
	river.WorkerDefaults[BulkArgs]
	DB store.DB
}

// Timeout lets a large group take its time; progress is saved per batch.
func (w *BulkWorker) Timeout(*river.Job[BulkArgs]) time.Duration { return time.Hour }

// Work runs the bulk action to its end.
func (w *BulkWorker) Work(ctx context.Context, job *river.Job[BulkArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("bulk action: %w", err)
	}
	for {
		more, err := w.batch(ctx, client, job.Args.BulkID)
		if fault.CodeOf(err) == fault.NotFound {
			return river.JobCancel(err)
		}
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

func (w *BulkWorker) batch(ctx context.Context, client *river.Client[pgx.Tx], bulkID int64) (bool, error) {
	more := false
	err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		var (
			action              BulkActionKind
			env                 *int64
			fp                  *string
			ids                 []int64
			upTo, lastID        int64
			reason, version     string
			actorID             *int64
			actorEmail, status  string
			done, skipped, fail int
		)
		err := tx.QueryRow(ctx, bulkLock, bulkID).
			Scan(&action, &env, &fp, &ids, &upTo, &lastID, &reason, &version, &actorID, &actorEmail, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fault.Errorf(fault.NotFound, "no bulk action %d", bulkID)
		}
		if err != nil {
			return fmt.Errorf("bulk action %d: %w", bulkID, err)
		}
		if status == "done" || status == "failed" {
			return nil
		}
		var rows pgx.Rows
		if fp != nil {
			rows, err = tx.Query(ctx, groupExceptionsBatchSelect, *env, *fp, lastID, upTo, bulkBatch)
		} else {
			rows, err = tx.Query(ctx, selectedExceptionsBatchSelect, ids, lastID, bulkBatch)
		}
		if err != nil {
			return fmt.Errorf("bulk action %d: %w", bulkID, err)
		}
		batch, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("bulk action %d: %w", bulkID, err)
		}
		actor := account.Actor{Email: actorEmail}
		if actorID != nil {
			actor.UserID = *actorID
		}
		for _, id := range batch {
			// Each exception in a savepoint: one refusal does not undo the
			// batch.
			sp, err := tx.Begin(ctx)
			if err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			err = applyBulk(ctx, sp, client, action, id, reason, VersionChoice(version), actor)
			if err != nil {
				_ = sp.Rollback(ctx)
			} else if err = sp.Commit(ctx); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
			var pgErr *pgconn.PgError
			switch code := fault.CodeOf(err); {
			case err == nil:
				done++
			case errors.As(err, &pgErr):
				return err // a database failure: retry the batch
			case code == fault.Conflict || code == fault.NotFound:
				skipped++ // closed meanwhile, or already queued: nothing to do
			case code == fault.Internal:
				return err
			default:
				fail++
			}
			lastID = id
		}
		more = len(batch) == bulkBatch
		newStatus := "running"
		if !more {
			newStatus = "done"
		}
		if _, err := tx.Exec(ctx, bulkProgressUpdate, bulkID, lastID, done, skipped, fail, newStatus); err != nil {
			return fmt.Errorf("bulk action %d progress: %w", bulkID, err)
		}
		return nil
	})
	return more, err
}

func applyBulk(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], action BulkActionKind, id int64, reason string, version VersionChoice, actor account.Actor) error {
	switch action {
	case BulkRetry:
		return ExceptionRetry(ctx, tx, client, id, actor)
	case BulkResolve:
		return ExceptionResolve(ctx, tx, client, id, reason, actor)
	case BulkIgnore:
		return ExceptionIgnore(ctx, tx, client, id, reason, actor)
	case BulkReplay:
		_, err := ExceptionReplay(ctx, tx, client, ReplayRequest{ExceptionID: id, Version: version, Reason: reason, Actor: actor})
		return err
	}
	return fault.Errorf(fault.Invalid, "unknown bulk action %s", action)
}
