package pipeline_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
)

// outcomeTarget answers an order by its number: #2 with 500, #3 with 400
// and a reason, any other with 201.
func outcomeTarget(t *testing.T) *jobstest.Target {
	tg := jobstest.NewTarget(t, nil)
	tg.SetAnswer(func(n int, w http.ResponseWriter) {
		path := tg.Requests()[n-1].URL.Path
		switch {
		case strings.HasSuffix(path, "/#2"):
			w.WriteHeader(http.StatusInternalServerError)
		case strings.HasSuffix(path, "/#3"):
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"unknown customer"}`))
		default:
			w.WriteHeader(http.StatusCreated)
		}
	})
	return tg
}

// A process job with a Deliver makes its deliveries' first attempts itself
// and records them as the group job would: a 2xx delivered (with its
// attempt and lineage, and no deliver job), a 500 handed to the
// delivery's own retry job, a 400 failed with an exception. A capture
// target still goes to the deliver queue. Running the job again sends
// nothing twice.
func TestProcessJobMakesFirstAttempts(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tg := outcomeTarget(t)
	b.ConfigureERP(t, tg.URL, nil)
	res, err := b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{
		[]byte(`{"id": 1, "name": "#1", "total": 1}`), []byte(`{"id": 2, "name": "#2", "total": 1}`),
		[]byte(`{"id": 3, "name": "#3", "total": 1}`), []byte(`{"id": 4, "name": "#4", "total": 1, "audit": true}`),
	}})
	require.NoError(t, err)
	ids := []uuid.UUID{res[0].MessageID, res[1].MessageID, res[2].MessageID, res[3].MessageID}

	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{},
		&pipeline.ProcessWorker{DB: tx, Deliver: pipeline.NewDeliverWorker(tx, b.Sealer, nil, nil)})
	for range 2 {
		out, err := process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: ids}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, out.EventKind)
	}
	require.Equal(t, 4, tg.Count(), "one request per http delivery; the second run sent nothing")

	view := func(id uuid.UUID) store.MessageView {
		v, err := store.MessageGet(ctx, tx, id)
		require.NoError(t, err)
		return v
	}
	ok := view(ids[0])
	require.Equal(t, store.StatusDelivered, ok.Message.Status)
	require.Len(t, ok.Deliveries, 1)
	require.Equal(t, store.DeliveryDelivered, ok.Deliveries[0].Status)
	require.NotNil(t, ok.Deliveries[0].DeliveredAt)
	require.Len(t, ok.Deliveries[0].AttemptLog, 1)
	require.Equal(t, 201, *ok.Deliveries[0].AttemptLog[0].StatusCode)
	require.Equal(t, []store.Stage{store.StageReceived, store.StageValidated, store.StageMapped, store.StageRouted, store.StageQueued,
		store.StageDelivering, store.StageDelivered}, jobstest.Stages(ok))
	keys := map[string]bool{}
	for _, r := range tg.Requests() {
		keys[r.Header.Get("Idempotency-Key")] = true
	}
	require.True(t, keys[ok.Deliveries[0].ID.String()], "sent with the delivery id as its Idempotency-Key")

	retrying := view(ids[1])
	require.Equal(t, store.StatusRetrying, retrying.Message.Status)
	require.Equal(t, store.DeliveryRetrying, retrying.Deliveries[0].Status)
	require.Len(t, retrying.Deliveries[0].AttemptLog, 1)
	var scheduled int
	require.NoError(t, tx.QueryRow(ctx, `select count(*) from river_job where kind = 'deliver'
		and (state = 'scheduled' or state = 'available' and args ? 'not_before') and args->>'delivery_id' = $1`,
		retrying.Deliveries[0].ID.String()).Scan(&scheduled))
	require.Equal(t, 1, scheduled, "the retry is the delivery's own job, once")

	failed := view(ids[2])
	require.Equal(t, store.StatusFailed, failed.Message.Status)
	require.Len(t, failed.Exceptions, 1)
	require.Equal(t, store.ExceptionDelivery, failed.Exceptions[0].Kind)
	require.Contains(t, failed.Exceptions[0].Message, "unknown customer")

	audited := view(ids[3])
	require.Equal(t, store.StatusQueued, audited.Message.Status, "its capture delivery is still waiting")
	var captureID uuid.UUID
	for _, d := range audited.Deliveries {
		if d.Target == "audit" {
			require.Equal(t, store.DeliveryPending, d.Status)
			captureID = d.ID
		} else {
			require.Equal(t, store.DeliveryDelivered, d.Status)
		}
	}
	group := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, &pipeline.DeliverGroupArgs{}, nil)
	require.Equal(t, []uuid.UUID{captureID}, group.Args.DeliveryIDs, "only what the process job did not send waits for a group job")
	b.RequireNoSecret(t, failed)
}

// River is at-least-once: a process job that sent a first attempt and died
// before committing runs again and sends again under the same
// Idempotency-Key, so the target can tell it is the same delivery.
func TestProcessJobThatDiedAfterSendingResendsUnderTheSameKey(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, jobstest.Status(http.StatusCreated))
	b.ConfigureERP(t, tg.URL, nil)
	acc := b.Accept(t, `{"id": 1, "name": "#1", "total": 1}`)

	run := func(commit bool) {
		tx, err := b.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{},
			&pipeline.ProcessWorker{DB: tx, Deliver: pipeline.NewDeliverWorker(tx, b.Sealer, nil, nil)})
		_, err = process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: []uuid.UUID{acc.MessageID}}, nil)
		require.NoError(t, err)
		if commit {
			require.NoError(t, tx.Commit(ctx))
		}
	}
	run(false) // sent, then lost: nothing of it committed
	v, err := store.MessageGet(ctx, b.Pool, acc.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusReceived, v.Message.Status)
	run(true)

	v, err = store.MessageGet(ctx, b.Pool, acc.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusDelivered, v.Message.Status)
	require.Len(t, v.Deliveries, 1)
	require.Equal(t, 2, tg.Count())
	first, second := tg.Requests()[0].Header.Get("Idempotency-Key"), tg.Requests()[1].Header.Get("Idempotency-Key")
	require.Equal(t, v.Deliveries[0].ID.String(), first)
	require.Equal(t, first, second)
}

// A target that answers slowly must not hold up processing: once it has
// been slow, process jobs leave its first attempts to the deliver queue.
func TestSlowTargetsGetFirstAttemptsFromTheDeliverQueue(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) {
		time.Sleep(400 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
	})
	b.ConfigureERP(t, tg.URL, nil)
	first := b.Accept(t, `{"id": 1, "name": "#1", "total": 1}`)
	second := b.Accept(t, `{"id": 2, "name": "#2", "total": 1}`)

	deliver := pipeline.NewDeliverWorker(b.Pool, b.Sealer, nil, nil)
	work := func(id uuid.UUID) pgx.Tx {
		tx, err := b.Pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(ctx) })
		process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.ProcessWorker{DB: tx, Deliver: deliver})
		_, err = process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: []uuid.UUID{id}}, nil)
		require.NoError(t, err)
		return tx
	}
	tx := work(first.MessageID) // not known to be slow yet: sent
	require.Equal(t, 1, tg.Count())
	v, err := store.MessageGet(ctx, tx, first.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusDelivered, v.Message.Status)

	tx = work(second.MessageID)
	require.Equal(t, 1, tg.Count(), "the slow target's first attempt was not made by the process job")
	v, err = store.MessageGet(ctx, tx, second.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusQueued, v.Message.Status)
	group := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, &pipeline.DeliverGroupArgs{}, nil)
	require.Equal(t, []uuid.UUID{v.Deliveries[0].ID}, group.Args.DeliveryIDs)
}
