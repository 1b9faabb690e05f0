package account_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
)

// authenticateAtOnce runs n sign-ins together (released at one moment) and
// counts the answers by fault code.
func authenticateAtOnce(t *testing.T, db account.Beginner, n int, email func(i int) string, password, address string, now time.Time) map[fault.Code]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[fault.Code]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := account.Authenticate(context.Background(), db, email(i), password, address, now)
			code := fault.Code("ok")
			if err != nil {
				code = fault.CodeOf(err)
			}
			mu.Lock()
			got[code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return got
}

// widePool is a pool with a connection for each of 32 concurrent
// sign-ins, so that their statements really run at the same time.
func widePool(t *testing.T) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(dbtest.NewDatabase(t))
	require.NoError(t, err)
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// TestConcurrentWrongPasswordsAreThrottled: the attempt is reserved before
// the password is hashed, so a burst of guesses gets no more wrong-password
// answers than the limit allows. When the count was read before hashing
// and written after, all 30 got "wrong password".
func TestConcurrentWrongPasswordsAreThrottled(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

	t.Run("one account", func(t *testing.T) {
		t.Parallel()
		db := widePool(t)
		_, err := account.UserCreate(context.Background(), db, account.NewUser{Email: "kim@shop.example", Role: account.RoleViewer, Password: goodPassword})
		require.NoError(t, err)
		got := authenticateAtOnce(t, db, 30, func(int) string { return "kim@shop.example" }, "wrong password!!", "10.0.0.2", now)
		require.Equal(t, map[fault.Code]int{fault.Unauthorized: account.AccountFailureLimit, fault.TooMany: 30 - account.AccountFailureLimit}, got)
		var failed int
		require.NoError(t, db.QueryRow(context.Background(), `select count(*) from login_attempts where not succeeded`).Scan(&failed))
		require.Equal(t, account.AccountFailureLimit, failed, "refused attempts are not recorded")
		_, err = account.Authenticate(context.Background(), db, "kim@shop.example", goodPassword, "10.0.0.3", now)
		require.Equal(t, fault.TooMany, fault.CodeOf(err), "the right password waits out the window too")
	})

	t.Run("one address", func(t *testing.T) {
		t.Parallel()
		db := widePool(t)
		got := authenticateAtOnce(t, db, 30, func(i int) string { return fmt.Sprintf("guess%d@shop.example", i) }, "wrong password!!", "192.0.2.9", now)
		require.Equal(t, map[fault.Code]int{fault.Unauthorized: account.AddressFailureLimit, fault.TooMany: 30 - account.AddressFailureLimit}, got)
	})

	t.Run("a right password is marked succeeded", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewPool(t)
		_, err := account.UserCreate(context.Background(), db, account.NewUser{Email: "lee@shop.example", Role: account.RoleViewer, Password: goodPassword})
		require.NoError(t, err)
		for i := range account.AccountFailureLimit - 1 {
			_, err := account.Authenticate(context.Background(), db, "lee@shop.example", "wrong password!!", "10.0.0.4", now.Add(time.Duration(i)*time.Second))
			require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
		}
		_, err = account.Authenticate(context.Background(), db, "lee@shop.example", goodPassword, "10.0.0.4", now.Add(time.Minute))
		require.NoError(t, err)
		// The success resets the account's count: a full set of failures
		// is allowed again.
		for i := range account.AccountFailureLimit {
			_, err := account.Authenticate(context.Background(), db, "lee@shop.example", "wrong password!!", "10.0.0.4", now.Add(2*time.Minute+time.Duration(i)*time.Second))
			require.Equal(t, fault.Unauthorized, fault.CodeOf(err), "attempt %d", i)
		}
	})
}
