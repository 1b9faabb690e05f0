package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/txn"
)

// DeliveryStatus is where one delivery stands.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // queued, not attempted yet
	DeliveryHeld      DeliveryStatus = "held"      // waiting for an earlier message of its sequence key
	DeliveryRetrying  DeliveryStatus = "retrying"  // failed, another attempt is scheduled
	DeliveryDelivered DeliveryStatus = "delivered" // the target took it (or it was captured)
	DeliveryFailed    DeliveryStatus = "failed"    // refused or out of retries; an exception says why
	// DeliverySuperseded: a newer message of the sequence key was
	// delivered instead (sequenceMode latest); SupersededBy names it.
	DeliverySuperseded DeliveryStatus = "superseded"
)

// Sendable says whether a deliver job may attempt a delivery in this
// status: pending or retrying. Delivered, failed and superseded ones are
// finished; a held one waits for its lane, which releases it with a job
// of its own.
func (s DeliveryStatus) Sendable() bool {
	return s == DeliveryPending || s == DeliveryRetrying
}

// Delivery is a message × route to a target, with its attempts and, for a
// capture target, what was captured.
type Delivery struct {
	ID        uuid.UUID `json:"id"`
	MessageID uuid.UUID `json:"messageId"`
	Route     string    `json:"route"`
	// Step is the step (a route's then) the delivery sends, "" for the
	// route's own delivery; ParentID is the delivery it follows.
	Step     string     `json:"step,omitempty"`
	ParentID *uuid.UUID `json:"parentId,omitempty"`
	// Response is the stored answer of a delivered route or step that
	// has steps after it (engine.Response: status, headers, body).
	Response       json.RawMessage `json:"response,omitempty"`
	Target         string          `json:"target"`
	TargetKind     string          `json:"targetKind"`
	Body           json.RawMessage `json:"body"`
	Status         DeliveryStatus  `json:"status"`
	Attempts       int             `json:"attempts"`
	LastStatusCode *int            `json:"lastStatusCode,omitempty"`
	LastError      string          `json:"lastError,omitempty"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt,omitempty"`
	DeliveredAt    *time.Time      `json:"deliveredAt,omitempty"`
	// SupersededBy is the newer message of the sequence key delivered
	// instead of this one (status superseded).
	SupersededBy *uuid.UUID `json:"supersededBy,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	AttemptLog   []Attempt  `json:"attemptLog"`
	Capture      *Capture   `json:"capture,omitempty"`
}

// Attempt is one try of a delivery. ResponseExcerpt holds at most the first
// 2 KiB of the target's answer; neither it nor Error ever holds a secret.
type Attempt struct {
	N               int       `json:"n"`
	StartedAt       time.Time `json:"startedAt"`
	LatencyMS       int       `json:"latencyMs"`
	StatusCode      *int      `json:"statusCode,omitempty"`
	Outcome         string    `json:"outcome"` // delivered, retry, failed, captured
	ResponseExcerpt string    `json:"responseExcerpt,omitempty"`
	Error           string    `json:"error,omitempty"`
}

// Capture is what a capture target recorded instead of sending. Secret
// headers are masked.
type Capture struct {
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
	CapturedAt time.Time         `json:"capturedAt"`
}

func deliveriesOf(ctx context.Context, db txn.DBTX, messageID uuid.UUID) ([]Delivery, error) {
	rows, err := db.Query(ctx, deliveriesOfMessageSelect, messageID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", messageID, err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		var body, capBody []byte
		var capMethod, capURL *string
		var capHeaders map[string]string
		var capAt *time.Time
		var response []byte
		err := r.Scan(&d.ID, &d.MessageID, &d.Route, &d.Target, &d.TargetKind, &body, &d.Status, &d.Attempts, &d.LastStatusCode,
			&d.LastError, &d.NextAttemptAt, &d.DeliveredAt, &d.CreatedAt, &d.SupersededBy, &capMethod, &capURL, &capHeaders, &capBody, &capAt,
			&d.Step, &d.ParentID, &response)
		d.Body = body
		if response != nil {
			d.Response = response
		}
		if capMethod != nil {
			d.Capture = &Capture{Method: *capMethod, URL: *capURL, Headers: capHeaders, Body: capBody, CapturedAt: *capAt}
		}
		d.AttemptLog = []Attempt{}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", messageID, err)
	}
	if len(ds) == 0 {
		return []Delivery{}, nil
	}
	index := make(map[uuid.UUID]int, len(ds))
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		index[d.ID] = i
		ids[i] = d.ID
	}
	rows, err = db.Query(ctx, attemptsOfMessageSelect, ids)
	if err != nil {
		return nil, fmt.Errorf("attempts of %s: %w", messageID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var a Attempt
		if err := rows.Scan(&id, &a.N, &a.StartedAt, &a.LatencyMS, &a.StatusCode, &a.Outcome, &a.ResponseExcerpt, &a.Error); err != nil {
			return nil, fmt.Errorf("attempts of %s: %w", messageID, err)
		}
		ds[index[id]].AttemptLog = append(ds[index[id]].AttemptLog, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempts of %s: %w", messageID, err)
	}
	return ds, nil
}

// CapturedRequest is one capture with where it belongs, for the captures
// page of an environment.
type CapturedRequest struct {
	Capture
	ID            int64     `json:"id"`
	DeliveryID    uuid.UUID `json:"deliveryId"`
	MessageID     uuid.UUID `json:"messageId"`
	CorrelationID string    `json:"correlationId"`
	Target        string    `json:"target"`
}

// CaptureList returns an environment's captured requests, newest first,
// optionally for one target (target ""), at most limit (default 50, at
// most 500) older than beforeID (0: from the newest).
func CaptureList(ctx context.Context, db txn.DBTX, envID int64, target string, beforeID int64, limit int) ([]CapturedRequest, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := db.Query(ctx, captureListSelect, envID, target, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list captures: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CapturedRequest, error) {
		var c CapturedRequest
		var body []byte
		err := r.Scan(&c.ID, &c.DeliveryID, &c.MessageID, &c.CorrelationID, &c.Target, &c.Method, &c.URL, &c.Headers, &body, &c.CapturedAt)
		c.Body = body
		return c, err
	})
}

// StepDeliveryID is the id of the delivery of a step (a route's then) of
// a message: like DeliveryID, derived from the message, the route and the
// step, so the step's Idempotency-Key is the same however often the
// delivery before it is recorded, retried or its steps mapped again.
func StepDeliveryID(message uuid.UUID, route, step string) uuid.UUID {
	return DeliveryID(message, route+"\x00"+step)
}

// DeliveryID is a delivery's id, derived from its message and route so
// that processing a message again names its deliveries the same: the id
// is the Idempotency-Key a target dedupes on, and a process job may send
// a first attempt and die before recording it. The first 48 bits are the
// message's (a UUIDv7's milliseconds), so deliveries sort by time as
// their messages do; the rest is a SHA-256 of message and route, with
// the version (8, custom) and variant bits of RFC 9562.
func DeliveryID(message uuid.UUID, route string) uuid.UUID {
	h := sha256.Sum256(append(message[:], route...))
	var id uuid.UUID
	copy(id[:6], message[:6])
	copy(id[6:], h[:10])
	id[6] = id[6]&0x0f | 0x80
	id[8] = id[8]&0x3f | 0x80
	return id
}
