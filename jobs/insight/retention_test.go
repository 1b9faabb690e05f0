package insight_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

func TestRetentionRemovesWhatItShouldAndNothingElse(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	now := time.Now()
	_, err := b.Pool.Exec(ctx, `update environments set retention_days = 7 where id = $1`, b.Env.ID)
	require.NoError(t, err)

	msg := func(n int, status string, age time.Duration) uuid.UUID {
		id := b.Accept(t, fmt.Sprintf(`{"id": %d, "total": 1}`, n)).MessageID
		settle(t, b, id, status, time.Second, map[string]string{"delivered": "delivered", "failed": "failed"}[status])
		_, err := b.Pool.Exec(ctx, `update messages set received_at = $2 where id = $1`, id, now.Add(-age))
		require.NoError(t, err)
		return id
	}
	exception := func(id uuid.UUID, status string, resolvedAgo time.Duration) {
		var resolved *time.Time
		if status == "resolved" || status == "ignored" {
			r := now.Add(-resolvedAgo)
			resolved = &r
		}
		_, err := b.Pool.Exec(ctx, `
			insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, stage, error_class, message, status, resolved_at)
			values ('delivery', 'f', $1, $2, $3, 'deliver', 'http_500', 'refused', $4, $5)`, b.Env.ID, b.Flow.ID, id, status, resolved)
		require.NoError(t, err)
	}
	const day = 24 * time.Hour

	oldDelivered := msg(1, "delivered", 8*day)                             // pruned
	oldDeliveredOldExc := msg(2, "delivered", 9*day)                       // pruned with its exception resolved 8 days ago
	exception(oldDeliveredOldExc, "resolved", 8*day)                       //
	oldDeliveredRecentExc := msg(3, "delivered", 9*day)                    // kept: its exception was resolved 2 days ago
	exception(oldDeliveredRecentExc, "resolved", 2*day)                    //
	oldDeliveredOpenExc := msg(4, "delivered", 30*day)                     // kept: an exception is still open
	exception(oldDeliveredOpenExc, "open", 0)                              //
	oldFailed := msg(5, "failed", 30*day)                                  // kept: not delivered
	exception(oldFailed, "ignored", 10*day)                                // pruned: closed 10 days ago
	oldFailedAssigned := msg(6, "failed", 30*day)                          // kept
	exception(oldFailedAssigned, "assigned", 0)                            // kept: not closed
	recentDelivered := msg(7, "delivered", 6*day)                          // kept: younger than 7 days
	oldUnderWay := msg(8, "queued", 20*day)                                // kept: not settled
	require.NoError(t, insight.Rollup(ctx, b.Pool, now.Add(-40*day), now)) // rollups must survive

	// Another environment keeps its own, longer retention.
	_, err = b.Pool.Exec(ctx, `update environments set retention_days = 365 where name = 'test'`)
	require.NoError(t, err)
	var rollupsBefore int
	require.NoError(t, b.Pool.QueryRow(ctx, `select sum(received) from flow_minute_stats`).Scan(&rollupsBefore))
	require.Equal(t, 8, rollupsBefore)

	res, err := insight.Prune(ctx, b.Pool, now, 1, time.Millisecond) // batches of one: the loop must go on
	require.NoError(t, err)
	require.Equal(t, insight.PruneResult{Messages: 2, Exceptions: 1}, res)

	exists := func(id uuid.UUID) bool {
		var n int
		require.NoError(t, b.Pool.QueryRow(ctx, `select count(*) from messages where id = $1`, id).Scan(&n))
		return n == 1
	}
	require.False(t, exists(oldDelivered))
	require.False(t, exists(oldDeliveredOldExc))
	for _, id := range []uuid.UUID{oldDeliveredRecentExc, oldDeliveredOpenExc, oldFailed, oldFailedAssigned, recentDelivered, oldUnderWay} {
		require.True(t, exists(id), "message %s must stay", id)
	}
	var orphans int
	require.NoError(t, b.Pool.QueryRow(ctx, `
		select (select count(*) from lineage_events where message_id = any($1))
		     + (select count(*) from deliveries where message_id = any($1))
		     + (select count(*) from exceptions where message_id = any($1))`,
		[]uuid.UUID{oldDelivered, oldDeliveredOldExc}).Scan(&orphans))
	require.Zero(t, orphans, "lineage, deliveries and exceptions of pruned messages go with them")
	var exc []string
	rows, err := b.Pool.Query(ctx, `select status from exceptions order by id`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		exc = append(exc, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"resolved", "open", "assigned"}, exc)
	var lineage int
	require.NoError(t, b.Pool.QueryRow(ctx, `select count(*) from lineage_events where message_id = $1`, recentDelivered).Scan(&lineage))
	require.Positive(t, lineage)

	var rollupsAfter int
	require.NoError(t, b.Pool.QueryRow(ctx, `select sum(received) from flow_minute_stats`).Scan(&rollupsAfter))
	require.Equal(t, rollupsBefore, rollupsAfter, "rollups outlive the messages they count")

	// A second pass finds nothing more.
	res, err = insight.Prune(ctx, b.Pool, now, 0, 0)
	require.NoError(t, err)
	require.Equal(t, insight.PruneResult{}, res)
}

func TestRetentionReportsADatabaseError(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := insight.Prune(ctx, b.Pool, time.Now(), 0, 0)
	require.Error(t, err)
	require.Error(t, (&insight.RetentionWorker{DB: b.Pool}).Work(ctx, nil))
}
