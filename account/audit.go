package account

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/like"
	"github.com/crossdock/crossdock/internal/sqlwhere"
	"github.com/crossdock/crossdock/internal/txn"
)

// Actor is who did something: a signed-in user, an API key or the system.
type Actor struct {
	UserID  int64  // 0 when not a user
	Email   string // or the API key's name, or "system"
	Address string // client IP, empty for the system
}

// SystemActor is the actor of changes Crossdock makes by itself (first-start
// admin, periodic jobs) and of the command line.
var SystemActor = Actor{Email: "system"}

// AuditEntry is one recorded change. Before and After are the changed
// object's JSON (secrets already masked by the caller), nil when not
// applicable.
type AuditEntry struct {
	ID         int64
	At         time.Time
	ActorID    *int64
	ActorEmail string
	Action     string // dotted verb: user.create, user.update, session.login ...
	TargetType string
	TargetID   string
	Before     json.RawMessage
	After      json.RawMessage
	RequestID  string
	Address    string
}

// Audit records who changed what. Call it on the same txn.DBTX (transaction) as
// the change itself so that the change and its record land together.
// before and after are marshalled to JSON; pass nil when not applicable.
func Audit(ctx context.Context, db txn.DBTX, actor Actor, action, targetType, targetID string, before, after any) error {
	b, err := marshalOrNil(before)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	a, err := marshalOrNil(after)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	var actorID *int64
	if actor.UserID != 0 {
		actorID = &actor.UserID
	}
	_, err = db.Exec(ctx, auditInsert,
		actorID, actor.Email, action, targetType, targetID, b, a, RequestIDFrom(ctx), actor.Address)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func marshalOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// AuditFilter narrows the audit list. Zero values match everything.
type AuditFilter struct {
	Action   string // prefix match: "user." matches user.create and user.update
	Actor    string // substring of the actor's email
	Target   string // exact target id
	BeforeID int64  // keyset pagination: entries older than this id
	Limit    int    // default 50, at most 500
}

// AuditList returns entries newest first.
func AuditList(ctx context.Context, db txn.DBTX, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var w sqlwhere.Clause
	if f.Action != "" {
		w.Add("action like $? || '%'", like.Escape(f.Action))
	}
	if f.Actor != "" {
		w.Add("actor_email ilike '%' || $? || '%'", like.Escape(f.Actor))
	}
	if f.Target != "" {
		w.Add("target_id = $?", f.Target)
	}
	if f.BeforeID > 0 {
		w.Add("id < $?", f.BeforeID)
	}
	sql := auditSelect + w.SQL() + auditOrder + w.Arg(f.Limit)
	rows, err := db.Query(ctx, sql, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.ActorEmail, &e.Action, &e.TargetType, &e.TargetID, &e.Before, &e.After, &e.RequestID, &e.Address)
		return e, err
	})
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id the audit log records.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
