package intake_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
)

// Many concurrent distinct events share commits, and each one still has
// its message, its received event and its job; a key reused for another
// payload in the same burst is refused on its own.
func TestIntakeSharesCommitsAndLosesNothing(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	in := intake.New(b.Pool, b.Client, intake.Config{})
	const callers, each = 64, 5
	first := b.Accept(t, `{"id": 0, "name": "#0", "total": 1}`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]bool{}
	var reused int
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				n := 1 + c*each + i
				res, err := in.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
					Payload: fmt.Appendf(nil, `{"id": %d, "name": "#%d", "total": 1}`, n, n)})
				// Every caller also reuses key order-0 with its own payload.
				_, reuseErr := in.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
					Payload: fmt.Appendf(nil, `{"id": 0, "name": "#0", "total": %d}`, 1000+n)})
				mu.Lock()
				require.NoError(t, err)
				ids[res.MessageID.String()] = true
				if reuseErr != nil {
					require.ErrorIs(t, reuseErr, intake.ErrKeyReused)
					reused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := callers * each
	require.Len(t, ids, total)
	require.NotContains(t, ids, first.MessageID.String())
	require.Equal(t, total, reused, "every reuse of key order-0 is refused")
	total++ // and the first message
	require.Equal(t, total, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, total, b.CountRows(t, `select count(*) from lineage_events where stage = 'received'`))
	require.Equal(t, total, b.CountRows(t, `
		select count(*) from messages m join river_job j on j.kind = 'process' and j.args->'message_ids' ? m.id::text`),
		"every message is in exactly one process job")
	require.Equal(t, total, b.CountRows(t, `select sum(jsonb_array_length(args->'message_ids')) from river_job where kind = 'process'`),
		"and every job's messages exist")
	require.Less(t, b.CountRows(t, `select count(*) from river_job where kind = 'process'`), total, "messages of one commit share a job")
	// xmin is the transaction that inserted a row: fewer transactions than
	// messages means concurrent events shared commits.
	require.Less(t, b.CountRows(t, `select count(distinct xmin::text) from messages`), total, "concurrent events shared commits")
}

// A deploy after the trigger URL was resolved (and remembered) is not
// missed: the insert checks the deployment it was resolved against.
func TestIntakeFollowsANewDeployment(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	in := intake.New(b.Pool, b.Client, intake.Config{ResolveTTL: time.Hour})
	accept := func(payload string) intake.AcceptResult {
		res, err := in.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(payload)})
		require.NoError(t, err)
		return res
	}
	first := accept(`{"id": 1, "total": 1}`)
	require.Equal(t, 1, first.VersionNumber)

	d, err := mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Description = "v2"
	d, err = mappings.DraftSave(ctx, b.Pool, b.Flow.ID, d.Revision, &def, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, b.Flow.ID, d.Revision, "v2", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 2)

	second := accept(`{"id": 2, "total": 1}`)
	require.Equal(t, 2, second.VersionNumber)
	m, err := store.MessageByID(ctx, b.Pool, second.MessageID)
	require.NoError(t, err)
	require.Equal(t, 2, m.VersionNumber)
	again := accept(`{"id": 1, "total": 1}`)
	require.True(t, again.Replayed)
	require.Equal(t, first.MessageID, again.MessageID)

	// A batch resolved before the next deploy is not missed either.
	_, err = in.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{[]byte(`{"id": 3, "total": 1}`)}})
	require.NoError(t, err)
	d, err = mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	def.Description = "v3"
	d, err = mappings.DraftSave(ctx, b.Pool, b.Flow.ID, d.Revision, &def, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, b.Flow.ID, d.Revision, "v3", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 3)
	lines, err := in.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{[]byte(`{"id": 4, "total": 1}`), []byte(`{"id": 1, "total": 1}`)}})
	require.NoError(t, err)
	require.NoError(t, lines[0].Err)
	require.Equal(t, 3, lines[0].VersionNumber)
	require.True(t, lines[1].Replayed)
	require.Equal(t, first.MessageID, lines[1].MessageID)
}

// A payload with the escape \u0000 is valid JSON that PostgreSQL cannot
// turn into jsonb; it is accepted like any other (the payload search index
// leaves it out rather than failing the insert).
func TestIntakeAcceptsAnEscapedNUL(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	in := intake.New(b.Pool, b.Client, intake.Config{})
	payload := `{"id": 77, "name": "#77", "total": 1, "note": "a\u0000b"}`
	res, err := in.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(payload)})
	require.NoError(t, err)
	again := b.Accept(t, payload)
	require.Equal(t, res.MessageID, again.MessageID)
	require.Equal(t, 1, b.CountRows(t, `select count(*) from messages where id = $1`, res.MessageID))
}
