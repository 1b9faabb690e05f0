package jobs_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
)

// Stopping the client mid-request puts the delivery back on the queue
// without counting an attempt; the next process delivers it with the same
// idempotency key.
func TestShutdownReturnsInFlightDeliveries(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	var slow atomic.Bool
	slow.Store(true)
	started := make(chan struct{}, 10)
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) {
		if slow.Load() {
			started <- struct{}{}
			time.Sleep(3 * time.Second)
		}
		w.WriteHeader(http.StatusOK)
	})
	b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) { c.Timeout = 10 * time.Second })
	require.NoError(t, b.Client.Start(ctx))
	acc := b.Accept(t, `{"id": 10, "name": "#10", "total": 1}`)
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("the target was never called")
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, b.Client.StopAndCancel(stopCtx))

	v, err := store.MessageGet(ctx, b.Pool, acc.MessageID)
	require.NoError(t, err)
	require.Empty(t, v.Deliveries[0].AttemptLog, "an interrupted attempt is not counted")
	require.Equal(t, store.StatusQueued, v.Message.Status)

	slow.Store(false)
	next, err := jobs.NewClient(b.Pool, nil, jobs.Config{Sealer: b.Sealer, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, next.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = next.Stop(ctx)
	})
	v = b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
	require.Len(t, v.Deliveries[0].AttemptLog, 1)
	require.Equal(t, 2, tg.Count())
	require.Equal(t, tg.Requests()[0].Header.Get("Idempotency-Key"), tg.Requests()[1].Header.Get("Idempotency-Key"))
}
