package pipeline_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
)

// TestProcessTimeBudgetIsAMappingException: a row of a deployed flow can
// run for seconds on one message (3.9 s for this one without a limit).
// Each message maps under the flow's time budget (limits.timeBudgetMs,
// default 1 s); a breach fails the message as a mapping exception naming
// the row.
func TestProcessTimeBudgetIsAMappingException(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	ctx := context.Background()
	d, err := mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Limits = &engine.FlowLimits{TimeBudgetMs: 20}
	def.Routes = append([]engine.Route(nil), def.Routes...)
	def.Routes[0].Mapping = append(append([]engine.Row(nil), def.Routes[0].Mapping...),
		engine.Row{Target: "checks", Expr: `source.slow == true ? count(1..900000, # % 7 == 0) : 0`})
	d, err = mappings.DraftSave(ctx, b.Pool, b.Flow.ID, d.Revision, &def, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, b.Flow.ID, d.Revision, "v2", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 2)

	slow := b.Accept(t, `{"id": 500, "name": "#500", "total": 1, "slow": true}`)
	v := b.WaitStatus(t, slow.MessageID, store.StatusFailed)
	require.Len(t, v.Exceptions, 1)
	e := v.Exceptions[0]
	require.Equal(t, store.ExceptionMapping, e.Kind)
	require.Equal(t, `row to-erp checks`, e.ErrorClass)
	require.Contains(t, e.Message, `row "to-erp" checks: time budget exceeded: mapping this message took longer than the flow's 20ms (limits.timeBudgetMs)`)
	require.Empty(t, v.Deliveries)
}
