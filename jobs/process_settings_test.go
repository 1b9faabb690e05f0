package jobs_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs"
)

// The processing transaction commits asynchronously and on generic plans;
// the settings end with it, so no other work on the pooled connection
// (intake's commits above all) loses its synchronous commit.
func TestProcessingSettingsAreLocalToTheTransaction(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, jobs.ProcessingSettings(ctx, tx))
	var commit, plans string
	require.NoError(t, tx.QueryRow(ctx, `select current_setting('synchronous_commit'), current_setting('plan_cache_mode')`).Scan(&commit, &plans))
	require.Equal(t, []string{"off", "force_generic_plan"}, []string{commit, plans})
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, conn.QueryRow(ctx, `select current_setting('synchronous_commit'), current_setting('plan_cache_mode')`).Scan(&commit, &plans))
	require.Equal(t, []string{"on", "auto"}, []string{commit, plans})
}
