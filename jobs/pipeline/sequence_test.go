package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
)

// Sequence keys against a real target (jobstest.SetupUpdates): each
// concern its own subtest with a database of its own. The poison tests,
// which go through the inbox, are in jobs/inbox.
func TestSequence(t *testing.T) {
	t.Parallel()

	// Updates of 20 keys, each key's posted one after the other and the
	// keys concurrently, to a target refusing 30 % of requests: each
	// update is delivered exactly once per idempotency key, and per key
	// no request of an update reaches the target before the previous
	// update was delivered.
	t.Run("ordered per key through retries", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0.3)
		const keys, updates = 20, 10
		var wg sync.WaitGroup
		for k := range keys {
			wg.Go(func() {
				for n := 1; n <= updates; n++ {
					b.Post(t, fmt.Sprintf("K%02d", k), n, "")
				}
			})
		}
		wg.Wait()
		b.WaitDelivered(t, keys*updates)

		log := b.Target.Requests()
		okByIdem := map[string]int{}
		for _, r := range log {
			if r.Status == http.StatusOK {
				okByIdem[r.IdempotencyKey]++
			}
		}
		require.Len(t, okByIdem, keys*updates)
		for idem, n := range okByIdem {
			require.Equal(t, 1, n, "delivery %s taken %d times", idem, n)
		}
		failed := 0
		for k := range keys {
			key := fmt.Sprintf("K%02d", k)
			last := 0 // the last update of key delivered
			for _, r := range log {
				if r.Key != key {
					continue
				}
				require.Equal(t, last+1, r.N, "key %s: update %d sent after update %d was delivered", key, r.N, last)
				if r.Status == http.StatusOK {
					last = r.N
				} else {
					failed++
				}
			}
			require.Equal(t, updates, last, "key %s", key)
		}
		require.NotZero(t, failed, "the target refused nothing")
		require.Zero(t, b.CountRows(t, `select count(*) from deliveries where status = 'held'`))
		require.Zero(t, b.CountRows(t, `select count(*) from river_job where errors is not null`), "no job failed (a deadlock between lanes, say)")
	})

	// The lines of a batch are in the order of their position, though the
	// batch is inserted sorted by idempotency key (B-10 before B-2).
	t.Run("batch lines in order", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0.3)
		var lines [][]byte
		for n := 1; n <= 12; n++ {
			lines = append(lines, fmt.Appendf(nil, `{"key": "B", "n": %d}`, n))
		}
		res, err := b.Intake.AcceptBatch(context.Background(), intake.BatchRequest{Env: "dev", FlowSlug: "updates", Lines: lines})
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		b.WaitDelivered(t, 12)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b.Target.Delivered("B"))
	})

	// In latest mode, of the updates that waited together behind update 1
	// only the newest is delivered; the others are superseded by it.
	t.Run("latest delivers the newest waiting", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key", "sequenceMode": "latest"`, 0)
		gate := make(chan struct{})
		b.Target.SetGate(gate)
		ids := map[int]uuid.UUID{}
		ids[1] = b.Post(t, "SKU", 1, "")
		b.WaitStatus(t, ids[1], store.StatusQueued)
		for n := 2; n <= 6; n++ {
			ids[n] = b.Post(t, "SKU", n, "")
		}
		for n := 2; n <= 6; n++ {
			b.WaitStatus(t, ids[n], store.StatusHeld)
		}
		close(gate)
		b.WaitStatus(t, ids[6], store.StatusDelivered)
		for n := 2; n <= 5; n++ {
			v := b.WaitStatus(t, ids[n], store.StatusSuperseded)
			require.Equal(t, store.DeliverySuperseded, v.Deliveries[0].Status)
			require.Equal(t, ids[6], *v.Deliveries[0].SupersededBy)
			require.Contains(t, jobstest.Stages(v), store.StageSuperseded)
		}
		require.Equal(t, []int{1, 6}, b.Target.Delivered("SKU"))
		// A later update waits for nothing superseded.
		ids[7] = b.Post(t, "SKU", 7, "")
		b.WaitStatus(t, ids[7], store.StatusDelivered)
		require.Equal(t, []int{1, 6, 7}, b.Target.Delivered("SKU"))
	})

	// The orphan check wakes a lane whose held delivery has waited long
	// with nothing before it, as if its wake-up had been lost.
	t.Run("orphan check wakes a stale lane", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		id := b.Post(t, "K", 1, "")
		b.WaitStatus(t, id, store.StatusDelivered)
		_, err := b.Pool.Exec(ctx, `update deliveries set status = 'held', updated_at = now() - interval '10 minutes' where message_id = $1`, id)
		require.NoError(t, err)
		require.NoError(t, store.SetMessageStatus(ctx, b.Pool, id, store.StatusHeld))
		check := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.OrphanCheckWorker{DB: b.Pool})
		require.NoError(t, txn.Run(ctx, b.Pool, func(tx pgx.Tx) error {
			_, err := check.Work(ctx, t, tx, pipeline.OrphanCheckArgs{}, nil)
			return err
		}))
		v := b.WaitStatus(t, id, store.StatusDelivered)
		require.Equal(t, 2, v.Deliveries[0].Attempts)
	})

	// Processing does not wait for a lane another transaction holds:
	// update 2, behind update 1 of the same batch, is written held, and a
	// sequence_wake job, run once the holder is done, releases it.
	t.Run("a busy lane is woken after processing", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		holder, err := b.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = holder.Rollback(ctx) }()
		_, err = holder.Exec(ctx, `select pg_advisory_xact_lock(hashtextextended($1::int8 || '/' || $2::int8 || '/' || $3::text, 21))`,
			b.Env.ID, b.Flow.ID, "K")
		require.NoError(t, err)

		res, err := b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "updates",
			Lines: [][]byte{[]byte(`{"key": "K", "n": 1}`), []byte(`{"key": "K", "n": 2}`)}})
		require.NoError(t, err)
		b.WaitStatus(t, res[1].MessageID, store.StatusHeld)
		require.Equal(t, 1, b.CountRows(t, `select count(*) from river_job where kind = 'sequence_wake'`), "the busy lane left to a wake-up job")
		require.NoError(t, holder.Rollback(ctx))
		b.WaitDelivered(t, 2)
		require.Equal(t, []int{1, 2}, b.Target.Delivered("K"))
	})

	// A message whose key has nothing unfinished before it is not held: it
	// goes out like an unordered one.
	t.Run("a free lane does not hold", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, `, "sequence": "source.key"`, 0)
		b.WaitStatus(t, b.Post(t, "K", 1, ""), store.StatusDelivered)
		v := b.WaitStatus(t, b.Post(t, "K", 2, ""), store.StatusDelivered)
		require.NotContains(t, jobstest.Stages(v), store.StageHeld)
		require.Equal(t, "K", v.Message.SequenceKey)
		require.Equal(t, []int{1, 2}, b.Target.Delivered("K"))
	})

	// A flow without a sequence key delivers as before: nothing is held,
	// no message has a key.
	t.Run("unordered", func(t *testing.T) {
		t.Parallel()
		b := jobstest.SetupUpdates(t, ``, 0)
		var ids []uuid.UUID
		for n := 1; n <= 10; n++ {
			ids = append(ids, b.Post(t, "K", n, ""))
		}
		b.WaitDelivered(t, 10)
		for _, id := range ids {
			v := b.WaitStatus(t, id, store.StatusDelivered)
			require.NotContains(t, jobstest.Stages(v), store.StageHeld)
			require.Empty(t, v.Message.SequenceKey)
		}
		require.Zero(t, b.CountRows(t, `select count(*) from messages where sequence_key is not null or sequence_n is not null`))
	})
}
