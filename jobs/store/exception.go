package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/txn"
)

// ExceptionKind says what kind of failure needs a person.
type ExceptionKind string

// The exception kinds.
const (
	// ExceptionValidation: a validation rule rejected the message; the
	// sender or the payload must change.
	ExceptionValidation ExceptionKind = "validation"
	// ExceptionMapping: an expression failed at run time; the flow or the
	// payload must change.
	ExceptionMapping ExceptionKind = "mapping"
	// ExceptionDelivery: the target refused the delivery or retries ran
	// out.
	ExceptionDelivery ExceptionKind = "delivery"
	// ExceptionConfiguration: the environment lacks something the flow
	// needs (a target's configuration, a readable secret).
	ExceptionConfiguration ExceptionKind = "configuration"
)

// ExceptionStatus is where a person stands with an exception.
type ExceptionStatus string

// The exception statuses: open → assigned → resolved | ignored.
const (
	ExceptionOpen     ExceptionStatus = "open"
	ExceptionAssigned ExceptionStatus = "assigned"
	ExceptionResolved ExceptionStatus = "resolved"
	ExceptionIgnored  ExceptionStatus = "ignored"
)

// Exception is a message or delivery that needs a person. Exceptions with
// the same Fingerprint (flow + stage + error class) are one group in the
// inbox, so 5,000 identical failures are one row to act on.
type Exception struct {
	ID            int64           `json:"id"`
	Kind          ExceptionKind   `json:"kind"`
	Fingerprint   string          `json:"fingerprint"`
	EnvironmentID int64           `json:"environmentId"`
	FlowID        int64           `json:"flowId"`
	MessageID     uuid.UUID       `json:"messageId"`
	DeliveryID    *uuid.UUID      `json:"deliveryId,omitempty"`
	Stage         string          `json:"stage"`
	ErrorClass    string          `json:"errorClass"`
	Message       string          `json:"message"`
	Detail        json.RawMessage `json:"detail"`
	Status        ExceptionStatus `json:"status"`
	Resolution    string          `json:"resolution,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`
	ResolvedAt    *time.Time      `json:"resolvedAt,omitempty"`
}

// Fingerprint groups exceptions: the same flow failing at the same stage
// for the same class of error. The class must not contain per-message
// values (ids, amounts), or every failure becomes its own group.
func Fingerprint(flowID int64, stage, errorClass string) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(flowID, 10) + "\x00" + stage + "\x00" + errorClass))
	return hex.EncodeToString(sum[:12])
}

// ItemIndex matches the positions in a row path ("lines[2].sku"), which
// differ between messages failing in the same place.
var ItemIndex = regexp.MustCompile(`\[\d+\]`)

// RaiseException files an exception, or refreshes the open one of the same
// message, delivery and stage, so a worker that runs twice files once.
func RaiseException(ctx context.Context, db txn.DBTX, e Exception) error {
	if e.Detail == nil {
		e.Detail = json.RawMessage(`{}`)
	}
	e.Fingerprint = Fingerprint(e.FlowID, e.Stage, e.ErrorClass)
	_, err := db.Exec(ctx, exceptionInsert,
		e.Kind, e.Fingerprint, e.EnvironmentID, e.FlowID, e.MessageID, e.DeliveryID, e.Stage, e.ErrorClass, e.Message, string(e.Detail))
	if err != nil {
		return fmt.Errorf("raise %s exception for message %s: %w", e.Kind, e.MessageID, err)
	}
	return nil
}

// ExceptionsOfMessage returns a message's exceptions, oldest first.
func ExceptionsOfMessage(ctx context.Context, db txn.DBTX, messageID uuid.UUID) ([]Exception, error) {
	rows, err := db.Query(ctx, exceptionsOfMessageSelect, messageID)
	if err != nil {
		return nil, fmt.Errorf("exceptions of %s: %w", messageID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Exception, error) {
		var e Exception
		var detail []byte
		err := r.Scan(&e.ID, &e.Kind, &e.Fingerprint, &e.EnvironmentID, &e.FlowID, &e.MessageID, &e.DeliveryID, &e.Stage,
			&e.ErrorClass, &e.Message, &detail, &e.Status, &e.Resolution, &e.CreatedAt, &e.UpdatedAt, &e.ResolvedAt)
		e.Detail = detail
		return e, err
	})
}
