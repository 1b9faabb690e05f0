package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"

	"github.com/jackc/pgx/v5"
)

func TestDeliversToHTTPTargetAndCaptures(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"erpOrder":"SO-1"}`))
	})
	b.ConfigureERP(t, tg.URL, nil)
	// The capture target has credentials too: what it records must not.
	_, err := release.TargetConfigPut(context.Background(), b.Pool, b.Sealer, release.TargetConfig{
		EnvironmentID: b.Env.ID, Target: "audit", URLTemplate: "https://audit.example/${ERP_COMPANY}/{messageId}",
		Auth: release.AuthHeader, AuthHeaderName: "X-Api-Key", Secret: jobstest.Secret}, b.Editor)
	require.NoError(t, err)

	acc := b.Accept(t, `{"id": 1001, "name": "#1001", "total": 25.5, "audit": true}`)
	require.Equal(t, "order-1001", acc.IdempotencyKey, "derived by the key expression")
	require.Equal(t, "#1001", acc.CorrelationID, "derived by the correlation expression")
	v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)

	require.Equal(t, 1, tg.Count())
	req := tg.Requests()[0]
	require.Len(t, v.Deliveries, 2)
	var erp, audit store.Delivery
	for _, d := range v.Deliveries {
		if d.Target == "erp" {
			erp = d
		} else {
			audit = d
		}
	}
	require.Equal(t, "/orders/%231001", req.URL.EscapedPath(), "URL template with the escaped correlation id")
	require.Equal(t, erp.ID.String(), req.Header.Get("Idempotency-Key"), "the delivery id is the idempotency key")
	require.Equal(t, "#1001", req.Header.Get("X-Correlation-ID"))
	require.Equal(t, acc.MessageID.String(), req.Header.Get("X-Crossdock-Message-Id"), "the message the delivery comes from")
	require.Equal(t, "Crossdock", req.Header.Get("User-Agent"))
	require.Equal(t, "Bearer "+jobstest.Secret, req.Header.Get("Authorization"))
	require.Equal(t, "shop", req.Header.Get("X-Tenant"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.JSONEq(t, `{"orderId": 1001, "total": 25.5, "qty": 1, "company": "1000"}`, string(tg.Bodies()[0]))

	require.Equal(t, store.DeliveryDelivered, erp.Status)
	require.Len(t, erp.AttemptLog, 1)
	require.Equal(t, 201, *erp.AttemptLog[0].StatusCode)
	require.Equal(t, `{"erpOrder":"SO-1"}`, erp.AttemptLog[0].ResponseExcerpt)
	require.NotNil(t, erp.DeliveredAt)

	require.Equal(t, store.DeliveryDelivered, audit.Status)
	require.NotNil(t, audit.Capture, "the capture target records what it would send")
	require.JSONEq(t, `{"order": "#1001"}`, string(audit.Capture.Body))
	require.Equal(t, "https://audit.example/1000/"+acc.MessageID.String(), audit.Capture.URL, "variables and ids in the URL template")
	require.Equal(t, "••••••", audit.Capture.Headers["X-Api-Key"], "the credential is masked")
	require.Equal(t, audit.ID.String(), audit.Capture.Headers["Idempotency-Key"])
	require.Equal(t, "captured", audit.AttemptLog[0].Outcome)
	caps, err := store.CaptureList(context.Background(), b.Pool, b.Env.ID, "audit", 0, 0)
	require.NoError(t, err)
	require.Len(t, caps, 1)
	require.Equal(t, acc.MessageID, caps[0].MessageID)
	require.Equal(t, "#1001", caps[0].CorrelationID)
	none, err := store.CaptureList(context.Background(), b.Pool, b.Env.ID, "erp", 0, 0)
	require.NoError(t, err)
	require.Empty(t, none, "the http target sent, it did not capture")

	st := jobstest.Stages(v)
	require.Equal(t, []store.Stage{store.StageReceived, store.StageValidated, store.StageMapped, store.StageRouted, store.StageQueued}, st[:5])
	require.Contains(t, st, store.StageDelivering)
	require.Equal(t, 2, strings.Count(strings.Join(toStrings(st), " "), "delivered"))
	require.Empty(t, v.Exceptions)
	b.RequireNoSecret(t, v)
}

func toStrings(s []store.Stage) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

func TestRetriesAfter500ThenDelivers(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	tg := jobstest.NewTarget(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("database is down; token=" + jobstest.Secret))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	b.ConfigureERP(t, tg.URL, nil)
	acc := b.Accept(t, `{"id": 1, "name": "#1", "total": 10}`)
	v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)

	require.Equal(t, 2, tg.Count())
	require.Equal(t, tg.Requests()[0].Header.Get("Idempotency-Key"), tg.Requests()[1].Header.Get("Idempotency-Key"), "the same key on every attempt")
	d := v.Deliveries[0]
	require.Len(t, d.AttemptLog, 2)
	require.Equal(t, "retry", d.AttemptLog[0].Outcome)
	require.Equal(t, 500, *d.AttemptLog[0].StatusCode)
	require.Contains(t, d.AttemptLog[0].ResponseExcerpt, "token=••••••", "an echoed secret is scrubbed")
	require.Equal(t, "delivered", d.AttemptLog[1].Outcome)
	require.Contains(t, jobstest.Stages(v), store.StageRetryScheduled)
	require.Empty(t, v.Exceptions, "a retry that succeeds needs nobody")
	b.RequireNoSecret(t, v)
}

func TestHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	tg := jobstest.NewTarget(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	b.ConfigureERP(t, tg.URL, nil)
	acc := b.Accept(t, `{"id": 2, "name": "#2", "total": 10}`)
	v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
	a := v.Deliveries[0].AttemptLog
	require.Len(t, a, 2)
	require.Equal(t, 429, *a[0].StatusCode)
	gap := a[1].StartedAt.Sub(a[0].StartedAt)
	require.GreaterOrEqual(t, gap, 900*time.Millisecond, "waited for Retry-After, not the 10 ms back-off")
	var detail map[string]any
	for _, e := range v.Lineage {
		if e.Stage == store.StageRetryScheduled {
			require.NoError(t, json.Unmarshal(e.Detail, &detail))
		}
	}
	require.Equal(t, "1s", detail["retryAfter"])
}

func TestClientErrorFailsAtOnceAndRetryResolves(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unknown customer"}`))
	})
	b.ConfigureERP(t, tg.URL, nil)
	acc := b.Accept(t, `{"id": 3, "name": "#3", "total": 10}`)
	v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, 1, tg.Count(), "a 4xx is not retried")
	d := v.Deliveries[0]
	require.Equal(t, store.DeliveryFailed, d.Status)
	require.Len(t, v.Exceptions, 1)
	ex := v.Exceptions[0]
	require.Equal(t, store.ExceptionDelivery, ex.Kind)
	require.Equal(t, "http 400", ex.ErrorClass)
	require.Equal(t, store.Fingerprint(b.Flow.ID, "deliver", "http 400"), ex.Fingerprint)
	require.Contains(t, ex.Message, "unknown customer")
	require.Equal(t, store.ExceptionOpen, ex.Status)

	// The target is fixed; a retry from the inbox delivers and resolves.
	tg.SetAnswer(jobstest.Status(http.StatusOK))
	require.NoError(t, txn.Run(context.Background(), b.Pool, func(tx pgx.Tx) error {
		return pipeline.DeliveryRetry(context.Background(), tx, b.Client, d.ID)
	}))
	v = b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
	require.Equal(t, store.ExceptionResolved, v.Exceptions[0].Status)
	require.NotNil(t, v.Exceptions[0].ResolvedAt)
	require.Equal(t, 2, tg.Count())
	b.RequireNoSecret(t, v)
}

func TestTimeoutRetriesThenGivesUp(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) {
		time.Sleep(400 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) {
		c.Timeout = 100 * time.Millisecond
		c.Retry.MaxAttempts = 2
	})
	acc := b.Accept(t, `{"id": 4, "name": "#4", "total": 10}`)
	v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)
	d := v.Deliveries[0]
	require.Len(t, d.AttemptLog, 2, "MaxAttempts attempts in all")
	for _, a := range d.AttemptLog {
		require.Nil(t, a.StatusCode)
		require.Contains(t, a.Error, "no answer within 100ms")
		require.Less(t, a.LatencyMS, 400)
	}
	require.Len(t, v.Exceptions, 1)
	require.Equal(t, "timeout", v.Exceptions[0].ErrorClass)
	require.Contains(t, v.Exceptions[0].Message, "gave up after 2 attempts")
	b.RequireNoSecret(t, v)
}

func TestCircuitBreakerOpensAndCloses(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	var healthy atomic.Bool
	tg := jobstest.NewTarget(t, func(_ int, w http.ResponseWriter) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) {
		c.Retry.MaxAttempts = 20
		// Open longer than River takes to run a snoozed job again (its
		// scheduler promotes scheduled jobs every 5 s): with 700 ms, a busy
		// machine let the circuit half-open before the retry found it open.
		c.Breaker = release.BreakerPolicy{FailureThreshold: 2, OpenFor: 6 * time.Second}
	})
	acc := b.Accept(t, `{"id": 5, "name": "#5", "total": 10}`)

	// Two failures open the circuit; the delivery then waits rather than
	// spending attempts.
	require.Eventually(t, func() bool {
		var lastError string
		_ = b.Pool.QueryRow(context.Background(), `select last_error from deliveries where message_id = $1`, acc.MessageID).Scan(&lastError)
		return strings.Contains(lastError, "circuit open")
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, tg.Count())
	m, err := store.MessageByID(context.Background(), b.Pool, acc.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusRetrying, m.Status)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 2, tg.Count(), "no request while the circuit is open")

	// After OpenFor one trial request goes through; it succeeds and the
	// circuit closes.
	healthy.Store(true)
	v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
	require.Equal(t, 3, tg.Count())
	require.Len(t, v.Deliveries[0].AttemptLog, 3, "snoozes for an open circuit are not attempts")

	acc2 := b.Accept(t, `{"id": 6, "name": "#6", "total": 10}`)
	b.WaitStatus(t, acc2.MessageID, store.StatusDelivered)
	require.Equal(t, 4, tg.Count(), "closed again: the next delivery goes straight through")
}

func TestMissingTargetConfigurationIsAnException(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	acc := b.Accept(t, `{"id": 7, "name": "#7", "total": 10}`)
	v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)
	require.Len(t, v.Exceptions, 1)
	require.Equal(t, store.ExceptionConfiguration, v.Exceptions[0].Kind)
	require.Contains(t, v.Exceptions[0].Message, "not configured")
	require.Equal(t, store.DeliveryFailed, v.Deliveries[0].Status)
}

func TestRateLimitSpacesRequests(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	tg := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) { c.RatePerSecond = 5 })
	start := time.Now()
	var ids []intake.AcceptResult
	for i := range 8 {
		ids = append(ids, b.Accept(t, `{"id": `+string(rune('0'+i))+`, "name": "r", "total": 1}`))
	}
	for _, a := range ids {
		b.WaitStatus(t, a.MessageID, store.StatusDelivered)
	}
	// A burst of 5, then 5 per second: 8 requests need at least 0.6 s.
	require.GreaterOrEqual(t, time.Since(start), 550*time.Millisecond)
	require.Equal(t, 8, tg.Count())
}
