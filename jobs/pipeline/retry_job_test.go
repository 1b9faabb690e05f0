package pipeline_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/pipeline"
)

// A retry sooner than River's scheduler interval must not be a scheduled
// job (which waits for the scheduler, up to 5 s); a later one may.
func TestRetryJob(t *testing.T) {
	t.Parallel()
	id := uuid.New()

	t.Run("a short delay is an available job that waits in the worker", func(t *testing.T) {
		t.Parallel()
		before := time.Now()
		j := pipeline.RetryJob(id, 20*time.Millisecond)
		require.Nil(t, j.InsertOpts, "no ScheduledAt, so River inserts it available")
		args := j.Args.(pipeline.DeliverArgs)
		require.Equal(t, id, args.DeliveryID)
		require.WithinRange(t, args.NotBefore, before.Add(20*time.Millisecond), time.Now().Add(20*time.Millisecond))
	})

	t.Run("a long delay is a scheduled job", func(t *testing.T) {
		t.Parallel()
		before := time.Now()
		j := pipeline.RetryJob(id, time.Minute)
		require.NotNil(t, j.InsertOpts)
		require.WithinRange(t, j.InsertOpts.ScheduledAt, before.Add(time.Minute), time.Now().Add(time.Minute))
		require.True(t, j.Args.(pipeline.DeliverArgs).NotBefore.IsZero())
	})
}
