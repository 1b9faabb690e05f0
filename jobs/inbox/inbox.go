package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/like"
	"github.com/crossdock/crossdock/internal/sqlwhere"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/store"
)

// Status filters the inbox by where people stand with exceptions:
// one ExceptionStatus, or Active (open and assigned, the default) or
// All.
type Status string

// The inbox status filters beside the exception statuses.
const (
	Active Status = "active"
	All    Status = "all"
)

// Filter selects exceptions for the flat inbox. Zero fields do not
// filter. Results come newest first; BeforeID is the keyset cursor (the
// last id of the previous page).
type Filter struct {
	EnvironmentID int64
	FlowID        int64
	Kind          store.ExceptionKind
	Status        Status // default Active
	AssigneeID    int64
	Target        string
	// OlderThan keeps exceptions filed at least this long ago.
	OlderThan time.Duration
	// Text matches the error (substring, case-insensitive), or exactly a
	// correlation id or an idempotency key.
	Text        string
	Fingerprint string
	// Blocking keeps the exceptions of messages that hold later messages
	// of their sequence key.
	Blocking bool
	BeforeID int64
	Limit    int // default 50, at most 500
}

// Item is an exception with what the inbox shows beside it.
type Item struct {
	store.Exception
	Environment    string    `json:"environment"`
	FlowSlug       string    `json:"flow"`
	CorrelationID  string    `json:"correlationId"`
	IdempotencyKey string    `json:"idempotencyKey"`
	VersionNumber  int       `json:"versionNumber"`
	MessageStatus  string    `json:"messageStatus"`
	AssigneeID     *int64    `json:"assigneeId,omitempty"`
	AssigneeEmail  string    `json:"assignee,omitempty"`
	Target         string    `json:"target,omitempty"`
	Route          string    `json:"route,omitempty"`
	DeliveryStatus string    `json:"deliveryStatus,omitempty"`
	ReceivedAt     time.Time `json:"receivedAt"`
	Revision       *Revision `json:"revision,omitempty"`
	GroupID        int64     `json:"groupId"`
	GroupOpen      int64     `json:"groupOpen"`
	// Customer and Amount label the message (the flow's keys.customer and
	// keys.amount); "" when the flow has none.
	Customer string `json:"customer,omitempty"`
	Amount   string `json:"amount,omitempty"`
	// Step is the step (of the route's then) whose delivery failed; "" for
	// a route's own delivery and for exceptions before delivery.
	Step string `json:"step,omitempty"`
	// Sequence is, for a message with a sequence key, its key and how many
	// later messages of the key the exception holds ("blocking N later
	// messages for key K"); set by ExceptionGet, not in listings.
	Sequence *store.SequenceState `json:"sequence,omitempty"`
}

func scanInboxItem(r pgx.Row) (Item, error) {
	var it Item
	var detail []byte
	err := r.Scan(&it.ID, &it.Kind, &it.Fingerprint, &it.EnvironmentID, &it.FlowID, &it.MessageID, &it.DeliveryID, &it.Stage,
		&it.ErrorClass, &it.Message, &detail, &it.Status, &it.Resolution, &it.CreatedAt, &it.UpdatedAt, &it.ResolvedAt,
		&it.Environment, &it.FlowSlug, &it.CorrelationID, &it.IdempotencyKey, &it.VersionNumber, &it.MessageStatus,
		&it.AssigneeID, &it.AssigneeEmail, &it.Target, &it.Route, &it.DeliveryStatus, &it.ReceivedAt, &it.GroupID, &it.GroupOpen,
		&it.Customer, &it.Amount, &it.Step)
	it.Detail = detail
	return it, err
}

// statusList turns an Status into the SQL list of exception statuses.
func statusList(s Status) ([]string, error) {
	switch s {
	case "", Active:
		return []string{string(store.ExceptionOpen), string(store.ExceptionAssigned)}, nil
	case All:
		return nil, nil
	case Status(store.ExceptionOpen), Status(store.ExceptionAssigned), Status(store.ExceptionResolved), Status(store.ExceptionIgnored):
		return []string{string(s)}, nil
	}
	return nil, fault.Errorf(fault.Invalid, "status “%s” is not one of active, all, open, assigned, resolved, ignored", s)
}

// ValidKind reports whether k is an exception kind ("" is not).
func ValidKind(k store.ExceptionKind) bool {
	switch k {
	case store.ExceptionValidation, store.ExceptionMapping, store.ExceptionDelivery, store.ExceptionConfiguration:
		return true
	}
	return false
}

// List returns one page of exceptions, newest first, and the cursor of
// the next page (0 when this is the last). Every filter combination walks
// an index on (…, status, id desc), so a page costs the same with a million
// exceptions as with a hundred.
func List(ctx context.Context, db txn.DBTX, f Filter) ([]Item, int64, error) {
	sql, args, limit, err := ListQuery(f)
	if err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list exceptions: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) { return scanInboxItem(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list exceptions: %w", err)
	}
	var next int64
	if len(items) > limit {
		items = items[:limit]
		next = items[len(items)-1].ID
	}
	return items, next, nil
}

// MatchingIDs returns the ids of the exceptions f matches, newest first, at
// most max of them (f's cursor and page size are ignored), and whether
// more match: "select all matching" in the inbox. It walks List's pages,
// so it costs what paging through them costs.
func MatchingIDs(ctx context.Context, db txn.DBTX, f Filter, max int) ([]int64, bool, error) {
	f.BeforeID, f.Limit = 0, 500
	var ids []int64
	for {
		items, next, err := List(ctx, db, f)
		if err != nil {
			return nil, false, err
		}
		for _, it := range items {
			if len(ids) == max {
				return ids, true, nil
			}
			ids = append(ids, it.ID)
		}
		if next == 0 {
			return ids, false, nil
		}
		f.BeforeID = next
	}
}

// ListQuery is the SQL and arguments List runs for f (one row
// more than the page, to know whether there is a next one) and the page
// size; benchmarks EXPLAIN it.
func ListQuery(f Filter) (string, []any, int, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	statuses, err := statusList(f.Status)
	if err != nil {
		return "", nil, 0, err
	}
	if f.Kind != "" && !ValidKind(f.Kind) {
		return "", nil, 0, fault.Errorf(fault.Invalid, "kind “%s” is not one of validation, mapping, delivery, configuration", f.Kind)
	}
	var w sqlwhere.Clause
	switch {
	case len(statuses) == 2: // active: a literal list, so the planner uses the partial indexes
		w.Add("e.status in ('open', 'assigned')")
	case len(statuses) == 1:
		w.Add("e.status = $?", statuses[0])
	}
	if f.EnvironmentID != 0 {
		w.Add("e.environment_id = $?", f.EnvironmentID)
	}
	if f.FlowID != 0 {
		w.Add("e.flow_id = $?", f.FlowID)
	}
	if f.Kind != "" {
		w.Add("e.kind = $?", string(f.Kind))
	}
	if f.AssigneeID != 0 {
		w.Add("e.assigned_to = $?", f.AssigneeID)
	}
	if f.Target != "" {
		w.Add("e.target = $?", f.Target) // kept on the exception (012) so exceptions_target_idx starts the page
	}
	if f.OlderThan > 0 {
		w.Add("e.created_at <= now() - $?::interval", fmt.Sprintf("%d seconds", int64(f.OlderThan.Seconds())))
	}
	if f.Fingerprint != "" {
		w.Add("e.fingerprint = $?", f.Fingerprint)
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		// The error text is matched through the trigram index of 011 (the
		// pattern is built here, with the text's % and _ kept literal, so
		// the planner sees it and can judge how common it is). The messages
		// with that correlation id or idempotency key are found first, as
		// an array, so the two halves combine as a BitmapOr of index scans
		// (or, for a common text, a walk down the id index), never a scan
		// of every exception. messages has no index on idempotency_key
		// alone (each index there is paid for on every accept), so the key
		// is looked up per environment and flow, each a probe of
		// messages_idempotency_key_idx. The probes are a LATERAL subquery
		// with a LIMIT, which the planner cannot flatten into a join: the
		// tiny environments and flows tables never get statistics, and as
		// a plain join it chose to read the whole key index instead (2 s at
		// 5 million messages; the probes take under a millisecond).
		pattern, text := w.Arg("%"+like.Escape(t)+"%"), w.Arg(t)
		w.Add(`(e.message ilike ` + pattern + `
			or e.message_id = any(array(
				select id from messages where correlation_id = ` + text + `
				union
				select k.id from environments env cross join flows fl
				cross join lateral (select m.id from messages m
					where m.environment_id = env.id and m.flow_id = fl.id and m.idempotency_key = ` + text + ` limit 1000) k)))`)
	}
	if f.Blocking {
		w.Add(inboxBlocking)
	}
	if f.BeforeID > 0 {
		w.Add("e.id < $?", f.BeforeID)
	}
	sql := inboxSelect + w.SQL() + inboxOrder + w.Arg(f.Limit+1)
	return sql, w.Args(), f.Limit, nil
}

// ExceptionGet returns one exception with its inbox details, or NotFound.
func ExceptionGet(ctx context.Context, db txn.DBTX, id int64) (Item, error) {
	it, err := scanInboxItem(db.QueryRow(ctx, exceptionByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, fault.Errorf(fault.NotFound, "no exception %d", id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("exception %d: %w", id, err)
	}
	if it.Sequence, err = store.SequenceStateOf(ctx, db, it.MessageID); err != nil {
		return Item{}, err
	}
	return it, nil
}

// ExceptionScope is where an exception belongs: what an API key's scope
// is checked against.
type ExceptionScope struct {
	Environment string
	Flow        string
}

// ExceptionScopes returns the environment and flow of each of ids that
// exists; an id missing from the map does not.
func ExceptionScopes(ctx context.Context, db txn.DBTX, ids []int64) (map[int64]ExceptionScope, error) {
	rows, err := db.Query(ctx, exceptionScopesSelect, ids)
	if err != nil {
		return nil, fmt.Errorf("exceptions: %w", err)
	}
	out := make(map[int64]ExceptionScope, len(ids))
	var id int64
	var sc ExceptionScope
	_, err = pgx.ForEachRow(rows, []any{&id, &sc.Environment, &sc.Flow}, func() error {
		out[id] = sc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("exceptions: %w", err)
	}
	return out, nil
}

// ExceptionGroup is every exception of one environment sharing a
// fingerprint (flow + stage + error class): one row to act on for 5,000
// identical failures. Its counts are kept by the database in the same
// transaction as the exceptions themselves.
type ExceptionGroup struct {
	ID            int64               `json:"id"`
	EnvironmentID int64               `json:"environmentId"`
	Environment   string              `json:"environment"`
	Fingerprint   string              `json:"fingerprint"`
	Kind          store.ExceptionKind `json:"kind"`
	FlowID        int64               `json:"flowId"`
	FlowSlug      string              `json:"flow"`
	Stage         string              `json:"stage"`
	ErrorClass    string              `json:"errorClass"`
	SampleMessage string              `json:"sampleError"`
	TotalCount    int64               `json:"total"`
	OpenCount     int64               `json:"open"`
	FirstSeen     time.Time           `json:"firstSeen"`
	LastSeen      time.Time           `json:"lastSeen"`
}

// GroupFilter selects exception groups. Only groups with open exceptions
// are listed unless All. Results come most recently seen first; the cursor
// is the last group of the previous page.
type GroupFilter struct {
	EnvironmentID  int64
	FlowID         int64
	Kind           store.ExceptionKind
	All            bool
	BeforeLastSeen time.Time
	BeforeID       int64
	Limit          int // default 50, at most 500
}

// GroupCursor is where the next page of groups starts.
type GroupCursor struct {
	LastSeen time.Time
	ID       int64
}

func scanGroup(r pgx.Row) (ExceptionGroup, error) {
	var g ExceptionGroup
	err := r.Scan(&g.ID, &g.EnvironmentID, &g.Environment, &g.Fingerprint, &g.Kind, &g.FlowID, &g.FlowSlug, &g.Stage,
		&g.ErrorClass, &g.SampleMessage, &g.TotalCount, &g.OpenCount, &g.FirstSeen, &g.LastSeen)
	return g, err
}

// GroupList returns one page of exception groups and the next page's
// cursor (nil on the last page). It reads exception_groups only, never
// grouping the exceptions themselves.
func GroupList(ctx context.Context, db txn.DBTX, f GroupFilter) ([]ExceptionGroup, *GroupCursor, error) {
	sql, args, limit, err := GroupListQuery(f)
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("list exception groups: %w", err)
	}
	gs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExceptionGroup, error) { return scanGroup(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("list exception groups: %w", err)
	}
	var next *GroupCursor
	if len(gs) > limit {
		gs = gs[:limit]
		last := gs[len(gs)-1]
		next = &GroupCursor{LastSeen: last.LastSeen, ID: last.ID}
	}
	return gs, next, nil
}

// GroupListQuery is the SQL and arguments GroupList runs for f and the
// page size; benchmarks EXPLAIN it.
func GroupListQuery(f GroupFilter) (string, []any, int, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	if f.Kind != "" && !ValidKind(f.Kind) {
		return "", nil, 0, fault.Errorf(fault.Invalid, "kind “%s” is not one of validation, mapping, delivery, configuration", f.Kind)
	}
	var w sqlwhere.Clause
	if !f.All {
		w.Add("g.open_count > 0")
	}
	if f.EnvironmentID != 0 {
		w.Add("g.environment_id = $?", f.EnvironmentID)
	}
	if f.FlowID != 0 {
		w.Add("g.flow_id = $?", f.FlowID)
	}
	if f.Kind != "" {
		w.Add("g.kind = $?", string(f.Kind))
	}
	if f.BeforeID != 0 {
		w.Add("(g.last_seen, g.id) < ($?, $?)", f.BeforeLastSeen, f.BeforeID)
	}
	sql := groupSelect + w.SQL() + groupOrder + w.Arg(f.Limit+1)
	return sql, w.Args(), f.Limit, nil
}

// GroupGet returns one exception group, or NotFound.
func GroupGet(ctx context.Context, db txn.DBTX, id int64) (ExceptionGroup, error) {
	g, err := scanGroup(db.QueryRow(ctx, groupByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ExceptionGroup{}, fault.Errorf(fault.NotFound, "no exception group %d", id)
	}
	if err != nil {
		return ExceptionGroup{}, fmt.Errorf("exception group %d: %w", id, err)
	}
	return g, nil
}

// OpenExceptionCount is how many exceptions are open or assigned, for the
// navigation. It sums the groups' counters rather than counting rows.
func OpenExceptionCount(ctx context.Context, db txn.DBTX) (int64, error) {
	var n int64
	if err := db.QueryRow(ctx, openExceptionCountSelect).Scan(&n); err != nil {
		return 0, fmt.Errorf("count open exceptions: %w", err)
	}
	return n, nil
}

// Revision links a replayed message to the message it replays.
type Revision struct {
	MessageID     uuid.UUID `json:"messageId"`
	OriginalID    uuid.UUID `json:"originalId"`
	Revision      int       `json:"revision"`
	VersionNumber int       `json:"versionNumber"`
	Edited        bool      `json:"edited"`
	Diff          string    `json:"diff,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	CreatedBy     string    `json:"createdBy"`
	CreatedAt     time.Time `json:"createdAt"`
}

// RevisionsOf returns the revision row of id (if it is a replay) and every
// replay of the same original, oldest first: the message's family.
func RevisionsOf(ctx context.Context, db txn.DBTX, id uuid.UUID) ([]Revision, error) {
	rows, err := db.Query(ctx, revisionsOfSelect, id)
	if err != nil {
		return nil, fmt.Errorf("revisions of %s: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Revision, error) {
		var v Revision
		err := r.Scan(&v.MessageID, &v.OriginalID, &v.Revision, &v.VersionNumber, &v.Edited, &v.Diff, &v.Reason, &v.CreatedBy, &v.CreatedAt)
		return v, err
	})
}
