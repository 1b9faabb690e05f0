package inbox_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
)

// A message of a sequence key that fails for good holds the later ones of
// its key; the inbox releases them (jobstest.SetupUpdates: key K's update
// 3 fails validation).
func TestSequencePoison(t *testing.T) {
	t.Parallel()
	actor := func(b *jobstest.Updates) account.Actor {
		return account.Actor{UserID: b.Editor.UserID, Email: b.Editor.Email}
	}

	// Update 3 of key K fails validation: 4–10 are held behind it while
	// key L delivers; replaying 3 with its payload fixed delivers 3, then
	// 4–10 in order.
	t.Run("poison message held until replayed", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		ids := map[int]uuid.UUID{}
		for n := 1; n <= 10; n++ {
			extra := ""
			if n == 3 {
				extra = `, "ok": false`
			}
			ids[n] = b.Post(t, "K", n, extra)
		}
		for n := 1; n <= 5; n++ {
			b.Post(t, "L", n, "")
		}
		b.WaitDelivered(t, 2+5)
		b.WaitStatus(t, ids[3], store.StatusRejected)
		for n := 4; n <= 10; n++ {
			v := b.WaitStatus(t, ids[n], store.StatusHeld)
			require.Equal(t, store.DeliveryHeld, v.Deliveries[0].Status)
			require.Equal(t, &store.SequenceState{Key: "K", HeldBehind: &[]uuid.UUID{ids[3]}[0]}, v.Sequence, "update %d", n)
		}
		require.Equal(t, []int{1, 2}, b.Target.Delivered("K"))
		require.Equal(t, []int{1, 2, 3, 4, 5}, b.Target.Delivered("L"))

		ex, err := store.ExceptionsOfMessage(ctx, b.Pool, ids[3])
		require.NoError(t, err)
		require.Len(t, ex, 1)
		it, err := inbox.ExceptionGet(ctx, b.Pool, ex[0].ID)
		require.NoError(t, err)
		require.Equal(t, &store.SequenceState{Key: "K", Blocking: 7}, it.Sequence, "blocking 7 later messages for key K")
		blocking, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Blocking: true})
		require.NoError(t, err)
		require.Len(t, blocking, 1, "the inbox's blocking filter")
		require.Equal(t, ex[0].ID, blocking[0].ID)
		var revision uuid.UUID
		require.NoError(t, txn.Run(ctx, b.Pool, func(tx pgx.Tx) error {
			revision, err = inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex[0].ID,
				Payload: []byte(`{"key": "K", "n": 3}`), Reason: "fixed", Actor: actor(b)})
			return err
		}))
		b.WaitStatus(t, revision, store.StatusDelivered)
		b.WaitDelivered(t, 10+5)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, b.Target.Delivered("K"))
	})

	// Ignoring the exception of update 3 releases 4–10 without it.
	t.Run("poison message ignored", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		ids := map[int]uuid.UUID{}
		for n := 1; n <= 10; n++ {
			extra := ""
			if n == 3 {
				extra = `, "ok": false`
			}
			ids[n] = b.Post(t, "K", n, extra)
		}
		b.WaitDelivered(t, 2)
		b.WaitStatus(t, ids[10], store.StatusHeld)
		ex, err := store.ExceptionsOfMessage(ctx, b.Pool, ids[3])
		require.NoError(t, err)
		require.NoError(t, txn.Run(ctx, b.Pool, func(tx pgx.Tx) error {
			return inbox.ExceptionIgnore(ctx, tx, b.Client, ex[0].ID, "test update, not needed", actor(b))
		}))
		b.WaitDelivered(t, 9)
		require.Equal(t, []int{1, 2, 4, 5, 6, 7, 8, 9, 10}, b.Target.Delivered("K"))
		v := b.WaitStatus(t, ids[4], store.StatusDelivered)
		require.Contains(t, jobstest.Stages(v), store.StageHeld)
	})

	// The target refuses update 3 of key K for good: 4–6 are held behind
	// its delivery exception while key L delivers; retrying it once the
	// target takes it delivers 3, then 4–6 in order.
	t.Run("refused delivery held until retried", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		b.Target.SetRefuse("K", 3)
		ids := map[int]uuid.UUID{}
		for n := 1; n <= 6; n++ {
			ids[n] = b.Post(t, "K", n, "")
		}
		for n := 1; n <= 4; n++ {
			b.Post(t, "L", n, "")
		}
		b.WaitStatus(t, ids[3], store.StatusFailed)
		for n := 4; n <= 6; n++ {
			b.WaitStatus(t, ids[n], store.StatusHeld)
		}
		require.Equal(t, []int{1, 2}, b.Target.Delivered("K"))
		ex, err := store.ExceptionsOfMessage(ctx, b.Pool, ids[3])
		require.NoError(t, err)
		require.Len(t, ex, 1)
		require.Equal(t, store.ExceptionDelivery, ex[0].Kind)
		it, err := inbox.ExceptionGet(ctx, b.Pool, ex[0].ID)
		require.NoError(t, err)
		require.Equal(t, 3, it.Sequence.Blocking)

		b.Target.SetRefuse("", 0)
		require.NoError(t, txn.Run(ctx, b.Pool, func(tx pgx.Tx) error {
			return inbox.ExceptionRetry(ctx, tx, b.Client, ex[0].ID, actor(b))
		}))
		b.WaitDelivered(t, 6+4)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6}, b.Target.Delivered("K"))
		require.Equal(t, []int{1, 2, 3, 4}, b.Target.Delivered("L"))
	})

	// A replay takes its original's place in the key's order: the target
	// refuses update 3 of key K for good, 4–6 are held behind it; once the
	// target takes it, replaying 3 (a new message) delivers it before 4–6,
	// not after them, and the original stays out of the order.
	t.Run("refused delivery held until replayed", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		b.Target.SetRefuse("K", 3)
		ids := map[int]uuid.UUID{}
		for n := 1; n <= 6; n++ {
			ids[n] = b.Post(t, "K", n, "")
		}
		b.WaitStatus(t, ids[3], store.StatusFailed)
		for n := 4; n <= 6; n++ {
			b.WaitStatus(t, ids[n], store.StatusHeld)
		}
		ex, err := store.ExceptionsOfMessage(ctx, b.Pool, ids[3])
		require.NoError(t, err)
		require.Len(t, ex, 1)

		b.Target.SetRefuse("", 0)
		var revision uuid.UUID
		require.NoError(t, txn.Run(ctx, b.Pool, func(tx pgx.Tx) error {
			revision, err = inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex[0].ID,
				Reason: "the ERP takes it now", Actor: actor(b)})
			return err
		}))
		b.WaitStatus(t, revision, store.StatusDelivered)
		for n := 4; n <= 6; n++ {
			b.WaitStatus(t, ids[n], store.StatusDelivered)
		}
		require.Equal(t, []int{1, 2, 3, 4, 5, 6}, b.Target.Delivered("K"), "the replay of 3 before 4–6")
		var original, replayed int64
		require.NoError(t, b.Pool.QueryRow(ctx, `select o.sequence_n, r.sequence_n from messages o, messages r where o.id = $1 and r.id = $2`,
			ids[3], revision).Scan(&original, &replayed))
		require.Equal(t, original, replayed, "the replay has its original's place")
		require.Zero(t, b.CountRows(t, `select count(*) from deliveries where status = 'held'`))
	})
}
