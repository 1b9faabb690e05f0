package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
)

// A group's first attempts are recorded as the single job records them:
// a 2xx delivers, a 500 schedules the delivery's own retry job, a 400
// fails it with an exception. Running the group again sends nothing twice.
func TestDeliverGroupRecordsEachOutcome(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tg := outcomeTarget(t)
	b.ConfigureERP(t, tg.URL, nil)
	res, err := b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{
		[]byte(`{"id": 1, "name": "#1", "total": 1}`), []byte(`{"id": 2, "name": "#2", "total": 1}`), []byte(`{"id": 3, "name": "#3", "total": 1}`),
	}})
	require.NoError(t, err)

	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	ids := []uuid.UUID{res[0].MessageID, res[1].MessageID, res[2].MessageID}
	process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.ProcessWorker{DB: tx})
	_, err = process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: ids}, nil)
	require.NoError(t, err)
	group := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, &pipeline.DeliverGroupArgs{}, nil)
	require.Len(t, group.Args.DeliveryIDs, 3, "one group for the three deliveries")

	worker := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{},
		&pipeline.DeliverGroupWorker{Deliver: pipeline.NewDeliverWorker(tx, b.Sealer, nil, nil)})
	for range 2 {
		out, err := worker.Work(ctx, t, tx, pipeline.DeliverGroupArgs{DeliveryIDs: group.Args.DeliveryIDs}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, out.EventKind)
	}
	require.Equal(t, 3, tg.Count(), "the second run sent nothing")

	view := func(id uuid.UUID) store.MessageView {
		v, err := store.MessageGet(ctx, tx, id)
		require.NoError(t, err)
		return v
	}
	ok := view(ids[0])
	require.Equal(t, store.StatusDelivered, ok.Message.Status)
	require.Len(t, ok.Deliveries[0].AttemptLog, 1)
	require.Equal(t, 201, *ok.Deliveries[0].AttemptLog[0].StatusCode)
	require.NotNil(t, ok.Deliveries[0].DeliveredAt)
	st := jobstest.Stages(ok)
	require.Equal(t, []store.Stage{store.StageDelivering, store.StageDelivered}, st[len(st)-2:])

	retrying := view(ids[1])
	require.Equal(t, store.StatusRetrying, retrying.Message.Status)
	require.Equal(t, store.DeliveryRetrying, retrying.Deliveries[0].Status)
	require.Empty(t, retrying.Exceptions, "still within its retry window")
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
	b.RequireNoSecret(t, failed)
}

// Deliveries a group cannot send at once (a capture target, a target whose
// secret cannot be opened) are handed to single deliver jobs, which
// capture them or file the configuration exception.
func TestDeliverGroupHandsOffWhatItCannotSend(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	b.ConfigureERP(t, "http://127.0.0.1:1", nil)
	// The stored secret no longer opens (as after a key change).
	_, err := b.Pool.Exec(context.Background(), `update target_configs set secret_ciphertext = 'garbage' where target_name = 'erp'`)
	require.NoError(t, err)
	acc := b.Accept(t, `{"id": 5, "name": "#5", "total": 1, "audit": true}`)
	v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)
	deadline := time.Now().Add(10 * time.Second)
	for len(v.Deliveries) != 2 || v.Deliveries[0].Status == store.DeliveryPending || v.Deliveries[1].Status == store.DeliveryPending {
		require.True(t, time.Now().Before(deadline), "deliveries still pending: %+v", v.Deliveries)
		time.Sleep(20 * time.Millisecond)
		v, err = store.MessageGet(context.Background(), b.Pool, acc.MessageID)
		require.NoError(t, err)
	}
	for _, d := range v.Deliveries {
		if d.Target == "audit" {
			require.Equal(t, store.DeliveryDelivered, d.Status)
			require.NotNil(t, d.Capture)
		} else {
			require.Equal(t, store.DeliveryFailed, d.Status)
		}
	}
	require.Len(t, v.Exceptions, 1)
	require.Equal(t, store.ExceptionConfiguration, v.Exceptions[0].Kind)
}
