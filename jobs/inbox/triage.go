package inbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
)

// ErrAlreadyQueued says a retry of the exception is already under way; a
// bulk action counts it as skipped, a single retry answers Conflict.
var ErrAlreadyQueued = errors.New("a retry is already under way")

// exceptionState is what the audit records before and after an action.
type exceptionState struct {
	Status     store.ExceptionStatus `json:"status"`
	AssignedTo *int64                `json:"assignedTo,omitempty"`
	Resolution string                `json:"resolution,omitempty"`
	Action     string                `json:"action,omitempty"`
	Version    int                   `json:"version,omitempty"`
	ReplayedAs string                `json:"replayedAs,omitempty"`
	// PublishedFromDraft is the version a replay on the draft published.
	PublishedFromDraft int `json:"publishedFromDraft,omitempty"`
}

// lockedException is an exception row locked FOR UPDATE for an action.
type lockedException struct {
	store.Exception
	assignedTo *int64
}

func (e lockedException) state() exceptionState {
	return exceptionState{Status: e.Status, AssignedTo: e.assignedTo, Resolution: e.Resolution}
}

func (e lockedException) closed() bool {
	return e.Status == store.ExceptionResolved || e.Status == store.ExceptionIgnored
}

func lockException(ctx context.Context, tx pgx.Tx, id int64) (lockedException, error) {
	var e lockedException
	var detail []byte
	err := tx.QueryRow(ctx, exceptionLock, id).
		Scan(&e.ID, &e.Kind, &e.Fingerprint, &e.EnvironmentID, &e.FlowID, &e.MessageID, &e.DeliveryID, &e.Stage, &e.ErrorClass,
			&e.Message, &detail, &e.Status, &e.Resolution, &e.CreatedAt, &e.UpdatedAt, &e.ResolvedAt, &e.assignedTo)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fault.Errorf(fault.NotFound, "no exception %d", id)
	}
	if err != nil {
		return e, fmt.Errorf("exception %d: %w", id, err)
	}
	e.Detail = detail
	return e, nil
}

// lockOpenException locks an exception a person acts on; a resolved or
// ignored one is a Conflict that says how it was closed.
func lockOpenException(ctx context.Context, tx pgx.Tx, id int64, verb string) (lockedException, error) {
	e, err := lockException(ctx, tx, id)
	if err != nil {
		return e, err
	}
	if e.closed() {
		return e, fault.Errorf(fault.Conflict, "exception %d is %s already (%s); there is nothing to %s", id, e.Status, e.Resolution, verb)
	}
	return e, nil
}

func audit(ctx context.Context, tx pgx.Tx, actor account.Actor, action string, id int64, before, after any) error {
	return account.Audit(ctx, tx, actor, "exception."+action, "exception", strconv.FormatInt(id, 10), before, after)
}

// ExceptionRetry sends an open exception's message on from the stage that
// failed, on the version that ran (never silently the newest): a delivery
// or configuration exception sends its delivery again with a fresh retry
// budget; a validation or mapping exception processes the message again.
// The exception stays open and resolves itself when the retry succeeds. A
// retry already under way is ErrAlreadyQueued (a Conflict).
func ExceptionRetry(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], id int64, actor account.Actor) error {
	e, err := lockOpenException(ctx, tx, id, "retry")
	if err != nil {
		return err
	}
	after := e.state()
	if e.DeliveryID != nil {
		var status store.DeliveryStatus
		if err := tx.QueryRow(ctx, deliveryStatusSelect, *e.DeliveryID).Scan(&status); err != nil {
			return fmt.Errorf("delivery %s: %w", *e.DeliveryID, err)
		}
		if status == store.DeliveryPending || status == store.DeliveryRetrying || status == store.DeliveryHeld {
			return &fault.Error{Code: fault.Conflict, Err: ErrAlreadyQueued,
				Message: fmt.Sprintf("exception %d: its delivery is %s already; wait for the outcome", id, status)}
		}
		if err := pipeline.DeliveryRetry(ctx, tx, client, *e.DeliveryID); err != nil {
			return err
		}
		after.Action = "deliver again"
	} else {
		var version int
		var status store.MessageStatus
		if err := tx.QueryRow(ctx, messageVersionLock, e.MessageID).Scan(&version, &status); err != nil {
			return fmt.Errorf("message %s: %w", e.MessageID, err)
		}
		if status != store.StatusRejected && status != store.StatusFailed {
			return &fault.Error{Code: fault.Conflict, Err: ErrAlreadyQueued,
				Message: fmt.Sprintf("exception %d: its message is %s, not failed; wait for the outcome", id, status)}
		}
		if err := store.SetMessageStatus(ctx, tx, e.MessageID, store.StatusReceived); err != nil {
			return err
		}
		if err := store.AddLineage(ctx, tx, e.MessageID, store.Lineage{Stage: store.StageQueued,
			Detail: map[string]any{"retry": true, "version": version, "by": actor.Email, "exception": e.ID}}); err != nil {
			return err
		}
		if _, err := client.InsertTx(ctx, tx, intake.ProcessArgs{MessageIDs: []uuid.UUID{e.MessageID}, Retry: true}, nil); err != nil {
			return fmt.Errorf("enqueue processing of %s: %w", e.MessageID, err)
		}
		after.Action, after.Version = "process again", version
	}
	if _, err := tx.Exec(ctx, exceptionTouch, id); err != nil {
		return fmt.Errorf("exception %d: %w", id, err)
	}
	return audit(ctx, tx, actor, "retry", id, e.state(), after)
}

// closeException resolves or ignores an open exception with a reason. A
// message with a sequence key stops holding the later messages of its key
// (for the exception's target, or all of them for a processing
// exception): the next one is released in the same transaction.
func closeException(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], id int64, to store.ExceptionStatus, reason string, actor account.Actor) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("say why the exception is %s: a reason is required", to),
			Fields: map[string]string{"reason": "required"}}
	}
	if len(reason) > 2000 {
		return &fault.Error{Code: fault.Invalid, Message: "the reason is longer than 2,000 characters", Fields: map[string]string{"reason": "too long"}}
	}
	verb := map[store.ExceptionStatus]string{store.ExceptionResolved: "resolve", store.ExceptionIgnored: "ignore"}[to]
	e, err := lockOpenException(ctx, tx, id, verb)
	if err != nil {
		return err
	}
	lanes, err := pipeline.SequenceLanes(ctx, tx, e.MessageID)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, exceptionClose,
		id, to, reason); err != nil {
		return fmt.Errorf("exception %d: %w", id, err)
	}
	if err := store.AddLineage(ctx, tx, e.MessageID, store.Lineage{DeliveryID: e.DeliveryID, Stage: store.StageResolved,
		Detail: map[string]any{"status": to, "reason": reason, "by": actor.Email, "exception": e.ID}}); err != nil {
		return err
	}
	if err := pipeline.SequenceWake(ctx, tx, client, lanes); err != nil {
		return err
	}
	after := e.state()
	after.Status, after.Resolution = to, reason
	return audit(ctx, tx, actor, verb, id, e.state(), after)
}

// ExceptionResolve closes an open exception as dealt with; the reason is
// required. Later messages of its sequence key it held are released
// (their jobs enqueued with client).
func ExceptionResolve(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], id int64, reason string, actor account.Actor) error {
	return closeException(ctx, tx, client, id, store.ExceptionResolved, reason, actor)
}

// ExceptionIgnore closes an open exception as not needing action; the
// reason is required. Later messages of its sequence key it held are
// released without it (their jobs enqueued with client).
func ExceptionIgnore(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], id int64, reason string, actor account.Actor) error {
	return closeException(ctx, tx, client, id, store.ExceptionIgnored, reason, actor)
}

// ExceptionAssign gives an open exception to a user (status assigned), or
// back to nobody (userID 0, status open). The user must be active and may
// act on exceptions (support or admin).
func ExceptionAssign(ctx context.Context, tx pgx.Tx, id, userID int64, actor account.Actor) error {
	e, err := lockOpenException(ctx, tx, id, "assign")
	if err != nil {
		return err
	}
	after := e.state()
	if userID == 0 {
		after.AssignedTo, after.Status = nil, store.ExceptionOpen
	} else {
		u, err := account.UserByID(ctx, tx, userID)
		if fault.CodeOf(err) == fault.NotFound {
			return &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("no user %d to assign to", userID), Fields: map[string]string{"assignee": "unknown"}}
		}
		if err != nil {
			return err
		}
		if !u.Active || (u.Role != account.RoleSupport && u.Role != account.RoleAdmin) {
			return &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("%s cannot act on exceptions (an active support or admin user can)", u.Email),
				Fields: map[string]string{"assignee": "not allowed"}}
		}
		after.AssignedTo, after.Status = &u.ID, store.ExceptionAssigned
	}
	if _, err := tx.Exec(ctx, exceptionAssignUpdate,
		id, after.AssignedTo, after.Status); err != nil {
		return fmt.Errorf("exception %d: %w", id, err)
	}
	return audit(ctx, tx, actor, "assign", id, e.state(), after)
}

// Comment is a note on an exception.
type Comment struct {
	ID        int64     `json:"id"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// ExceptionComment adds a note to an exception (closed ones too: notes
// explain afterwards).
func ExceptionComment(ctx context.Context, tx pgx.Tx, id int64, body string, actor account.Actor) (Comment, error) {
	body = strings.TrimSpace(body)
	if body == "" || len(body) > 10000 {
		return Comment{}, &fault.Error{Code: fault.Invalid, Message: "a comment needs 1 to 10,000 characters", Fields: map[string]string{"body": "required"}}
	}
	if _, err := lockException(ctx, tx, id); err != nil {
		return Comment{}, err
	}
	var authorID *int64
	if actor.UserID != 0 {
		authorID = &actor.UserID
	}
	c := Comment{Author: actor.Email, Body: body}
	if err := tx.QueryRow(ctx, commentInsert, id, authorID, actor.Email, body).Scan(&c.ID, &c.CreatedAt); err != nil {
		return Comment{}, fmt.Errorf("comment on exception %d: %w", id, err)
	}
	return c, audit(ctx, tx, actor, "comment", id, nil, map[string]any{"comment": c.ID, "body": body})
}

// HistoryEntry is one thing a person (or the system) did to an exception:
// an audited action with its before and after, or a comment.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // exception.retry, exception.resolve …, or comment
	Before string    `json:"before,omitempty"`
	After  string    `json:"after,omitempty"`
	Body   string    `json:"body,omitempty"`
}

// ExceptionHistory returns the audited actions on an exception and its
// comments, oldest first.
func ExceptionHistory(ctx context.Context, db txn.DBTX, id int64) ([]HistoryEntry, error) {
	rows, err := db.Query(ctx, exceptionHistorySelect, id, strconv.FormatInt(id, 10))
	if err != nil {
		return nil, fmt.Errorf("history of exception %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		err := r.Scan(&h.At, &h.Actor, &h.Action, &h.Before, &h.After, &h.Body)
		return h, err
	})
}
