package insight_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/mappings"
)

// deployChannelVersion publishes and deploys a version of the orders flow
// whose channel comes from source.channel, with an SLA of 90 % in 10 s.
func deployChannelVersion(t *testing.T, b *jobstest.Bundle) {
	t.Helper()
	ctx := context.Background()
	d, err := mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Keys.Channel = `source.channel ?? "web"`
	def.SLA = &engine.SLA{WithinSeconds: 10, ObjectivePercent: 90}
	d, err = mappings.DraftSave(ctx, b.Pool, b.Flow.ID, d.Revision, &def, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, b.Flow.ID, d.Revision, "channel", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 2)
}

// settle sets a message's status and, when delivered, one delivery
// delivered after the given latency with one attempt.
func settle(t *testing.T, b *jobstest.Bundle, id uuid.UUID, status string, latency time.Duration, outcome string) {
	t.Helper()
	ctx := context.Background()
	_, err := b.Pool.Exec(ctx, `update messages set status = $2 where id = $1`, id, status)
	require.NoError(t, err)
	if outcome == "" {
		return
	}
	did := uuid.New()
	_, err = b.Pool.Exec(ctx, `
		insert into deliveries (id, message_id, route, target, target_kind, body, status, attempts, delivered_at)
		select $1, id, 'to-erp', 'erp', 'http', '{}', case when $3 = 'delivered' then 'delivered' else 'failed' end, 1,
		       case when $3 = 'delivered' then received_at + $4::interval end
		from messages where id = $2`, did, id, outcome, fmt.Sprintf("%d milliseconds", latency.Milliseconds()))
	require.NoError(t, err)
	_, err = b.Pool.Exec(ctx, `insert into delivery_attempts (delivery_id, n, started_at, latency_ms, outcome) values ($1, 1, now(), 40, $2)`, did, outcome)
	require.NoError(t, err)
}

func TestRollupCountsMessagesSLAAndExceptionsPerMinute(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	deployChannelVersion(t, b)

	// Four web orders: delivered in 2 s, 5 s and 30 s (outside the SLA),
	// and one failed; one store order delivered in 1 s.
	var ids []uuid.UUID
	for i, ch := range []string{"", "", "", "", "store"} {
		payload := fmt.Sprintf(`{"id": %d, "total": 5}`, i+1)
		if ch != "" {
			payload = fmt.Sprintf(`{"id": %d, "total": 5, "channel": %q}`, i+1, ch)
		}
		ids = append(ids, b.Accept(t, payload).MessageID)
	}
	var channel string
	require.NoError(t, b.Pool.QueryRow(ctx, `select channel from messages where id = $1`, ids[4]).Scan(&channel))
	require.Equal(t, "store", channel)
	settle(t, b, ids[0], "delivered", 2*time.Second, "delivered")
	settle(t, b, ids[1], "delivered", 5*time.Second, "delivered")
	settle(t, b, ids[2], "delivered", 30*time.Second, "delivered")
	settle(t, b, ids[3], "failed", 0, "failed")
	settle(t, b, ids[4], "delivered", time.Second, "delivered")
	_, err := b.Pool.Exec(ctx, `
		insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, stage, error_class, message, status, resolved_at)
		values ('delivery', 'f', $1, $2, $3, 'deliver', 'http_500', 'refused', 'open', null),
		       ('delivery', 'f', $1, $2, $4, 'deliver', 'http_500', 'refused', 'resolved', now())`, b.Env.ID, b.Flow.ID, ids[3], ids[2])
	require.NoError(t, err)

	now := time.Now()
	require.NoError(t, insight.Rollup(ctx, b.Pool, now.Add(-5*time.Minute), now))
	// A second pass changes nothing: it overwrites the same minutes.
	require.NoError(t, insight.Rollup(ctx, b.Pool, now.Add(-5*time.Minute), now))

	type row struct {
		channel                                   string
		received, delivered, failed, withinSLA, s int
		objective                                 float64
		le                                        []int32
	}
	rows, err := b.Pool.Query(ctx, `
		select channel, sum(received), sum(delivered), sum(failed), sum(within_sla), max(sla_seconds), max(sla_objective),
		       (array_agg(latency_le))[1]
		from flow_minute_stats where environment_id = $1 group by channel order by channel`, b.Env.ID)
	require.NoError(t, err)
	var got []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.channel, &r.received, &r.delivered, &r.failed, &r.withinSLA, &r.s, &r.objective, &r.le))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, 2, "one row set per channel")
	require.Equal(t, "store", got[0].channel)
	require.Equal(t, []int{1, 1, 0, 1}, []int{got[0].received, got[0].delivered, got[0].failed, got[0].withinSLA})
	require.Equal(t, "web", got[1].channel)
	require.Equal(t, []int{4, 3, 1, 2}, []int{got[1].received, got[1].delivered, got[1].failed, got[1].withinSLA})
	require.Equal(t, 10, got[1].s)
	require.InDelta(t, 90, got[1].objective, 0.001)

	var opened, closed, attempts, errs int
	require.NoError(t, b.Pool.QueryRow(ctx, `select sum(opened), sum(closed) from exception_minute_stats where environment_id = $1`, b.Env.ID).Scan(&opened, &closed))
	require.Equal(t, []int{2, 1}, []int{opened, closed})
	require.NoError(t, b.Pool.QueryRow(ctx, `select sum(attempts), sum(errors) from target_minute_stats where environment_id = $1 and target = 'erp'`, b.Env.ID).Scan(&attempts, &errs))
	require.Equal(t, []int{5, 1}, []int{attempts, errs})

	// Minutes outside the window are not touched.
	var outside int
	require.NoError(t, b.Pool.QueryRow(ctx, `select count(*) from flow_minute_stats where minute < $1`, now.Add(-5*time.Minute).Truncate(time.Minute)).Scan(&outside))
	require.Zero(t, outside)
}

func TestRollupWithoutMessagesWritesNothing(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	require.NoError(t, insight.Rollup(ctx, b.Pool, time.Now().Add(-time.Hour), time.Now()))
	var n int
	require.NoError(t, b.Pool.QueryRow(ctx, `select count(*) from flow_minute_stats`).Scan(&n))
	require.Zero(t, n)
}

func TestRollupReportsADatabaseError(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, insight.Rollup(ctx, b.Pool, time.Now().Add(-time.Hour), time.Now()))
	require.Error(t, (&insight.RollupWorker{DB: b.Pool}).Work(ctx, nil))
}

func TestChannelExpressionFailureLeavesTheChannelEmpty(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	d, err := mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Keys.Channel = `upper(source.channel)`
	d, err = mappings.DraftSave(ctx, b.Pool, b.Flow.ID, d.Revision, &def, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, b.Flow.ID, d.Revision, "channel", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 2)

	ok := b.Accept(t, `{"id": 1, "total": 1, "channel": "pos"}`)
	bad := b.Accept(t, `{"id": 2, "total": 1, "channel": 7}`)
	var c1, c2 string
	require.NoError(t, b.Pool.QueryRow(ctx, `select channel from messages where id = $1`, ok.MessageID).Scan(&c1))
	require.NoError(t, b.Pool.QueryRow(ctx, `select channel from messages where id = $1`, bad.MessageID).Scan(&c2))
	require.Equal(t, "POS", c1)
	require.Empty(t, c2, "a failing channel expression never rejects the message")
}
