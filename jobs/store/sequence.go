package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/txn"
)

// SequenceState is where a message with a sequence key (keys.sequence)
// stands in its key's order.
type SequenceState struct {
	// Key is the message's sequence key.
	Key string `json:"key"`
	// HeldBehind is the earliest earlier message of the key its held
	// deliveries wait for: one not delivered yet, or one that failed for
	// good and holds the key until a person deals with it. Nil when
	// nothing of the message is held.
	HeldBehind *uuid.UUID `json:"heldBehind,omitempty"`
	// Blocking is, while the message has an open exception, how many later
	// messages of its key are held (behind it or behind those it holds).
	Blocking int `json:"blocking"`
}

// SequenceStateOf returns the sequence state of message id; nil for a
// message without a sequence key (or one that does not exist).
func SequenceStateOf(ctx context.Context, db txn.DBTX, id uuid.UUID) (*SequenceState, error) {
	var s SequenceState
	err := db.QueryRow(ctx, sequenceStateSelect, id).Scan(&s.Key, &s.HeldBehind, &s.Blocking)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sequence state of %s: %w", id, err)
	}
	return &s, nil
}
