package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/queue"
	"github.com/crossdock/crossdock/jobs/store"
)

// River is at-least-once: processing a message twice must not route it
// twice. And work River gave up on must surface as exceptions.
func TestProcessTwiceThenOrphanCheck(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	b.ConfigureERP(t, "http://127.0.0.1:1", nil)
	a := b.Accept(t, `{"id": 1, "name": "#4101", "total": 1}`)
	orphan := b.Accept(t, `{"id": 2, "name": "#4102", "total": 1}`)

	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.ProcessWorker{DB: tx})
	for range 2 {
		res, err := process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: []uuid.UUID{a.MessageID}}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	}
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, tx.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	require.Equal(t, 1, count(`select count(*) from deliveries where message_id = $1`, a.MessageID))
	require.Equal(t, 1, count(`select count(*) from river_job where kind = 'deliver_group'`))
	require.Equal(t, 1, count(`select count(*) from lineage_events where message_id = $1 and stage = 'routed'`, a.MessageID))
	inserted := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, &pipeline.DeliverGroupArgs{}, nil)
	require.Equal(t, queue.Deliver, inserted.Queue)

	// The deliver job and the second message's process job are lost (as
	// when River discards them and later deletes them).
	_, err = tx.Exec(ctx, `update river_job set state = 'discarded', finalized_at = now() where kind = 'deliver_group' or args->'message_ids' ? $1`, orphan.MessageID.String())
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `update deliveries set updated_at = now() - interval '10 minutes'`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `update messages set updated_at = now() - interval '10 minutes' where id = $1`, orphan.MessageID)
	require.NoError(t, err)

	check := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.OrphanCheckWorker{DB: tx})
	for range 2 {
		_, err := check.Work(ctx, t, tx, pipeline.OrphanCheckArgs{}, nil)
		require.NoError(t, err)
	}
	v, err := store.MessageGet(ctx, tx, a.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusFailed, v.Message.Status)
	require.Len(t, v.Exceptions, 1, "filed once although the check ran twice")
	require.Equal(t, store.ExceptionDelivery, v.Exceptions[0].Kind)
	require.Equal(t, "job discarded", v.Exceptions[0].ErrorClass)

	v, err = store.MessageGet(ctx, tx, orphan.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusFailed, v.Message.Status)
	require.Len(t, v.Exceptions, 1)
	require.Equal(t, "process", v.Exceptions[0].Stage)

	// Both left received, so both are found by their payload values: the
	// processed one and the one the check failed without processing.
	res, err := insight.MessageSearch(ctx, tx, insight.MessageFilter{PayloadValue: "#4101"})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{a.MessageID}, jobstest.MessageIDs(res.Messages))
	res, err = insight.MessageSearch(ctx, tx, insight.MessageFilter{PayloadValue: "#4102"})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{orphan.MessageID}, jobstest.MessageIDs(res.Messages))
	require.Equal(t, 2, count(`select count(*) from message_values`))
}

// A delivery has at most one deliver job waiting or running, checked with a
// real client since rivertest turns uniqueness off.
func TestDeliverJobsAreUniquePerDelivery(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	id := uuid.New()
	first, err := b.Client.Insert(ctx, pipeline.DeliverArgs{DeliveryID: id}, nil)
	require.NoError(t, err)
	require.False(t, first.UniqueSkippedAsDuplicate)
	again, err := b.Client.Insert(ctx, pipeline.DeliverArgs{DeliveryID: id}, nil)
	require.NoError(t, err)
	require.True(t, again.UniqueSkippedAsDuplicate)
	require.Equal(t, first.Job.ID, again.Job.ID)
	other, err := b.Client.Insert(ctx, pipeline.DeliverArgs{DeliveryID: uuid.New()}, nil)
	require.NoError(t, err)
	require.False(t, other.UniqueSkippedAsDuplicate)

	// Once the job is finished, an inbox retry may enqueue it again.
	_, err = b.Pool.Exec(ctx, `update river_job set state = 'completed', finalized_at = now() where id = $1`, first.Job.ID)
	require.NoError(t, err)
	retry, err := b.Client.Insert(ctx, pipeline.DeliverArgs{DeliveryID: id}, nil)
	require.NoError(t, err)
	require.False(t, retry.UniqueSkippedAsDuplicate)
}

// A process job carries a group of messages. When the database refuses
// one of them, the others are still processed, and the job is retried for
// the one left.
func TestProcessGroupIsolatesAFailingMessage(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	b.ConfigureERP(t, "http://127.0.0.1:1", nil)
	res, err := b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{
		[]byte(`{"id": 1, "name": "#1", "total": 1}`), []byte(`{"id": 2, "name": "#2", "total": 1}`), []byte(`{"id": 3, "name": "#3", "total": 1}`),
	}})
	require.NoError(t, err)
	ids := []uuid.UUID{res[0].MessageID, res[1].MessageID, res[2].MessageID}
	require.Equal(t, 1, b.CountRows(t, `select count(*) from river_job where kind = 'process'`), "one job for the batch")

	// The database refuses deliveries of the second message. The worker runs
	// in a test transaction (its own transactions become savepoints).
	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, fmt.Sprintf(`
		create function refuse_delivery() returns trigger language plpgsql as $$
		begin
			if new.message_id = '%s' then raise exception 'refused for the test'; end if;
			return new;
		end $$;
		create trigger refuse_delivery before insert on deliveries for each row execute function refuse_delivery()`, ids[1]))
	require.NoError(t, err)

	process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.ProcessWorker{DB: tx})
	_, err = process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: ids}, nil)
	require.ErrorContains(t, err, "refused for the test")
	status := func(id uuid.UUID) store.MessageStatus {
		m, err := store.MessageByID(ctx, tx, id)
		require.NoError(t, err)
		return m.Status
	}
	count := func(sql string) int {
		var n int
		require.NoError(t, tx.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	require.Equal(t, store.StatusQueued, status(ids[0]))
	require.Equal(t, store.StatusReceived, status(ids[1]), "left for the retry")
	require.Equal(t, store.StatusQueued, status(ids[2]))

	_, err = tx.Exec(ctx, `drop trigger refuse_delivery on deliveries`)
	require.NoError(t, err)
	out, err := process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: ids}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, out.EventKind)
	require.Equal(t, store.StatusQueued, status(ids[1]))
	require.Equal(t, 3, count(`select count(*) from deliveries`), "one delivery each, none twice")
	require.Equal(t, 3, count(`select count(*) from lineage_events where stage = 'routed'`))
}
