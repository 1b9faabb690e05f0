package pipeline_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// Two flows whose definitions both deliver to "erp" reach different
// systems: each gives the environment's erp-eu or erp-us the local name
// erp (release.SetFlowTargetNames).
func TestFlowsLocalTargetNamesReachTheirOwnTargets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := jobstest.Setup(t, true)
	draft, err := mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	returns, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Returns", Slug: "returns", Definition: draft.Definition}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, returns.ID, 1, "v1", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, returns.ID, 1)

	eu := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	us := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
	b.ConfigureERP(t, eu.URL, func(c *release.TargetConfig) { c.Target = "erp-eu" })
	b.ConfigureERP(t, us.URL, func(c *release.TargetConfig) { c.Target = "erp-us" })
	require.NoError(t, release.SetFlowTargetNames(ctx, b.Pool, release.CLI(), b.Env, b.Flow, map[string]string{"erp": "erp-eu"}))
	require.NoError(t, release.SetFlowTargetNames(ctx, b.Pool, release.CLI(), b.Env, returns, map[string]string{"erp": "erp-us"}))

	order := b.Accept(t, `{"id": 1, "name": "#1", "total": 10}`)
	ret, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "returns", Payload: []byte(`{"id": 2, "name": "#2", "total": 20}`)})
	require.NoError(t, err)
	b.WaitStatus(t, order.MessageID, store.StatusDelivered)
	b.WaitStatus(t, ret.MessageID, store.StatusDelivered)
	require.Equal(t, 1, eu.Count())
	require.Equal(t, 1, us.Count())
	require.Equal(t, "/orders/%231", eu.Requests()[0].URL.EscapedPath())
	require.Equal(t, "/orders/%232", us.Requests()[0].URL.EscapedPath())
}
