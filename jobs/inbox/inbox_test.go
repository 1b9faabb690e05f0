package inbox_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
)

// bundle is jobstest's with the inbox tests' own helpers.
type bundle struct{ *jobstest.Bundle }

func setup(t *testing.T, start bool) *bundle { return &bundle{jobstest.Setup(t, start)} }

func (b *bundle) actor() account.Actor {
	return account.Actor{UserID: b.Editor.UserID, Email: b.Editor.Email}
}

func (b *bundle) exceptionOf(t *testing.T, id uuid.UUID) store.Exception {
	t.Helper()
	ex, err := store.ExceptionsOfMessage(context.Background(), b.Pool, id)
	require.NoError(t, err)
	require.NotEmpty(t, ex)
	return ex[len(ex)-1]
}

func (b *bundle) tx(t *testing.T, fn func(tx pgx.Tx) error) error {
	t.Helper()
	return txn.Run(context.Background(), b.Pool, fn)
}

// waitException polls until the message has an exception in status want.
func (b *bundle) waitException(t *testing.T, id uuid.UUID, want store.ExceptionStatus) store.Exception {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ex, err := store.ExceptionsOfMessage(context.Background(), b.Pool, id)
		require.NoError(t, err)
		if len(ex) > 0 && ex[len(ex)-1].Status == want {
			return ex[len(ex)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s: exceptions %+v, want one %s", id, ex, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGroupsCountAndInboxPagesByKeyset(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	b.ConfigureERP(t, tg.URL, nil)
	var ids []uuid.UUID
	for i := range 5 {
		ids = append(ids, b.Accept(t, fmt.Sprintf(`{"id": %d, "name": "#%d", "total": 10}`, i+1, i+1)).MessageID)
	}
	bad := b.Accept(t, `{"id": 99, "name": "#99", "total": 0}`).MessageID
	for _, id := range ids {
		b.WaitStatus(t, id, store.StatusFailed)
	}
	b.WaitStatus(t, bad, store.StatusRejected)
	ctx := context.Background()

	groups, next, err := inbox.GroupList(ctx, b.Pool, inbox.GroupFilter{})
	require.NoError(t, err)
	require.Nil(t, next)
	require.Len(t, groups, 2)
	byKind := map[store.ExceptionKind]inbox.ExceptionGroup{}
	for _, g := range groups {
		byKind[g.Kind] = g
	}
	require.EqualValues(t, 5, byKind[store.ExceptionDelivery].OpenCount)
	require.EqualValues(t, 1, byKind[store.ExceptionValidation].OpenCount)
	require.Equal(t, "orders", byKind[store.ExceptionDelivery].FlowSlug)
	n, err := inbox.OpenExceptionCount(ctx, b.Pool)
	require.NoError(t, err)
	require.EqualValues(t, 6, n)

	// Two pages of three, then nothing.
	page1, cursor, err := inbox.List(ctx, b.Pool, inbox.Filter{Limit: 3})
	require.NoError(t, err)
	require.Len(t, page1, 3)
	require.NotZero(t, cursor)
	page2, cursor2, err := inbox.List(ctx, b.Pool, inbox.Filter{Limit: 3, BeforeID: cursor})
	require.NoError(t, err)
	require.Len(t, page2, 3)
	require.Zero(t, cursor2)
	require.Greater(t, page1[2].ID, page2[0].ID)

	// Filters: kind, text by correlation id, target, group.
	only, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Kind: store.ExceptionValidation})
	require.NoError(t, err)
	require.Len(t, only, 1)
	require.Equal(t, bad, only[0].MessageID)
	byOrder, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Text: "#3"})
	require.NoError(t, err)
	require.Len(t, byOrder, 1)
	require.Equal(t, "#3", byOrder[0].CorrelationID)
	// Text in the error: a substring, case-insensitive; % and _ are
	// literal, not wildcards (the trigram index serves the pattern).
	sample := byKind[store.ExceptionDelivery].SampleMessage
	require.GreaterOrEqual(t, len(sample), 8, sample)
	mid := sample[2:8]
	byError, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Text: strings.ToUpper(mid)})
	require.NoError(t, err)
	require.Len(t, byError, 5, "%q in %q", mid, sample)
	wild := mid[:2] + "_" + mid[3:]
	none, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Text: wild})
	require.NoError(t, err)
	require.Empty(t, none, "_ in %q is a literal underscore, not any character", wild)
	none, _, err = inbox.List(ctx, b.Pool, inbox.Filter{Text: mid[:2] + "%" + mid[4:]})
	require.NoError(t, err)
	require.Empty(t, none, "%% is literal too")
	// Exactly an idempotency key.
	byKey, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Text: page1[0].IdempotencyKey})
	require.NoError(t, err)
	require.NotEmpty(t, byKey)
	require.Contains(t, exceptionIDs(byKey), page1[0].ID)
	byTarget, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Target: "erp"})
	require.NoError(t, err)
	require.Len(t, byTarget, 5)
	inGroup, _, err := inbox.List(ctx, b.Pool, inbox.Filter{Fingerprint: byKind[store.ExceptionDelivery].Fingerprint, EnvironmentID: b.Env.ID})
	require.NoError(t, err)
	require.Len(t, inGroup, 5)
	_, _, err = inbox.List(ctx, b.Pool, inbox.Filter{Status: "nonsense"})
	require.Equal(t, fault.Invalid, fault.CodeOf(err))

	// Resolving one lowers the group's open count in the same transaction.
	require.NoError(t, b.tx(t, func(tx pgx.Tx) error {
		return inbox.ExceptionResolve(ctx, tx, b.Client, only[0].ID, "sender fixed it", b.actor())
	}))
	g, err := inbox.GroupGet(ctx, b.Pool, byKind[store.ExceptionValidation].ID)
	require.NoError(t, err)
	require.EqualValues(t, 0, g.OpenCount)
	require.EqualValues(t, 1, g.TotalCount)
	groups, _, err = inbox.GroupList(ctx, b.Pool, inbox.GroupFilter{})
	require.NoError(t, err)
	require.Len(t, groups, 1, "a group with nothing open leaves the default view")
}

func TestActionRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := context.Background()
	id := b.Accept(t, `{"id": 1, "name": "#1", "total": 0}`).MessageID
	b.WaitStatus(t, id, store.StatusRejected)
	ex := b.exceptionOf(t, id)

	err := b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionResolve(ctx, tx, b.Client, ex.ID, "  ", b.actor()) })
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "resolving needs a reason")
	err = b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionIgnore(ctx, tx, b.Client, ex.ID, "", b.actor()) })
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "ignoring needs a reason")
	err = b.tx(t, func(tx pgx.Tx) error {
		_, err := inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex.ID, Payload: []byte(`{"id": 1,`), Actor: b.actor()})
		return err
	})
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "an edited payload must be JSON")
	require.Contains(t, err.Error(), "not valid JSON")
	err = b.tx(t, func(tx pgx.Tx) error {
		_, err := inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex.ID, Version: inbox.VersionDraft, Actor: b.actor()})
		return err
	})
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "a draft is previewed, not sent")
	err = b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionAssign(ctx, tx, ex.ID, 987654, b.actor()) })
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	err = b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionResolve(ctx, tx, b.Client, 987654, "x", b.actor()) })
	require.Equal(t, fault.NotFound, fault.CodeOf(err))

	require.NoError(t, b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionIgnore(ctx, tx, b.Client, ex.ID, "test order", b.actor()) }))
	for name, act := range map[string]func(tx pgx.Tx) error{
		"retry":   func(tx pgx.Tx) error { return inbox.ExceptionRetry(ctx, tx, b.Client, ex.ID, b.actor()) },
		"resolve": func(tx pgx.Tx) error { return inbox.ExceptionResolve(ctx, tx, b.Client, ex.ID, "again", b.actor()) },
		"assign":  func(tx pgx.Tx) error { return inbox.ExceptionAssign(ctx, tx, ex.ID, b.Editor.UserID, b.actor()) },
		"replay": func(tx pgx.Tx) error {
			_, err := inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex.ID, Actor: b.actor()})
			return err
		},
	} {
		err := b.tx(t, act)
		require.Equal(t, fault.Conflict, fault.CodeOf(err), "%s on an ignored exception", name)
	}
	h, err := inbox.ExceptionHistory(ctx, b.Pool, ex.ID)
	require.NoError(t, err)
	require.Len(t, h, 1, "refused actions leave no audit entry")
	require.Equal(t, "exception.ignore", h[0].Action)
	require.Contains(t, h[0].Before, `"status": "open"`)
	require.Contains(t, h[0].After, `"status": "ignored"`)
	require.Contains(t, h[0].After, "test order")
}

func TestEditPayloadAndReplayMakesALinkedRevision(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	b.ConfigureERP(t, tg.URL, nil)
	id := b.Accept(t, `{"id": 7, "name": "#7", "total": 0}`).MessageID
	b.WaitStatus(t, id, store.StatusRejected)
	ex := b.exceptionOf(t, id)

	// The preview shows what the edit changes before anything is sent.
	p, err := inbox.PreviewReplay(ctx, b.Pool, ex.ID, inbox.VersionRan, []byte(`{"id": 7, "name": "#7", "total": 25}`))
	require.NoError(t, err)
	require.Contains(t, p.PayloadDiff, `-   "total": 0`)
	require.Contains(t, p.PayloadDiff, `+   "total": 25`)
	require.Empty(t, p.Problems)
	require.Equal(t, 0, tg.Count())

	var newID uuid.UUID
	require.NoError(t, b.tx(t, func(tx pgx.Tx) error {
		var err error
		newID, err = inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex.ID,
			Payload: []byte(`{"id": 7, "name": "#7", "total": 25}`), Reason: "total was missing", Actor: b.actor()})
		return err
	}))
	v := b.WaitStatus(t, newID, store.StatusDelivered)
	require.Equal(t, "#7", v.Message.CorrelationID)
	require.Equal(t, 1, tg.Count())
	revs, err := inbox.RevisionsOf(ctx, b.Pool, newID)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	require.Equal(t, id, revs[0].OriginalID)
	require.True(t, revs[0].Edited)
	require.Equal(t, b.Editor.Email, revs[0].CreatedBy)
	require.Contains(t, revs[0].Diff, `+   "total": 25`)

	orig := b.WaitStatus(t, id, store.StatusRejected)
	require.Equal(t, store.StageReplayed, orig.Lineage[len(orig.Lineage)-1].Stage)
	require.Equal(t, store.ExceptionResolved, orig.Exceptions[0].Status)
	h, err := inbox.ExceptionHistory(ctx, b.Pool, ex.ID)
	require.NoError(t, err)
	require.Len(t, h, 1)
	require.Equal(t, "exception.replay", h[0].Action)
	require.Contains(t, h[0].Before, `"total": 0`)
	require.Contains(t, h[0].After, `"total": 25`)
}

func TestRetryRunsThePinnedVersionAndResolvesItself(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, jobstest.Status(http.StatusBadRequest))
	b.ConfigureERP(t, tg.URL, nil)
	id := b.Accept(t, `{"id": 5, "name": "#5", "total": 10}`).MessageID
	b.WaitStatus(t, id, store.StatusFailed)
	ex := b.exceptionOf(t, id)

	tg.SetAnswer(jobstest.Status(http.StatusOK))
	require.NoError(t, b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionRetry(ctx, tx, b.Client, ex.ID, b.actor()) }))
	// A second click while the retry is under way is refused, not doubled.
	err := b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionRetry(ctx, tx, b.Client, ex.ID, b.actor()) })
	if err != nil {
		require.Equal(t, fault.Conflict, fault.CodeOf(err))
	}
	b.WaitStatus(t, id, store.StatusDelivered)
	got := b.waitException(t, id, store.ExceptionResolved)
	require.Contains(t, got.Resolution, "delivered")

	// A validation exception retried processes the message again on its
	// own version (still invalid: the exception stays open, refreshed).
	bad := b.Accept(t, `{"id": 6, "name": "#6", "total": 0}`).MessageID
	b.WaitStatus(t, bad, store.StatusRejected)
	vex := b.exceptionOf(t, bad)
	require.NoError(t, b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionRetry(ctx, tx, b.Client, vex.ID, b.actor()) }))
	v := b.WaitStatus(t, bad, store.StatusRejected)
	require.Len(t, v.Exceptions, 1)
	require.Equal(t, store.ExceptionOpen, v.Exceptions[0].Status)
	require.Equal(t, 1, v.Message.VersionNumber)
}

func TestBulkRetryOfAGroupIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := context.Background()
	tg := jobstest.NewTarget(t, jobstest.Status(http.StatusBadRequest))
	b.ConfigureERP(t, tg.URL, nil)
	var ids []uuid.UUID
	for i := range 4 {
		ids = append(ids, b.Accept(t, fmt.Sprintf(`{"id": %d, "name": "#%d", "total": 10}`, i+1, i+1)).MessageID)
	}
	for _, id := range ids {
		b.WaitStatus(t, id, store.StatusFailed)
	}
	g := b.exceptionOf(t, ids[0])
	tg.SetAnswer(jobstest.Status(http.StatusOK))

	req := inbox.BulkRequest{RequestKey: "form-1", Action: inbox.BulkRetry, EnvironmentID: b.Env.ID, Fingerprint: g.Fingerprint, Actor: b.actor()}
	first, created, err := inbox.BulkStart(ctx, b.Pool, b.Client, req)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 4, first.Total)
	again, created, err := inbox.BulkStart(ctx, b.Pool, b.Client, req)
	require.NoError(t, err)
	require.False(t, created, "the same click twice")
	require.Equal(t, first.ID, again.ID)

	for _, id := range ids {
		b.WaitStatus(t, id, store.StatusDelivered)
		b.waitException(t, id, store.ExceptionResolved)
	}
	require.Equal(t, 4, tg.Count()-4, "each delivery was sent once more, not twice")
	deadline := time.Now().Add(10 * time.Second)
	for {
		ba, err := inbox.BulkGet(ctx, b.Pool, first.ID)
		require.NoError(t, err)
		if ba.Status == "done" {
			require.Equal(t, 4, ba.Done+ba.Skipped)
			break
		}
		require.True(t, time.Now().Before(deadline), "bulk action still %s", ba.Status)
		time.Sleep(20 * time.Millisecond)
	}

	// Nothing left open: a new bulk retry of the group does nothing.
	req.RequestKey = "form-2"
	second, created, err := inbox.BulkStart(ctx, b.Pool, b.Client, req)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 0, second.Total)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 8, tg.Count())

	_, _, err = inbox.BulkStart(ctx, b.Pool, b.Client, inbox.BulkRequest{RequestKey: "x", Action: inbox.BulkResolve, ExceptionIDs: []int64{g.ID}, Actor: b.actor()})
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "bulk resolve needs a reason")
}

func TestLineDiff(t *testing.T) {
	t.Parallel()
	require.Equal(t, "  a\n- b\n+ c\n  d", inbox.LineDiff("a\nb\nd", "a\nc\nd"))
}

func TestRequestHeadersMaskTheCredential(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	tg := jobstest.NewTarget(t, jobstest.Status(http.StatusBadRequest))
	b.ConfigureERP(t, tg.URL, nil)
	id := b.Accept(t, `{"id": 8, "name": "#8", "total": 10}`).MessageID
	v := b.WaitStatus(t, id, store.StatusFailed)
	heads, err := inbox.RequestHeaders(context.Background(), b.Pool, pipeline.Transports(b.Pool, nil), b.Env.ID, v.Message.CorrelationID, v.Deliveries)
	require.NoError(t, err)
	h := heads[v.Deliveries[0].ID]
	require.Equal(t, "••••••", h["Authorization"])
	require.Equal(t, "shop", h["X-Tenant"])
	require.Equal(t, v.Deliveries[0].ID.String(), h["Idempotency-Key"])
	require.Equal(t, "#8", h["X-Correlation-Id"])
}

func exceptionIDs(items []inbox.Item) []int64 {
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}
