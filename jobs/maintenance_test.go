package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

func TestMaintenanceDeletesOnlyWhatExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })

	now := time.Now()
	_, err = tx.Exec(ctx, `insert into sessions (token, data, expiry) values ('old', '', $1), ('live', '', $2)`, now.Add(-time.Minute), now.Add(time.Hour))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `insert into login_attempts (email, address, succeeded, at) values ('a@b.c', '1.2.3.4', false, $1), ('a@b.c', '1.2.3.4', false, $2)`,
		now.Add(-jobs.LoginAttemptRetention-time.Hour), now.Add(-time.Hour))
	require.NoError(t, err)

	worker := rivertest.NewWorker(t, riverpgxv5.New(pool), &river.Config{}, &jobs.MaintenanceWorker{DB: tx})
	res, err := worker.Work(ctx, t, tx, jobs.MaintenanceArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	var sessions []string
	rows, err := tx.Query(ctx, `select token from sessions order by token`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		sessions = append(sessions, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"live"}, sessions)
	var attempts int
	require.NoError(t, tx.QueryRow(ctx, `select count(*) from login_attempts`).Scan(&attempts))
	require.Equal(t, 1, attempts)

	// At-least-once: a second run changes nothing more.
	_, err = worker.Work(ctx, t, tx, jobs.MaintenanceArgs{}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.QueryRow(ctx, `select count(*) from login_attempts`).Scan(&attempts))
	require.Equal(t, 1, attempts)
}

func TestClientStartsAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	client, err := jobs.NewClient(pool, nil, jobs.Config{})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, client.Stop(stopCtx))
}

// Idempotency keys are held for their time, then released: the same key
// (even with another payload) then makes a new message, and the old
// message keeps its key for search.
func TestKeyClaimsAreReleasedAfterTheirTime(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	old := b.Accept(t, `{"id": 7, "name": "#7", "total": 1}`)
	recent := b.Accept(t, `{"id": 8, "name": "#8", "total": 1}`)
	_, err := b.Pool.Exec(ctx, `update messages set received_at = now() - interval '73 hours' where id = $1`, old.MessageID)
	require.NoError(t, err)

	worker := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &jobs.MaintenanceWorker{DB: b.Pool})
	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = worker.Work(ctx, t, tx, jobs.MaintenanceArgs{}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	again := b.Accept(t, `{"id": 7, "name": "#7", "total": 2}`)
	require.False(t, again.Replayed, "the released key makes a new message")
	require.NotEqual(t, old.MessageID, again.MessageID)
	_, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(`{"id": 8, "name": "#8", "total": 2}`)})
	require.ErrorIs(t, err, intake.ErrKeyReused, "a key inside its time is still held")
	replay := b.Accept(t, `{"id": 8, "name": "#8", "total": 1}`)
	require.Equal(t, recent.MessageID, replay.MessageID)
	require.Equal(t, 2, b.CountRows(t, `select count(*) from messages where idempotency_key = 'order-7'`), "the key stays on both messages")

	n, err := jobs.ReleaseKeyClaims(ctx, b.Pool, time.Now().Add(-72*time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "releasing again changes nothing")
}
