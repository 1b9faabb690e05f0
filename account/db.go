// Package account holds the people and credentials of a Crossdock
// installation: users and their roles, password hashing, sign-in throttling
// and the audit log every other package writes to. It stands beside the
// layered packages because both web and jobs need it.
package account

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what every storage function runs on: a pool or a transaction alike,
// so a caller can put a user change and its audit entry in one transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
