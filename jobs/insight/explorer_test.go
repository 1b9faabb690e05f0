package insight_test

import (
	"context"
	"fmt"
	"slices"
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
	// (all[1] and all[4] were marked failed without being processed, so
	// no values were ever recorded for them.)
	require.Equal(t, []uuid.UUID{all[6], all[5], all[3], all[2], all[0]}, search(insight.MessageFilter{PayloadValue: "#100"}),
		"a number by its beginning: #1001 … #1007")
	require.Empty(t, search(insight.MessageFilter{PayloadValue: "#1009"}))
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

// Support searches by what the customer says: the number without its "#"
// or leading zeros, the beginning of a name, part of an e-mail address.
func TestMessageSearchByWordsAndNumbers(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	ana := b.Accept(t, `{"id": 51, "name": "#2014", "total": 10, "customer": {"email": "Ana.Silva@Example.com", "first_name": "Ana"}}`)
	padded := b.Accept(t, `{"id": 52, "name": "#002014", "total": 10, "customer": {"email": "jo.mueller@shop.example", "last_name": "Müller"}}`)
	other := b.Accept(t, `{"id": 53, "name": "#20140", "total": 10, "customer": {"email": "kim@shop.example"}}`)
	waiting := jobstest.Setup(t, false) // no workers: its message stays received
	held := waiting.Accept(t, `{"id": 54, "name": "#7001", "total": 10, "customer": {"email": "Lee.Park@shop.example"}}`)
	deadline := time.Now().Add(20 * time.Second)
	for b.CountRows(t, `select count(*) from message_values where message_id = any($1)`, []uuid.UUID{ana.MessageID, padded.MessageID, other.MessageID}) < 3 {
		require.True(t, time.Now().Before(deadline), "the messages were not processed")
		time.Sleep(20 * time.Millisecond)
	}
	ctx := context.Background()
	search := func(b *jobstest.Bundle, value string) []uuid.UUID {
		t.Helper()
		res, err := insight.MessageSearch(ctx, b.Pool, insight.MessageFilter{PayloadValue: value})
		require.NoError(t, err)
		ids := jobstest.MessageIDs(res.Messages)
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		return ids
	}
	sorted := func(ids ...uuid.UUID) []uuid.UUID {
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		return ids
	}
	for _, c := range []struct {
		name, value string
		want        []uuid.UUID
	}{
		{"a number without its #", "2014", sorted(ana.MessageID, padded.MessageID, other.MessageID)},
		{"a number with its # and leading zeros", "#002014", sorted(ana.MessageID, padded.MessageID, other.MessageID)},
		{"the exact value still", "#20140", sorted(other.MessageID)},
		{"the beginning of a name", "silv", sorted(ana.MessageID)},
		{"a name in any case", "ANA", sorted(ana.MessageID)},
		{"part of an e-mail address", "ana.silva", sorted(ana.MessageID)},
		{"a whole e-mail address", "ana.silva@example.com", sorted(ana.MessageID)},
		{"letters beyond ASCII", "müll", sorted(padded.MessageID)},
		{"every word must match", "ana kim", nil},
		{"punctuation alone finds nothing", "%_*&|!", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := search(b, c.value)
			if len(c.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, c.want, got)
		})
	}
	t.Run("a message not processed yet", func(t *testing.T) {
		require.Equal(t, []uuid.UUID{held.MessageID}, search(waiting, "lee park"))
		require.Equal(t, []uuid.UUID{held.MessageID}, search(waiting, "7001"))
	})
}

func TestSearchTerms(t *testing.T) {
	for in, want := range map[string]string{
		"#002014":               "2014:*",
		"Ana Silva":             "ana:* & silva:*",
		"ana.silva@example.com": "ana:* & silva:* & example:* & com:*",
		"0000":                  "0",
		"jo":                    "jo",
		"a b a":                 "a & b",
		"':* | !x & (y)":        "x & y",
		"":                      "",
		"1 2 3 4 5 6 7 8 9 10":  "1 & 2 & 3 & 4 & 5 & 6 & 7 & 8",
	} {
		require.Equal(t, want, insight.SearchTerms(in), "%q", in)
	}
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
		"message_values_terms_idx": {PayloadValue: "silva"},
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
