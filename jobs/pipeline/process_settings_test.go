package pipeline_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/pipeline"
)

// The processing and delivery transactions run on generic plans; the
// setting ends with the transaction, so other work on the pooled
// connection plans as usual.
func TestGenericPlansAreLocalToTheTransaction(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, pipeline.GenericPlans(ctx, tx))
	var plans string
	require.NoError(t, tx.QueryRow(ctx, `select current_setting('plan_cache_mode')`).Scan(&plans))
	require.Equal(t, "force_generic_plan", plans)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, conn.QueryRow(ctx, `select current_setting('plan_cache_mode')`).Scan(&plans))
	require.Equal(t, "auto", plans)
}
