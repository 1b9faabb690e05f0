package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/insight"
)

func TestSeedVolume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabase(t)
	kv := map[string]string{"DATABASE_URL": url}
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	indexes := func() []string {
		rows, err := pool.Query(ctx, `select indexdef from pg_indexes where tablename in ('messages', 'exceptions') order by indexname`)
		require.NoError(t, err)
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return list
	}
	before := indexes()

	var out, errOut bytes.Buffer
	err = runSeedVolume(ctx, []string{"--messages", "3000", "--exceptions", "600"}, env(kv), &out, &errOut)
	require.NoError(t, err, errOut.String())
	require.Contains(t, out.String(), "seeded 3000 messages and 600 exceptions")
	require.Equal(t, before, indexes(), "every index is back")

	count := func(sql string) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	require.Equal(t, 3000, count(`select count(*) from messages`))
	require.Equal(t, 600, count(`select count(*) from exceptions`))
	require.Equal(t, 3000, count(`select count(*) from message_values`), "every seeded message is searchable by its payload")
	require.Equal(t, 12, count(`select count(distinct flow_id) from messages`))
	require.Equal(t, 3, count(`select count(distinct environment_id) from messages`))
	require.GreaterOrEqual(t, count(`select count(distinct status) from messages`), 4)
	require.Greater(t, count(`select count(distinct fingerprint) from exceptions`), 50)
	require.Equal(t, 4, count(`select count(distinct status) from exceptions`))
	require.Zero(t, count(`select count(*) from exceptions where (status = 'assigned') <> (assigned_to is not null)`),
		"assigned exceptions, and only they, have an assignee")
	require.Zero(t, count(`select count(*) from exceptions x join messages m on m.id = x.message_id
		where x.status in ('open', 'assigned') and m.status not in ('failed', 'rejected')`), "open exceptions belong to failed messages")
	require.Zero(t, count(`select count(*) from messages where received_at > now() or received_at < now() - interval '31 days'`))

	// The explorer finds a seeded order by its name.
	var name string
	require.NoError(t, pool.QueryRow(ctx, `select correlation_id from messages where correlation_id like '#%' limit 1`).Scan(&name))
	res, err := insight.MessageSearch(ctx, pool, insight.MessageFilter{PayloadValue: name})
	require.NoError(t, err)
	require.NotEmpty(t, res.Messages)

	// A second run adds to the first.
	out.Reset()
	require.NoError(t, runSeedVolume(ctx, []string{"--messages", "100", "--exceptions", "20", "--env", "dev"}, env(kv), &out, &errOut))
	require.Equal(t, 3100, count(`select count(*) from messages`))

	// The seed counts groups in bulk instead of through the trigger: the
	// counts are what the trigger keeps (across both runs), and the
	// trigger is on again afterwards.
	require.Equal(t, 620, count(`select sum(total_count) from exception_groups`))
	require.Zero(t, count(`
		select count(*) from (select environment_id, fingerprint, count(*) as total,
		                             count(*) filter (where status in ('open', 'assigned')) as open
		                      from exceptions group by 1, 2) x
		full join exception_groups g using (environment_id, fingerprint)
		where g.total_count is distinct from x.total or g.open_count is distinct from x.open`))
	require.Equal(t, 1, count(`select count(*) from pg_trigger where tgname = 'exception_groups_track' and tgenabled = 'O'`))

	// Refusals.
	require.Equal(t, exitError{2}, runSeedVolume(ctx, []string{}, env(kv), &out, &errOut))
	require.Error(t, runSeedVolume(ctx, []string{"--messages", "10", "--exceptions", "11"}, env(kv), &out, &errOut))
	require.ErrorContains(t, runSeedVolume(ctx, []string{"--messages", "10", "--env", "nowhere"}, env(kv), &out, &errOut), "no environment")
	require.ErrorContains(t, runSeedVolume(ctx, []string{"--messages", "10"}, env(map[string]string{}), &out, &errOut), "DATABASE_URL")
	require.Equal(t, 3100, count(`select count(*) from messages`), "nothing written by a refused run")
}
