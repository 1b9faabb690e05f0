package insight_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
)

func TestMessageSearchFilters(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	var all []uuid.UUID // oldest first
	for i := 1; i <= 7; i++ {
		res := b.Accept(t, fmt.Sprintf(`{"id": %d, "name": "#%d", "total": 10, "order_number": %d, "customer": {"email": "c%d@shop.example"}, "lines": [{"sku": "SKU-%d"}]}`, i, 1000+i, 1000+i, i, i))
		_, err := b.Pool.Exec(ctx, `update messages set received_at = $2 where id = $1`, res.MessageID, base.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		all = append(all, res.MessageID)
	}
	_, err := b.Pool.Exec(ctx, `update messages set status = 'failed' where id = any($1)`, []uuid.UUID{all[1], all[4]})
	require.NoError(t, err)
	test, err := release.EnvironmentByName(ctx, b.Pool, "test")
	require.NoError(t, err)

	search := func(f insight.MessageFilter) []uuid.UUID {
		t.Helper()
		res, err := insight.MessageSearch(ctx, b.Pool, f)
		require.NoError(t, err)
		return jobstest.MessageIDs(res.Messages)
	}
	newestFirst := []uuid.UUID{all[6], all[5], all[4], all[3], all[2], all[1], all[0]}
	require.Equal(t, newestFirst, search(insight.MessageFilter{}))
	require.Equal(t, []uuid.UUID{all[2]}, search(insight.MessageFilter{ID: all[2]}))
	require.Equal(t, []uuid.UUID{all[3]}, search(insight.MessageFilter{CorrelationID: "#1004"}))
	require.Equal(t, []uuid.UUID{all[3]}, search(insight.MessageFilter{IdempotencyKey: "order-4"}), "the key alone, without environment or flow")
	require.Equal(t, []uuid.UUID{all[3]}, search(insight.MessageFilter{IdempotencyKey: "order-4", EnvironmentID: b.Env.ID, FlowID: b.Flow.ID}))
	require.Empty(t, search(insight.MessageFilter{IdempotencyKey: "order-4", EnvironmentID: test.ID}))
	require.Equal(t, []uuid.UUID{all[4], all[1]}, search(insight.MessageFilter{Status: store.StatusFailed}))
	require.Equal(t, []uuid.UUID{all[4], all[1]}, search(insight.MessageFilter{Status: store.StatusFailed, EnvironmentID: b.Env.ID, FlowID: b.Flow.ID}))
	require.Empty(t, search(insight.MessageFilter{EnvironmentID: test.ID}))
	require.Equal(t, newestFirst, search(insight.MessageFilter{FlowID: b.Flow.ID}))
	require.Equal(t, []uuid.UUID{all[3], all[2]}, search(insight.MessageFilter{From: base.Add(3 * time.Minute), To: base.Add(5 * time.Minute)}), "from inclusive, to exclusive")

	// Payload values: top-level strings and numbers, one level down in
	// objects; not inside arrays.
	require.Equal(t, []uuid.UUID{all[0]}, search(insight.MessageFilter{PayloadValue: "#1001"}))
	require.Equal(t, []uuid.UUID{all[0]}, search(insight.MessageFilter{PayloadValue: "1001"}), "a number typed as text")
	require.Equal(t, []uuid.UUID{all[5]}, search(insight.MessageFilter{PayloadValue: "c6@shop.example"}))
	require.Empty(t, search(insight.MessageFilter{PayloadValue: "SKU-3"}), "array elements are not indexed")
	require.Empty(t, search(insight.MessageFilter{PayloadValue: "#100"}), "whole values only")
	require.Equal(t, []uuid.UUID{all[0]}, search(insight.MessageFilter{PayloadValue: "#1001", Status: store.StatusReceived}))

	// Values are parameters: SQL in a filter finds nothing and breaks nothing.
	for _, evil := range []string{`' or 1=1 --`, `"); drop table messages; --`, `\`, `]`, `{"a":1}`} {
		require.Empty(t, search(insight.MessageFilter{CorrelationID: evil, IdempotencyKey: evil}))
		require.Empty(t, search(insight.MessageFilter{PayloadValue: evil}))
	}
	_, err = insight.MessageSearch(ctx, b.Pool, insight.MessageFilter{Status: "failed' or 'a'='a"})
	var fe *fault.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, fault.Invalid, fe.Code)
}

// Payload values are indexed when a message is processed, whatever the
// outcome; before that the search reads the waiting messages themselves.
// Either way the same messages are found.
func TestMessageSearchFindsPayloadsBeforeAndAfterProcessing(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	ctx := context.Background()
	routed := b.Accept(t, `{"id": 41, "name": "#4100", "total": 10, "customer": {"email": "kim@shop.example"}}`)
	rejected := b.Accept(t, `{"id": 42, "name": "#4200", "total": -1, "customer": {"email": "kim@shop.example"}}`)
	b.WaitStatus(t, rejected.MessageID, store.StatusRejected)
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := store.MessageGet(ctx, b.Pool, routed.MessageID)
		require.NoError(t, err)
		if v.Message.Status != store.StatusReceived {
			break
		}
		require.True(t, time.Now().Before(deadline), "message %s was not processed", routed.MessageID)
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 2, b.CountRows(t, `select count(*) from message_values where message_id = any($1)`, []uuid.UUID{routed.MessageID, rejected.MessageID}))

	waiting := jobstest.Setup(t, false) // no workers: its message stays received
	held := waiting.Accept(t, `{"id": 43, "name": "#4300", "total": 10, "customer": {"email": "kim@shop.example"}}`)
	require.Equal(t, 0, waiting.CountRows(t, `select count(*) from message_values`))

	search := func(b *jobstest.Bundle, f insight.MessageFilter) []uuid.UUID {
		t.Helper()
		res, err := insight.MessageSearch(ctx, b.Pool, f)
		require.NoError(t, err)
		return jobstest.MessageIDs(res.Messages)
	}
	require.Equal(t, []uuid.UUID{routed.MessageID}, search(b, insight.MessageFilter{PayloadValue: "#4100"}))
	require.Equal(t, []uuid.UUID{rejected.MessageID}, search(b, insight.MessageFilter{PayloadValue: "#4200", Status: store.StatusRejected}))
	require.Equal(t, []uuid.UUID{rejected.MessageID, routed.MessageID}, search(b, insight.MessageFilter{PayloadValue: "kim@shop.example"}))
	require.Equal(t, []uuid.UUID{held.MessageID}, search(waiting, insight.MessageFilter{PayloadValue: "#4300"}))
	require.Equal(t, []uuid.UUID{held.MessageID}, search(waiting, insight.MessageFilter{PayloadValue: "kim@shop.example"}))
	require.Empty(t, search(waiting, insight.MessageFilter{PayloadValue: "#4300", Status: store.StatusDelivered}))
}

func TestMessageSearchPages(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	var want []uuid.UUID
	for i := range 7 {
		res := b.Accept(t, fmt.Sprintf(`{"id": %d, "name": "#%d", "total": 1}`, i, i))
		// Four messages share one microsecond: the id breaks the tie.
		_, err := b.Pool.Exec(ctx, `update messages set received_at = $2 where id = $1`, res.MessageID, at.Add(time.Duration(min(i, 3))*time.Second))
		require.NoError(t, err)
	}
	rows, err := b.Pool.Query(ctx, `select id from messages order by received_at desc, id desc`)
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		want = append(want, id)
	}
	require.NoError(t, rows.Err())

	var got []uuid.UUID
	f := insight.MessageFilter{Limit: 2}
	pages := 0
	for {
		res, err := insight.MessageSearch(ctx, b.Pool, f)
		require.NoError(t, err)
		got = append(got, jobstest.MessageIDs(res.Messages)...)
		pages++
		if res.Next == nil {
			break
		}
		c, err := insight.ParseMessageCursor(res.Next.String())
		require.NoError(t, err)
		require.True(t, res.Next.ReceivedAt.Equal(c.ReceivedAt), "the cursor survives a URL")
		require.Equal(t, res.Next.ID, c.ID)
		f.After = &c
	}
	require.Equal(t, want, got, "every message once, in order")
	require.Equal(t, 4, pages)

	for _, bad := range []string{"x", "", "bm90LWEtY3Vyc29y", "MTIzLm5vdC1hLXV1aWQ"} {
		_, err := insight.ParseMessageCursor(bad)
		var fe *fault.Error
		require.ErrorAs(t, err, &fe, bad)
		require.Equal(t, fault.Invalid, fe.Code)
	}
}

// The explorer's searches must be able to use the indexes made for them;
// with sequential scans ruled out, the plan names each one.
func TestMessageSearchUsesIndexes(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `set local enable_seqscan = off`)
	require.NoError(t, err)
	for index, f := range map[string]insight.MessageFilter{
		"messages_pkey":            {ID: uuid.New()},
		"messages_correlation_idx": {CorrelationID: "#1001"},
		"messages_idempotency_key": {IdempotencyKey: "order-1"},
		"message_values_idx":       {PayloadValue: "#1001"},
		"messages_received_at_idx": {},
		"messages_received_idx":    {EnvironmentID: b.Env.ID},
		"messages_status_idx":      {Status: store.StatusFailed},
	} {
		sql, args, _, err := insight.MessageSearchQuery(f)
		require.NoError(t, err)
		rows, err := tx.Query(ctx, "explain "+sql, args...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		require.Contains(t, strings.Join(plan, "\n"), index, "%+v", f)
	}
}
