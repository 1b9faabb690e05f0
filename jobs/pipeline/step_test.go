package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// writebackDefinition books an order in the ERP (route "book") and, when
// the ERP answers 201, writes the ERP's document number back to the OMS
// (step "writeback").
const writebackDefinition = `{
	"formatVersion": 1, "name": "writeback",
	"source": {"system": "shop", "event": "order.created"},
	"keys": {"idempotency": "string(source.id)", "correlation": "string(source.id)"},
	"targets": [{"name": "erp", "kind": "http"}, {"name": "oms", "kind": "http"}],
	"routes": [{"name": "book", "target": "erp", "mapping": [{"target": "orderId", "expr": "source.id"}],
		"then": [{"name": "writeback", "target": "oms", "when": "response.status == 201", "mapping": [
			{"target": "orderId", "expr": "source.id"},
			{"target": "documentNumber", "expr": "upper(response.body.documentNumber)"},
			{"target": "bookedAs", "expr": "steps.book.response.headers[\"x-erp-ref\"]"}
		]}],
		"reply": [{"target": "orderNumber", "expr": "upper(steps.book.response.body.documentNumber)"}]
	}]
}`

type stepBundle struct {
	*jobstest.Bundle
	erp, oms *jobstest.Target
}

func setupSteps(t *testing.T) *stepBundle {
	t.Helper()
	b := jobstest.Setup(t, true)
	ctx := context.Background()
	def, err := engine.ParseDefinition([]byte(writebackDefinition))
	require.NoError(t, err)
	flow, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Writeback", Slug: "writeback", Definition: def}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, flow.ID, 1, "v1", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, flow.ID, 1)
	sb := &stepBundle{Bundle: b}
	sb.erp = jobstest.NewTarget(t, func(n int, w http.ResponseWriter) {
		// The ERP echoes the credential it was sent, as a careless
		// target might: the stored answer must not keep it.
		w.Header().Set("X-Erp-Ref", fmt.Sprintf("ref-%d", n))
		w.Header().Set("Set-Cookie", "session="+jobstest.Secret)
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"documentNumber": "d-%d", "echo": %q}`, 4500+n, jobstest.Secret)
	})
	sb.oms = jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	b.ConfigureERP(t, sb.erp.URL, nil)
	_, err = release.TargetConfigPut(ctx, b.Pool, b.Sealer, release.TargetConfig{EnvironmentID: b.Env.ID, Target: "oms", URLTemplate: sb.oms.URL + "/writeback",
		Timeout: 2 * time.Second,
		Retry:   release.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond, Window: time.Minute},
		Breaker: release.BreakerPolicy{FailureThreshold: 100, OpenFor: time.Second}}, b.Editor)
	require.NoError(t, err)
	return sb
}

func (b *stepBundle) accept(t *testing.T, id int) uuid.UUID {
	t.Helper()
	res, err := b.Intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "writeback", Payload: fmt.Appendf(nil, `{"id": %d}`, id)})
	require.NoError(t, err)
	return res.MessageID
}

func deliveryOf(t *testing.T, v store.MessageView, step string) store.Delivery {
	t.Helper()
	for _, d := range v.Deliveries {
		if d.Step == step {
			return d
		}
	}
	t.Fatalf("message %s has no delivery of step %q", v.Message.ID, step)
	return store.Delivery{}
}

func retryDelivery(t *testing.T, b *stepBundle, id uuid.UUID) error {
	t.Helper()
	return txn.Run(context.Background(), b.Pool, func(tx pgx.Tx) error { return pipeline.DeliveryRetry(context.Background(), tx, b.Client, id) })
}

// The checkout waits for the ERP: Prefer: wait=N (Intake.MapInline)
// answers with the route's reply once the answer it names is delivered.
func TestSynchronousReply(t *testing.T) {
	t.Parallel()
	inline := func(b *stepBundle, id int, wait time.Duration) (intake.InlineResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return b.Intake.MapInline(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "writeback", Payload: fmt.Appendf(nil, `{"id": %d}`, id)})
	}

	t.Run("the reply maps the ERP's answer", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		res, err := inline(b, 21, 5*time.Second)
		require.NoError(t, err)
		require.JSONEq(t, `{"orderNumber": "D-4501"}`, string(res.Reply))
		v := b.WaitStatus(t, res.MessageID, store.StatusDelivered)
		require.JSONEq(t, `{"orderNumber": "D-4501"}`, string(v.Reply), "the status resource carries it")
	})

	t.Run("a wait that runs out falls back to the status resource", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		release := make(chan struct{})
		b.erp.SetAnswer(func(_ int, w http.ResponseWriter) {
			<-release
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"documentNumber": "late-1"}`))
		})
		res, err := inline(b, 22, 300*time.Millisecond)
		require.ErrorIs(t, err, intake.ErrWaitExpired)
		require.NotEqual(t, uuid.Nil, res.MessageID, "the message was recorded")
		close(release)
		v := b.WaitStatus(t, res.MessageID, store.StatusDelivered)
		require.JSONEq(t, `{"orderNumber": "LATE-1"}`, string(v.Reply))
	})

	t.Run("a message that fails has no reply to wait for", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		b.erp.SetAnswer(jobstest.Status(http.StatusUnprocessableEntity))
		start := time.Now()
		// A wait far longer than failing takes even on a loaded machine:
		// the answer comes when the message fails, not when the wait ends.
		res, err := inline(b, 23, 60*time.Second)
		require.ErrorIs(t, err, intake.ErrWaitExpired)
		require.Less(t, time.Since(start), 50*time.Second, "the wait ends when the message fails")
		v := b.WaitStatus(t, res.MessageID, store.StatusFailed)
		require.Empty(t, v.Reply)
	})
}

func TestStepsWriteBackTheAnswer(t *testing.T) {
	t.Parallel()

	t.Run("the step maps the answer and is a delivery of its own", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		id := b.accept(t, 7)
		v := b.WaitStatus(t, id, store.StatusDelivered)
		require.Len(t, v.Deliveries, 2)
		book, wb := deliveryOf(t, v, ""), deliveryOf(t, v, "writeback")
		require.Equal(t, "book", wb.Route)
		require.Equal(t, "oms", wb.Target)
		require.Equal(t, &book.ID, wb.ParentID)
		require.Equal(t, store.StepDeliveryID(id, "book", "writeback"), wb.ID)
		require.JSONEq(t, `{"orderId": 7, "documentNumber": "D-4501", "bookedAs": "ref-1"}`, string(wb.Body))

		require.Equal(t, 1, b.oms.Count())
		req := b.oms.Requests()[0]
		require.Equal(t, wb.ID.String(), req.Header.Get("Idempotency-Key"), "the step's own, stable key")
		require.JSONEq(t, string(wb.Body), string(b.oms.Bodies()[0]))

		var resp engine.Response
		require.NoError(t, json.Unmarshal(book.Response, &resp))
		require.Equal(t, 201, resp.Status)
		require.Equal(t, "ref-1", resp.Headers["x-erp-ref"])
		require.NotContains(t, resp.Headers, "set-cookie", "cookies are not kept")
		require.NotContains(t, string(book.Response), jobstest.Secret, "the credential echoed in the body is masked")
		require.Empty(t, wb.Response, "nothing follows the write-back: its answer is not kept")

		stages := jobstest.Stages(v)
		require.Contains(t, stages, store.StageRouted)
		var after []string
		for _, e := range v.Lineage {
			if e.Stage == store.StageRouted && e.DeliveryID != nil {
				var d struct {
					After  string   `json:"after"`
					Routes []string `json:"routes"`
				}
				require.NoError(t, json.Unmarshal(e.Detail, &d))
				after = append(after, d.After+"→"+strings.Join(d.Routes, ","))
			}
		}
		require.Equal(t, []string{"book→writeback"}, after, "lineage records the chain")
		b.RequireNoSecret(t, v)
	})

	t.Run("a false condition sends no step", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		b.erp.SetAnswer(func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
		v := b.WaitStatus(t, b.accept(t, 8), store.StatusDelivered)
		require.Len(t, v.Deliveries, 1)
		require.Equal(t, 0, b.oms.Count())
	})

	t.Run("a failed step is retried from that step", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		b.oms.SetAnswer(jobstest.Status(http.StatusUnprocessableEntity))
		id := b.accept(t, 9)
		v := b.WaitStatus(t, id, store.StatusFailed)
		wb := deliveryOf(t, v, "writeback")
		require.Equal(t, store.DeliveryFailed, wb.Status)
		ex, err := store.ExceptionsOfMessage(context.Background(), b.Pool, id)
		require.NoError(t, err)
		require.Len(t, ex, 1)
		require.Equal(t, &wb.ID, ex[0].DeliveryID)
		require.Contains(t, ex[0].Message, "delivery of step writeback (route book) to target “oms” failed")

		b.oms.SetAnswer(jobstest.Status(http.StatusOK))
		require.NoError(t, retryDelivery(t, b, wb.ID))
		b.WaitStatus(t, id, store.StatusDelivered)
		require.Equal(t, 1, b.erp.Count(), "the ERP was not asked again")
		require.Equal(t, 2, b.oms.Count())
		keys := []string{b.oms.Requests()[0].Header.Get("Idempotency-Key"), b.oms.Requests()[1].Header.Get("Idempotency-Key")}
		require.Equal(t, keys[0], keys[1], "the retry has the same idempotency key")
	})

	t.Run("an answer the step cannot map is a mapping exception of the step", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		b.erp.SetAnswer(func(_ int, w http.ResponseWriter) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"documentNumber": 17}`))
		})
		id := b.accept(t, 10)
		v := b.WaitStatus(t, id, store.StatusFailed)
		wb := deliveryOf(t, v, "writeback")
		require.Equal(t, store.DeliveryFailed, wb.Status)
		require.Equal(t, 0, b.oms.Count())
		ex, err := store.ExceptionsOfMessage(context.Background(), b.Pool, id)
		require.NoError(t, err)
		require.Len(t, ex, 1)
		require.Equal(t, store.ExceptionMapping, ex[0].Kind)
		require.Equal(t, "step", ex[0].Stage)
		require.Contains(t, ex[0].Message, "step writeback (after book) could not map the answer")

		err = retryDelivery(t, b, wb.ID)
		require.Equal(t, fault.Invalid, fault.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), "step writeback still cannot be mapped")
		require.Equal(t, 1, b.erp.Count())
	})

	t.Run("a retry maps a failed step again from the stored answer", func(t *testing.T) {
		t.Parallel()
		b := setupSteps(t)
		id := b.accept(t, 11)
		v := b.WaitStatus(t, id, store.StatusDelivered)
		wb := deliveryOf(t, v, "writeback")
		// As if the step had failed to map: its body is gone.
		_, err := b.Pool.Exec(context.Background(), `update deliveries set status = 'failed', body = 'null' where id = $1`, wb.ID)
		require.NoError(t, err)
		require.NoError(t, retryDelivery(t, b, wb.ID))
		v = b.WaitStatus(t, id, store.StatusDelivered)
		require.JSONEq(t, `{"orderId": 11, "documentNumber": "D-4501", "bookedAs": "ref-1"}`, string(deliveryOf(t, v, "writeback").Body))
		require.Equal(t, 1, b.erp.Count())
		require.Equal(t, 2, b.oms.Count())
		require.False(t, strings.Contains(string(b.oms.Bodies()[1]), "null"))
	})
}
