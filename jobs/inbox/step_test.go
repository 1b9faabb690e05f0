package inbox_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// The inbox's retry of a failed step sends that step again, and only it:
// the route's target, which booked the order, is not asked again, and the
// exception resolves itself when the step is delivered.
func TestRetryOfAFailedStepSendsOnlyTheStep(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	ctx := context.Background()
	def, err := engine.ParseDefinition([]byte(`{"formatVersion": 1, "name": "writeback",
		"source": {"system": "shop", "event": "order.created"},
		"targets": [{"name": "erp", "kind": "http"}, {"name": "oms", "kind": "http"}],
		"routes": [{"name": "book", "target": "erp", "mapping": [{"target": "id", "expr": "source.id"}],
			"then": [{"name": "writeback", "target": "oms", "mapping": [{"target": "doc", "expr": "response.body.doc"}]}]}]}`))
	require.NoError(t, err)
	flow, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Writeback", Slug: "writeback", Definition: def}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, flow.ID, 1, "v1", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, flow.ID, 1)
	erp := jobstest.NewTarget(t, func(n int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"doc": "D-%d"}`, n)
	})
	oms := jobstest.NewTarget(t, jobstest.Status(http.StatusConflict))
	b.ConfigureERP(t, erp.URL, nil)
	_, err = release.TargetConfigPut(ctx, b.Pool, b.Sealer, release.TargetConfig{EnvironmentID: b.Env.ID, Target: "oms", URLTemplate: oms.URL,
		Timeout: 2 * time.Second, Retry: release.RetryPolicy{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Window: time.Minute},
		Breaker: release.BreakerPolicy{FailureThreshold: 100, OpenFor: time.Second}}, b.Editor)
	require.NoError(t, err)

	acc, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "writeback", Payload: []byte(`{"id": 1}`)})
	require.NoError(t, err)
	b.WaitStatus(t, acc.MessageID, store.StatusFailed)
	ex := b.waitException(t, acc.MessageID, store.ExceptionOpen)
	require.Equal(t, store.StepDeliveryID(acc.MessageID, "book", "writeback"), *ex.DeliveryID)
	require.Contains(t, ex.Message, "step writeback")
	item, err := inbox.ExceptionGet(ctx, b.Pool, ex.ID)
	require.NoError(t, err)
	require.Equal(t, "writeback", item.Step, "the inbox says which step failed")
	require.Equal(t, "oms", item.Target)

	oms.SetAnswer(jobstest.Status(http.StatusOK))
	require.NoError(t, b.tx(t, func(tx pgx.Tx) error { return inbox.ExceptionRetry(ctx, tx, b.Client, ex.ID, b.actor()) }))
	b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
	b.waitException(t, acc.MessageID, store.ExceptionResolved)
	require.Equal(t, 1, erp.Count(), "the ERP booked the order once")
	require.Equal(t, 2, oms.Count())
	require.JSONEq(t, `{"doc": "D-1"}`, string(oms.Bodies()[1]), "the step resent the body mapped from the stored answer")
}
