package jobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
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
	b := setup(t, true)
	ctx := context.Background()
	d, err := mappings.DraftGet(ctx, b.pool, b.flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Limits = &engine.FlowLimits{TimeBudgetMs: 20}
	def.Routes = append([]engine.Route(nil), def.Routes...)
	def.Routes[0].Mapping = append(append([]engine.Row(nil), def.Routes[0].Mapping...),
		engine.Row{Target: "checks", Expr: `source.slow == true ? count(1..900000, # % 7 == 0) : 0`})
	d, err = mappings.DraftSave(ctx, b.pool, b.flow.ID, d.Revision, &def, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.pool, b.flow.ID, d.Revision, "v2", b.editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.pool, b.env.ID, b.flow.ID, 2)

	slow := b.accept(t, `{"id": 500, "name": "#500", "total": 1, "slow": true}`)
	v := b.waitStatus(t, slow.MessageID, store.StatusFailed)
	require.Len(t, v.Exceptions, 1)
	e := v.Exceptions[0]
	require.Equal(t, store.ExceptionMapping, e.Kind)
	require.Equal(t, `row to-erp checks`, e.ErrorClass)
	require.Contains(t, e.Message, `row "to-erp" checks: time budget exceeded: mapping this message took longer than the flow's 20ms (limits.timeBudgetMs)`)
	require.Empty(t, v.Deliveries)
}

// TestAcceptRefusesAVersionThatDoesNotCompile: a stored version may be
// over today's limits (a million nested brackets, which would overflow
// the parser's stack on every accept). Compiling it fails at once, before
// parsing, and the trigger answers 409 naming the version and the problem.
func TestAcceptRefusesAVersionThatDoesNotCompile(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := context.Background()
	_, err := b.pool.Exec(ctx, `
		insert into flow_versions (flow_id, number, definition, checksum)
		select flow_id, 2, jsonb_set(definition, '{keys,correlation}', to_jsonb($2::text)), repeat('b', 64)
		from flow_versions where flow_id = $1 and number = 1`, b.flow.ID, strings.Repeat("(", 1_000_000)+"1"+strings.Repeat(")", 1_000_000))
	require.NoError(t, err)
	dbtest.Deploy(t, b.pool, b.env.ID, b.flow.ID, 2)

	_, err = b.intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(`{"id": 600, "name": "#600", "total": 1}`)})
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "%v", err)
	fe, _ := fault.As(err)
	require.Equal(t, "version 2 of this flow, the one deployed here, does not compile (/keys/correlation: expression is 2,000,001 characters long; at most 10,000 are allowed); deploy another version", fe.Message)
}
