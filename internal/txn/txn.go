// Package txn runs a function in a short, explicit PostgreSQL transaction.
package txn

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Beginner is a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Run begins a transaction, calls fn and commits when fn returns nil. It rolls
// back otherwise, with a context that is not cancelled, so that a request the
// client abandoned still releases its locks at once.
func Run(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
