package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
)

// noDB fails every query: a cache hit must not reach it.
type noDB struct{}

func (noDB) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errNoDB
}
func (noDB) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, errNoDB }
func (noDB) QueryRow(context.Context, string, ...any) pgx.Row        { return errRow{} }

type errRow struct{}

func (errRow) Scan(...any) error { return errNoDB }

var errNoDB = fault.Errorf(fault.Unavailable, "the database was asked")

func TestKeyCache(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	actor := account.Actor{Email: "root@shop.example"}
	k, token, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "storefront", Environment: "dev"}, actor)
	require.NoError(t, err)
	kc := account.NewKeyCache(time.Second)

	got, err := kc.Authenticate(ctx, db, token, now)
	require.NoError(t, err)
	require.Equal(t, k.ID, got.ID)

	// Within the TTL the database is not asked…
	got, err = kc.Authenticate(ctx, noDB{}, token, now.Add(900*time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, k.ID, got.ID)
	// …but the secret is still checked: a right prefix with a wrong secret
	// goes to the database (and is refused there).
	forged := k.Prefix + "_" + strings.Repeat("A", 43)
	_, err = kc.Authenticate(ctx, db, forged, now.Add(900*time.Millisecond))
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
	_, err = kc.Authenticate(ctx, noDB{}, token, now.Add(950*time.Millisecond))
	require.Error(t, err, "a refused secret drops the cached key")

	// Revoked elsewhere (another process): refused once the TTL has passed.
	_, err = kc.Authenticate(ctx, db, token, now.Add(time.Second))
	require.NoError(t, err)
	require.NoError(t, account.APIKeyRevoke(ctx, db, k.Prefix, actor))
	_, err = kc.Authenticate(ctx, db, token, now.Add(2100*time.Millisecond))
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))

	// Revoked through this process: Forget makes it immediate.
	k2, token2, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "pos", Environment: "dev"}, actor)
	require.NoError(t, err)
	_, err = kc.Authenticate(ctx, db, token2, now)
	require.NoError(t, err)
	require.NoError(t, account.APIKeyRevoke(ctx, db, k2.Prefix, actor))
	kc.Forget(k2.Prefix)
	_, err = kc.Authenticate(ctx, db, token2, now.Add(time.Millisecond))
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))

	// Malformed tokens never reach the database.
	_, err = kc.Authenticate(ctx, noDB{}, "nonsense", now)
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
}
