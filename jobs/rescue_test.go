package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
)

// A process killed mid-delivery leaves its jobs running; they are rescued
// and the deliveries sent once RescueAfter has passed.
func TestJobsOfAKilledProcessAreRescued(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, jobstest.Status(201))
	b.ConfigureERP(t, tg.URL, nil)
	acc := b.Accept(t, `{"id": 1, "name": "#1", "total": 1}`)
	// The process job ran (in a process since killed) and left its deliver
	// group running.
	_, err := b.Pool.Exec(ctx, `update river_job set state = 'running', attempt = 1, attempted_at = now() - interval '1 minute',
		attempted_by = '{dead-process}' where kind = 'process'`)
	require.NoError(t, err)

	client, err := jobs.NewClient(b.Pool, nil, jobs.Config{Sealer: b.Sealer, RescueAfter: time.Second, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
}

// The same for a group of first deliveries.
func TestDeliverGroupsOfAKilledProcessAreRescued(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, jobstest.Status(201))
	b.ConfigureERP(t, tg.URL, nil)
	acc := b.Accept(t, `{"id": 1, "name": "#1", "total": 1}`)
	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	process := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.ProcessWorker{DB: tx})
	_, err = process.Work(ctx, t, tx, intake.ProcessArgs{MessageIDs: []uuid.UUID{acc.MessageID}}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	_, err = b.Pool.Exec(ctx, `update river_job set state = 'running', attempt = 1, attempted_at = now() - interval '1 minute',
		attempted_by = '{dead-process}' where kind = 'deliver_group'`)
	require.NoError(t, err)
	_, err = b.Pool.Exec(ctx, `delete from river_job where kind = 'process'`)
	require.NoError(t, err)

	client, err := jobs.NewClient(b.Pool, nil, jobs.Config{Sealer: b.Sealer, RescueAfter: time.Second, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
}
