package insight

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/sqlwhere"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/store"
)

// MessageFilter is what the message explorer searches by. Zero fields do not
// filter. Every search is served by an index (see 005_explorer.sql): the
// id by the primary key, CorrelationID by its index, IdempotencyKey by the
// unique key probed for each environment and flow, PayloadValue by the GIN
// index over the payload's values, and the rest by time-ordered indexes.
type MessageFilter struct {
	ID             uuid.UUID
	CorrelationID  string
	IdempotencyKey string
	// PayloadValue matches a string or number at the top level of the
	// payload or one level down inside an object, whole ("#1001" finds
	// {"name": "#1001"}; "1001" also finds {"order_number": 1001}) or
	// by the beginnings of its words ("2014" finds "#002014", "ana silv"
	// finds "Ana.Silva@example.com").
	PayloadValue  string
	EnvironmentID int64
	FlowID        int64
	Status        store.MessageStatus
	// From and To bound received_at: From inclusive, To exclusive.
	From, To time.Time
	// After continues a search after the last row of the previous page.
	After *MessageCursor
	// Limit is the page size; 0 means 50, at most 500.
	Limit int
}

// MessageCursor is a position in the explorer's order (newest first): the
// last row's received_at and id. It travels in URLs as an opaque string.
type MessageCursor struct {
	ReceivedAt time.Time
	ID         uuid.UUID
}

// String encodes the cursor for a URL.
func (c MessageCursor) String() string {
	b := strconv.AppendInt(nil, c.ReceivedAt.UnixMicro(), 36)
	b = append(b, '.')
	b = append(b, c.ID.String()...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseMessageCursor reads a cursor made by String; anything else is Invalid.
func ParseMessageCursor(s string) (MessageCursor, error) {
	bad := fault.Errorf(fault.Invalid, "the page cursor “%s” is not one this server made; start again from the first page", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return MessageCursor{}, bad
	}
	at, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return MessageCursor{}, bad
	}
	us, err := strconv.ParseInt(at, 36, 64)
	if err != nil {
		return MessageCursor{}, bad
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return MessageCursor{}, bad
	}
	return MessageCursor{ReceivedAt: time.UnixMicro(us).UTC(), ID: u}, nil
}

// MessageRow is one message as the explorer lists it (no payload).
type MessageRow struct {
	ID             uuid.UUID           `json:"id"`
	Environment    string              `json:"environment"`
	FlowSlug       string              `json:"flow"`
	VersionNumber  int                 `json:"version"`
	IdempotencyKey string              `json:"idempotencyKey"`
	CorrelationID  string              `json:"correlationId"`
	Status         store.MessageStatus `json:"status"`
	ReceivedAt     time.Time           `json:"receivedAt"`
	UpdatedAt      time.Time           `json:"updatedAt"`
	// Customer and Amount label the message (keys.customer, keys.amount).
	Customer string `json:"customer,omitempty"`
	Amount   string `json:"amount,omitempty"`
}

// MessageSearchResult is one page of the explorer: Next is set when there
// may be more rows after the last one.
type MessageSearchResult struct {
	Messages []MessageRow
	Next     *MessageCursor
}

// DefaultMessagePage and MaxMessagePage bound a page of the explorer.
const (
	DefaultMessagePage = 50
	MaxMessagePage     = 500
)

// validStatus reports whether s is a message status. The status is written
// into the SQL as a literal (after this check), not as a parameter, so the
// planner can match the partial index on open statuses even with a cached
// generic plan.
func validStatus(s store.MessageStatus) bool {
	switch s {
	case store.StatusReceived, store.StatusRejected, store.StatusFailed, store.StatusQueued, store.StatusHeld, store.StatusRetrying,
		store.StatusDelivered, store.StatusUnrouted, store.StatusSuperseded:
		return true
	}
	return false
}

// payloadValues is what a payload search looks for among a message's
// payload values (message_payload_values(payload)): the text as a string, and as a number
// too when it reads as one.
func payloadValues(v string) []string {
	s, _ := json.Marshal([]string{v})
	out := []string{string(s)}
	if f, err := strconv.ParseFloat(v, 64); err == nil && strings.TrimSpace(v) == v && !strings.ContainsAny(v, "xXpP_") {
		if n, err := json.Marshal([]float64{f}); err == nil {
			out = append(out, string(n))
		}
	}
	return out
}

// Search words: at most this many, each at most this long; shorter than
// minPrefix a word must match whole (a one- or two-letter prefix matches
// too much to be worth reading).
const (
	maxSearchWords    = 8
	maxSearchWordLen  = 64
	minSearchPrefixes = 3
)

// searchTerms turns what someone typed into a prefix query over
// message_search_terms (migration 023): words are runs of letters and
// digits, lower-cased; a number loses its leading zeros; every word must
// occur, each by its beginning. "#002014" → "2014:*", "Ana Silva" →
// "ana:* & silva:*". The query holds only letters, digits and its own
// operators, so nothing typed can change its shape. "" when there are no
// words.
func searchTerms(v string) string {
	words := strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var parts []string
	seen := map[string]bool{}
	for _, w := range words {
		if len(parts) == maxSearchWords {
			break
		}
		if strings.IndexFunc(w, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			if t := strings.TrimLeft(w, "0"); t != "" {
				w = t
			} else {
				w = "0"
			}
		}
		if r := []rune(w); len(r) > maxSearchWordLen {
			w = string(r[:maxSearchWordLen])
		}
		if seen[w] {
			continue
		}
		seen[w] = true
		if len([]rune(w)) >= minSearchPrefixes {
			w += ":*"
		}
		parts = append(parts, w)
	}
	return strings.Join(parts, " & ")
}

// MessageSearch returns a page of messages matching f, newest first (by
// received_at, then id). It is the explorer's only query.
func MessageSearch(ctx context.Context, db txn.DBTX, f MessageFilter) (MessageSearchResult, error) {
	sql, args, limit, err := MessageSearchQuery(f)
	if err != nil {
		return MessageSearchResult{}, err
	}
	// Planned with the values every time (an unnamed statement): a cached
	// generic plan cannot know that "#1001" is rare, and at 5 million
	// messages it walks the time index testing every payload (seconds)
	// instead of asking the payload index (a millisecond).
	rows, err := db.Query(ctx, sql, append([]any{pgx.QueryExecModeDescribeExec}, args...)...)
	if err != nil {
		return MessageSearchResult{}, fmt.Errorf("search messages: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MessageRow, error) {
		var m MessageRow
		err := r.Scan(&m.ID, &m.Environment, &m.FlowSlug, &m.VersionNumber, &m.IdempotencyKey, &m.CorrelationID, &m.Status, &m.ReceivedAt, &m.UpdatedAt, &m.Customer, &m.Amount)
		return m, err
	})
	if err != nil {
		return MessageSearchResult{}, fmt.Errorf("search messages: %w", err)
	}
	res := MessageSearchResult{Messages: list}
	if len(list) > limit {
		res.Messages = list[:limit]
		last := res.Messages[limit-1]
		res.Next = &MessageCursor{ReceivedAt: last.ReceivedAt, ID: last.ID}
	}
	return res, nil
}

// MessageSearchQuery is the SQL MessageSearch runs for f, its arguments and
// the page size (the query asks for one row more, to know whether there is
// a next page). It is exported for benchmarks and EXPLAIN; the SQL is built
// from fixed fragments and every value is a parameter.
func MessageSearchQuery(f MessageFilter) (sql string, args []any, limit int, err error) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultMessagePage
	}
	limit = min(limit, MaxMessagePage)
	var w sqlwhere.Clause
	if f.ID != uuid.Nil {
		w.Add("m.id = $?", f.ID)
	}
	if f.CorrelationID != "" {
		w.Add("m.correlation_id = $?", f.CorrelationID)
	}
	if f.IdempotencyKey != "" {
		// The unique index leads with environment and flow; naming every
		// one of each lets the planner probe it instead of scanning.
		env, flow := "any(array(select id from environments))", "any(array(select id from flows))"
		if f.EnvironmentID != 0 {
			env = w.Arg(f.EnvironmentID)
		}
		if f.FlowID != 0 {
			flow = w.Arg(f.FlowID)
		}
		w.Add("m.environment_id = " + env)
		w.Add("m.flow_id = " + flow)
		w.Add("m.idempotency_key = $?", f.IdempotencyKey)
	} else {
		if f.EnvironmentID != 0 {
			w.Add("m.environment_id = $?", f.EnvironmentID)
		}
		if f.FlowID != 0 {
			w.Add("m.flow_id = $?", f.FlowID)
		}
	}
	if f.PayloadValue != "" {
		// Processed messages through the values' index (the exact value)
		// and the words' index (each word, by its beginning); those still
		// waiting to be processed have no values yet and are read
		// directly (the open-status index lists them; normally a
		// handful).
		var indexed, waiting []string
		for _, v := range payloadValues(f.PayloadValue) {
			p := w.Arg(v) + "::jsonb"
			indexed = append(indexed, "v.payload_values @> "+p)
			waiting = append(waiting, "message_payload_values(w.payload) @> "+p)
		}
		if q := searchTerms(f.PayloadValue); q != "" {
			tq := "to_tsquery('simple', " + w.Arg(q) + ")"
			indexed = append(indexed, "v.terms @@ "+tq)
			waiting = append(waiting, "message_search_terms(message_payload_values(w.payload)) @@ "+tq)
		}
		w.Add("m.id in (select v.message_id from message_values v where " + strings.Join(indexed, " or ") +
			" union all select w.id from messages w where w.status = 'received' and (" + strings.Join(waiting, " or ") + "))")
	}
	if f.Status != "" {
		if !validStatus(f.Status) {
			return "", nil, 0, fault.Errorf(fault.Invalid, "no message status “%s”; use received, rejected, failed, queued, held, retrying, delivered, unrouted or superseded", f.Status)
		}
		w.Add("m.status = '" + string(f.Status) + "'")
	}
	if !f.From.IsZero() {
		w.Add("m.received_at >= $?", f.From)
	}
	if !f.To.IsZero() {
		w.Add("m.received_at < $?", f.To)
	}
	if f.After != nil {
		at, id := w.Arg(f.After.ReceivedAt), w.Arg(f.After.ID)
		// The first clause alone can use the time indexes; the second
		// breaks ties between messages received in the same microsecond.
		w.Add("m.received_at <= " + at)
		w.Add("(m.received_at, m.id) < (" + at + ", " + id + ")")
	}
	sql = messageSearchSelect + w.SQL()
	order := messageSearchByTime
	if f.PayloadValue != "" {
		// A payload search must start from the values' index. Given the
		// chance, the planner walks the time index instead, testing each
		// payload, expecting a match every few hundred rows (it cannot
		// estimate containment in the GIN index); for an order name that
		// occurs once in millions that walk takes minutes at 5 million
		// messages. Sorting by an expression takes that path away. The
		// price: a value in very many messages (a currency code) is
		// collected in full before the newest are picked.
		order = messageSearchByExpression
	}
	sql += order + strconv.Itoa(limit+1)
	return sql, w.Args(), limit, nil
}
