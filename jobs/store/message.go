package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// MessageStatus is where a message stands, derived from its lineage: each
// stage that changes it writes the status in the same transaction as the
// lineage event, and delivery outcomes recompute it from the deliveries.
type MessageStatus string

// The message statuses.
const (
	StatusReceived  MessageStatus = "received"  // accepted, not processed yet
	StatusRejected  MessageStatus = "rejected"  // a validation rule failed
	StatusFailed    MessageStatus = "failed"    // mapping failed, or a delivery failed for good
	StatusQueued    MessageStatus = "queued"    // deliveries are waiting or under way
	StatusHeld      MessageStatus = "held"      // waiting for an earlier message of its sequence key
	StatusRetrying  MessageStatus = "retrying"  // a delivery failed and will be retried
	StatusDelivered MessageStatus = "delivered" // every delivery succeeded
	StatusUnrouted  MessageStatus = "unrouted"  // valid, but no route's condition held
	// StatusSuperseded: every delivery was superseded by a newer message
	// of its sequence key (sequenceMode latest).
	StatusSuperseded MessageStatus = "superseded"
)

// Stage names a lineage event.
type Stage string

// The lineage stages, in the order a message normally meets them.
const (
	StageReceived       Stage = "received"
	StageValidated      Stage = "validated"
	StageRejected       Stage = "rejected"
	StageMapped         Stage = "mapped"
	StageRouted         Stage = "routed"
	StageQueued         Stage = "queued"
	StageHeld           Stage = "held"       // waiting for an earlier message of its sequence key
	StageSuperseded     Stage = "superseded" // a newer message of its sequence key is delivered instead
	StageDelivering     Stage = "delivering"
	StageDelivered      Stage = "delivered"
	StageRetryScheduled Stage = "retry_scheduled"
	StageFailed         Stage = "failed"
	StageReplayed       Stage = "replayed" // replayed from the inbox as a new message (a revision)
	StageResolved       Stage = "resolved" // an exception closed by itself or by a person
)

// Message is one accepted event.
type Message struct {
	ID             uuid.UUID       `json:"id"`
	EnvironmentID  int64           `json:"environmentId"`
	Environment    string          `json:"environment"`
	FlowID         int64           `json:"flowId"`
	FlowSlug       string          `json:"flow"`
	VersionNumber  int             `json:"version"`
	Checksum       string          `json:"checksum"`
	IdempotencyKey string          `json:"idempotencyKey"`
	CorrelationID  string          `json:"correlationId"`
	Payload        json.RawMessage `json:"payload"`
	Status         MessageStatus   `json:"status"`
	ReceivedAt     time.Time       `json:"receivedAt"`
	UpdatedAt      time.Time       `json:"updatedAt"`
	// SequenceKey is the message's sequence key (keys.sequence); "" for
	// an unordered message.
	SequenceKey string `json:"sequenceKey,omitempty"`
}

// LineageEvent is one step of a message's story. DeliveryID is set for the
// delivery stages; Duration is how long the stage took where that means
// something (mapping, an attempt).
type LineageEvent struct {
	ID         int64           `json:"id"`
	DeliveryID *uuid.UUID      `json:"deliveryId,omitempty"`
	At         time.Time       `json:"at"`
	Stage      Stage           `json:"stage"`
	Detail     json.RawMessage `json:"detail"`
	DurationMS *int            `json:"durationMs,omitempty"`
}

// MessageView is everything the message page and GET /api/v1/messages/{id}
// show: the message, its lineage in order, its deliveries with their
// attempts and captures, and its exceptions.
type MessageView struct {
	Message    Message        `json:"message"`
	Lineage    []LineageEvent `json:"lineage"`
	Deliveries []Delivery     `json:"deliveries"`
	Exceptions []Exception    `json:"exceptions"`
	// Sequence is where the message stands in its sequence key's order;
	// absent for a message without a key.
	Sequence *SequenceState `json:"sequence,omitempty"`
	// Reply is the flow's synchronous reply (a route's reply mapping),
	// once the answers it names are delivered; absent before, and for a
	// flow without one.
	Reply json.RawMessage `json:"reply,omitempty"`
}

// ParseMessageID parses a message id from a URL; a malformed id is
// NotFound, since no message can have it.
func ParseMessageID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fault.Errorf(fault.NotFound, "no message “%s”; message ids look like 0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b", s)
	}
	return id, nil
}

func scanMessage(row pgx.Row) (Message, error) {
	var m Message
	var payload []byte
	err := row.Scan(&m.ID, &m.EnvironmentID, &m.Environment, &m.FlowID, &m.FlowSlug, &m.VersionNumber, &m.Checksum,
		&m.IdempotencyKey, &m.CorrelationID, &payload, &m.Status, &m.ReceivedAt, &m.UpdatedAt, &m.SequenceKey)
	m.Payload = payload
	return m, err
}

// MessageByID returns a message without its lineage, or NotFound.
func MessageByID(ctx context.Context, db txn.DBTX, id uuid.UUID) (Message, error) {
	m, err := scanMessage(db.QueryRow(ctx, messageByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, fault.Errorf(fault.NotFound, "no message %s", id)
	}
	if err != nil {
		return Message{}, fmt.Errorf("message %s: %w", id, err)
	}
	return m, nil
}

// MessagesByCorrelationID returns the messages sharing a correlation id,
// newest first (at most 100), so support can find an order by its number.
func MessagesByCorrelationID(ctx context.Context, db txn.DBTX, correlationID string) ([]Message, error) {
	rows, err := db.Query(ctx, messagesByCorrelationIDSelect, correlationID)
	if err != nil {
		return nil, fmt.Errorf("messages by correlation id: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) { return scanMessage(r) })
}

// MessageGet returns a message with its lineage, deliveries (with attempts
// and captures), exceptions and, for a message with a sequence key, its
// place in the key's order; or NotFound.
func MessageGet(ctx context.Context, db txn.DBTX, id uuid.UUID) (MessageView, error) {
	m, err := MessageByID(ctx, db, id)
	if err != nil {
		return MessageView{}, err
	}
	v := MessageView{Message: m}
	if v.Lineage, err = lineageOf(ctx, db, id); err != nil {
		return MessageView{}, err
	}
	if v.Deliveries, err = deliveriesOf(ctx, db, id); err != nil {
		return MessageView{}, err
	}
	if v.Exceptions, err = ExceptionsOfMessage(ctx, db, id); err != nil {
		return MessageView{}, err
	}
	if m.SequenceKey != "" {
		if v.Sequence, err = SequenceStateOf(ctx, db, id); err != nil {
			return MessageView{}, err
		}
	}
	if v.Reply, err = MessageReply(ctx, db, id); err != nil {
		return MessageView{}, err
	}
	return v, nil
}

// MessageReply returns the message's reply (MessageView.Reply), nil
// while there is none.
func MessageReply(ctx context.Context, db txn.DBTX, id uuid.UUID) (json.RawMessage, error) {
	var reply []byte
	if err := db.QueryRow(ctx, messageReplySelect, id).Scan(&reply); err != nil {
		return nil, fmt.Errorf("reply of %s: %w", id, err)
	}
	if reply == nil {
		return nil, nil
	}
	return reply, nil
}

func lineageOf(ctx context.Context, db txn.DBTX, id uuid.UUID) ([]LineageEvent, error) {
	rows, err := db.Query(ctx, lineageOfMessageSelect, id)
	if err != nil {
		return nil, fmt.Errorf("lineage of %s: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LineageEvent, error) {
		var e LineageEvent
		var detail []byte
		err := r.Scan(&e.ID, &e.DeliveryID, &e.At, &e.Stage, &detail, &e.DurationMS)
		e.Detail = detail
		return e, err
	})
}

// Lineage is one event to write; AddLineage writes several in one round
// trip.
type Lineage struct {
	DeliveryID *uuid.UUID
	At         time.Time
	Stage      Stage
	Detail     any
	Duration   *time.Duration
}

// LineageColumns are lineage events column by column, for an unnest
// insert: element i of each is event i.
type LineageColumns struct {
	DeliveryIDs []*uuid.UUID
	Ats         []time.Time
	Stages      []string
	Details     []string
	Durations   []*int64
}

// LineageColumnsOf turns events into columns; a zero At is now and a nil
// Detail an empty object.
func LineageColumnsOf(events []Lineage) (LineageColumns, error) {
	c := LineageColumns{
		DeliveryIDs: make([]*uuid.UUID, len(events)),
		Ats:         make([]time.Time, len(events)),
		Stages:      make([]string, len(events)),
		Details:     make([]string, len(events)),
		Durations:   make([]*int64, len(events)),
	}
	for i, e := range events {
		c.DeliveryIDs[i], c.Ats[i], c.Stages[i] = e.DeliveryID, e.At, string(e.Stage)
		if c.Ats[i].IsZero() {
			c.Ats[i] = time.Now()
		}
		detail := e.Detail
		if detail == nil {
			detail = struct{}{}
		}
		b, err := json.Marshal(detail)
		if err != nil {
			return LineageColumns{}, fmt.Errorf("lineage detail: %w", err)
		}
		c.Details[i] = string(b)
		if e.Duration != nil {
			ms := e.Duration.Milliseconds()
			c.Durations[i] = &ms
		}
	}
	return c, nil
}

// AddLineage writes events of one message in one round trip, in order.
func AddLineage(ctx context.Context, db txn.DBTX, messageID uuid.UUID, events ...Lineage) error {
	if len(events) == 0 {
		return nil
	}
	c, err := LineageColumnsOf(events)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, lineageInsert,
		messageID, c.DeliveryIDs, c.Ats, c.Stages, c.Details, c.Durations)
	if err != nil {
		return fmt.Errorf("lineage of %s: %w", messageID, err)
	}
	return nil
}

// SetMessageStatus sets a message's status outright, for the stages that
// decide it without looking at deliveries.
func SetMessageStatus(ctx context.Context, db txn.DBTX, id uuid.UUID, status MessageStatus) error {
	if _, err := db.Exec(ctx, messageStatusUpdate, id, status); err != nil {
		return fmt.Errorf("message %s status: %w", id, err)
	}
	return nil
}

// RecomputeMessageStatus derives routed messages' statuses from their
// deliveries: any failed → failed (someone must look), any retrying →
// retrying, all superseded → superseded, all delivered or superseded →
// delivered, any pending → queued, any held → held, else queued. The message rows are
// locked first, in id order, so two deliveries finishing at once cannot
// each miss the other's outcome and two callers locking several messages
// cannot deadlock. The lock is FOR NO KEY UPDATE, not FOR UPDATE: rows
// inserted earlier in the same transactions (exceptions) may hold KEY
// SHARE locks on the message through their foreign keys, and FOR UPDATE
// would make two such transactions deadlock on each other.
func RecomputeMessageStatus(ctx context.Context, db txn.DBTX, ids ...uuid.UUID) error {
	if _, err := db.Exec(ctx, messagesLock, ids); err != nil {
		return fmt.Errorf("lock messages %v: %w", ids, err)
	}
	return RecomputeLockedMessageStatus(ctx, db, ids...)
}

// RecomputeLockedMessageStatus is RecomputeMessageStatus for a caller that
// locked the message rows FOR NO KEY UPDATE in an earlier statement of the
// same transaction (this statement's snapshot must be taken after the lock
// was granted, so it sees every delivery outcome committed before).
func RecomputeLockedMessageStatus(ctx context.Context, db txn.DBTX, ids ...uuid.UUID) error {
	_, err := db.Exec(ctx, messageStatusRecompute, ids)
	if err != nil {
		return fmt.Errorf("messages %v status: %w", ids, err)
	}
	return nil
}

// DB is a pool (or a transaction, in tests): queries plus Begin for the
// short transactions intake and the workers run.
type DB interface {
	txn.DBTX
	txn.Beginner
}

// Truncate shortens s to at most n bytes, cut at a rune boundary and
// marked with an ellipsis, for the excerpts and errors the store keeps.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
