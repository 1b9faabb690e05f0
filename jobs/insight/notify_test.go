package insight_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/mappings/release"
)

const secretHookPath = "/services/T000/B000/HOOKSECRET42"

// Notifications: a group that opens is announced once; more of it within
// the window is not announced again until it passes the threshold (once);
// a webhook that fails is retried; the URL never shows.
func TestExceptionNotifications(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	hook := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	_, err := release.NotificationConfigPut(ctx, b.Pool, b.Sealer, release.NotificationConfig{EnvironmentID: b.Env.ID, Enabled: true,
		URL: hook.URL + secretHookPath, Threshold: 3, Window: 10 * time.Minute}, b.Editor)
	require.NoError(t, err)
	msg := b.Accept(t, `{"id": 1, "name": "#1001", "total": 1}`)
	msg2 := b.Accept(t, `{"id": 2, "name": "#1002", "total": 1}`)

	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	sweep := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &insight.NotifySweepWorker{DB: tx, Now: func() time.Time { return now }})
	send := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &insight.NotifyWorker{DB: tx, Sealer: b.Sealer, BaseURL: "https://crossdock.example"})

	raise := func(msgID any, stage string, at time.Time) {
		t.Helper()
		_, err := tx.Exec(ctx, `insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, stage, error_class, message, created_at, updated_at)
			values ('delivery', 'fp-erp-500', $1, $2, $3, $4, 'http 500', 'target “erp” answered 500', $5, $5)`, b.Env.ID, b.Flow.ID, msgID, stage, at)
		require.NoError(t, err)
	}
	// sweepAndSend runs a sweep and sends what it enqueued; it returns the
	// events sent.
	sweepAndSend := func() []string {
		t.Helper()
		_, err := sweep.Work(ctx, t, tx, insight.NotifySweepArgs{}, nil)
		require.NoError(t, err)
		rows, err := tx.Query(ctx, `delete from river_job where kind = 'notify' and state = 'available' returning args`)
		require.NoError(t, err)
		list, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		require.NoError(t, err)
		var events []string
		for _, raw := range list {
			var a insight.NotifyArgs
			require.NoError(t, json.Unmarshal(raw, &a))
			res, err := send.Work(ctx, t, tx, a, nil)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobCompleted, res.EventKind)
			events = append(events, a.Event)
		}
		return events
	}

	require.Empty(t, sweepAndSend(), "no exceptions, no notice")
	raise(msg.MessageID, "deliver", now.Add(-time.Minute))
	require.Equal(t, []string{insight.NoticeOpened}, sweepAndSend(), "a group opens: one notice")
	require.Equal(t, 1, hook.Count())
	var n insight.Notice
	require.NoError(t, json.Unmarshal(hook.Bodies()[0], &n))
	require.Equal(t, insight.NoticeOpened, n.Event)
	require.Equal(t, "dev", n.Environment)
	require.Equal(t, "orders", n.Flow)
	require.Equal(t, 1, n.OpenCount)
	require.Contains(t, n.Text, "New delivery exception group in flow orders")
	require.Contains(t, n.Text, "https://crossdock.example/inbox?fingerprint=fp-erp-500&env=dev")
	require.Equal(t, "application/json", hook.Requests()[0].Header.Get("Content-Type"))
	require.Equal(t, secretHookPath, hook.Requests()[0].URL.Path)

	require.Empty(t, sweepAndSend(), "the same sweep again: nothing twice")
	now = now.Add(time.Minute)
	raise(msg2.MessageID, "deliver", now.Add(-time.Second))
	require.Empty(t, sweepAndSend(), "a repeat within the window, under the threshold: no duplicate")

	now = now.Add(time.Minute)
	raise(msg2.MessageID, "process", now.Add(-time.Second))
	require.Equal(t, []string{insight.NoticeThreshold}, sweepAndSend(), "three within the window: the threshold notice")
	require.NoError(t, json.Unmarshal(hook.Bodies()[1], &n))
	require.Equal(t, 3, n.InWindow)
	require.Contains(t, n.Text, "3 delivery exceptions in flow orders within 10m0s (threshold 3)")
	require.Empty(t, sweepAndSend(), "passed once per window")
	require.Equal(t, 2, hook.Count())

	// Everything resolved: the group closes; the next exception opens it again.
	_, err = tx.Exec(ctx, `update exceptions set status = 'resolved', resolved_at = $1`, now)
	require.NoError(t, err)
	require.Empty(t, sweepAndSend())
	now = now.Add(20 * time.Minute)
	raise(msg.MessageID, "deliver", now.Add(-time.Second))
	require.Equal(t, []string{insight.NoticeOpened}, sweepAndSend(), "reopened")

	// A failing webhook fails the attempt (River retries with back-off),
	// and the URL, which is the credential, is not in the error.
	hook.SetAnswer(jobstest.Status(http.StatusInternalServerError))
	a := insight.NotifyArgs{EnvironmentID: b.Env.ID, Fingerprint: "fp-erp-500", Event: insight.NoticeOpened, Count: 1, Threshold: 3, WindowMS: 600000, At: now}
	_, err = send.Work(ctx, t, tx, a, nil)
	require.ErrorContains(t, err, "answered 500")
	require.NotContains(t, err.Error(), "HOOKSECRET42")
	hook.SetAnswer(jobstest.Status(http.StatusNoContent))
	res, err := send.Work(ctx, t, tx, a, nil)
	require.NoError(t, err, "the retry goes through")
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	w := &insight.NotifyWorker{BaseDelay: time.Second, MaxDelay: 8 * time.Second}
	var last time.Duration
	for attempt := 1; attempt <= 6; attempt++ {
		d := time.Until(w.NextRetry(&river.Job[insight.NotifyArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}}))
		require.Greater(t, d, last*8/10, "attempt %d waits longer", attempt)
		require.Less(t, d, 9*time.Second, "capped")
		last = d
	}

	// An unreachable webhook: the error names the host only.
	_, err = release.NotificationConfigPut(ctx, tx, b.Sealer, release.NotificationConfig{EnvironmentID: b.Env.ID, Enabled: true,
		URL: "http://127.0.0.1:1" + secretHookPath, Threshold: 3, Window: 10 * time.Minute}, b.Editor)
	require.NoError(t, err)
	_, err = send.Work(ctx, t, tx, a, nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "HOOKSECRET42")
	require.Contains(t, err.Error(), "http://127.0.0.1:1/…")

	// Disabled or removed: the notice is cancelled, not retried.
	_, err = release.NotificationConfigPut(ctx, tx, b.Sealer, release.NotificationConfig{EnvironmentID: b.Env.ID, Enabled: false, Threshold: 3, Window: 10 * time.Minute}, b.Editor)
	require.NoError(t, err)
	res, err = send.Work(ctx, t, tx, a, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCancelled, res.EventKind)
	require.NoError(t, release.NotificationConfigDelete(ctx, tx, b.Env.ID))
	res, err = send.Work(ctx, t, tx, a, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCancelled, res.EventKind)
}

// Approvals: with the webhook's approvals on, each promotion request that
// waits for an approver is announced once, with a link to it; without
// them, or once decided, it is not.
func TestApprovalNotifications(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	hook := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	tx, err := b.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	configure := func(approvals bool) {
		t.Helper()
		_, err := release.NotificationConfigPut(ctx, tx, b.Sealer, release.NotificationConfig{EnvironmentID: b.Env.ID, Enabled: true,
			URL: hook.URL + secretHookPath, Approvals: approvals}, b.Editor)
		require.NoError(t, err)
	}
	request := func(reason string) int64 {
		t.Helper()
		return dbtest.PromotionRequest(t, tx, b.Env.ID, b.Flow.ID, 1, reason)
	}
	sweep := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &insight.NotifySweepWorker{DB: tx})
	send := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &insight.NotifyWorker{DB: tx, Sealer: b.Sealer, BaseURL: "https://crossdock.example"})
	enqueued := func() []insight.NotifyArgs {
		t.Helper()
		_, err := sweep.Work(ctx, t, tx, insight.NotifySweepArgs{}, nil)
		require.NoError(t, err)
		rows, err := tx.Query(ctx, `delete from river_job where kind = 'notify' and state = 'available' returning args`)
		require.NoError(t, err)
		list, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		require.NoError(t, err)
		var out []insight.NotifyArgs
		for _, raw := range list {
			var a insight.NotifyArgs
			require.NoError(t, json.Unmarshal(raw, &a))
			out = append(out, a)
		}
		return out
	}

	t.Run("off by default: requests are not announced", func(t *testing.T) {
		configure(false)
		id := request("go live")
		require.Empty(t, enqueued())
		dbtest.DecideRequest(t, tx, id, release.RequestRejected)
	})
	t.Run("on: a waiting request is announced once, with a link", func(t *testing.T) {
		configure(true)
		id := request("Black Friday prices")
		got := enqueued()
		require.Len(t, got, 1)
		require.Equal(t, insight.NoticeApproval, got[0].Event)
		require.Equal(t, id, got[0].RequestID)
		require.Empty(t, enqueued(), "announced once")
		res, err := send.Work(ctx, t, tx, got[0], nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		var n insight.ApprovalNotice
		require.NoError(t, json.Unmarshal(hook.Bodies()[hook.Count()-1], &n))
		require.Equal(t, "dev", n.Environment)
		require.Equal(t, "orders", n.Flow)
		require.Equal(t, 1, n.Version)
		require.Equal(t, "https://crossdock.example/promotions/"+strconv.FormatInt(id, 10), n.URL)
		require.Contains(t, n.Text, "[dev] ana@shop.example asks to promote Orders (orders) v1 to dev: “Black Friday prices”. It waits for an approver.")

		t.Run("decided before the notice went out: cancelled, not sent", func(t *testing.T) {
			before := hook.Count()
			dbtest.DecideRequest(t, tx, id, release.RequestApproved)
			res, err := send.Work(ctx, t, tx, got[0], nil)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobCancelled, res.EventKind)
			require.Equal(t, before, hook.Count())
		})
	})
}
