package release

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// The low-level switch, tested from inside the package: nothing outside
// it can deploy without the policy.

type testBundle struct {
	db     *pgxpool.Pool
	editor mappings.Editor
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := dbtest.NewPool(t)
	u, err := account.UserCreate(context.Background(), db, account.NewUser{Email: "ana@shop.example", Role: account.RoleAnalyst, Password: "a long enough password"})
	require.NoError(t, err)
	return &testBundle{db: db, editor: mappings.Editor{UserID: u.ID, Email: u.Email}}
}

func storefront(t *testing.T) *engine.Definition {
	t.Helper()
	tpl, ok := mappings.TemplateByID("storefront-order-to-erp")
	require.True(t, ok)
	def, err := engine.ParseDefinition(tpl.Definition)
	require.NoError(t, err)
	return def
}

func publishedFlow(t *testing.T, b *testBundle, slug string) mappings.Flow {
	t.Helper()
	ctx := context.Background()
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: slug, Slug: slug, Definition: storefront(t)}, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, 1, "first", b.editor)
	require.NoError(t, err)
	return f
}

func deployVersion(ctx context.Context, db txn.DBTX, envID, flowID int64, n int, ed mappings.Editor) (Deployment, error) {
	return deploy(ctx, db, deployment{envID: envID, flowID: flowID, version: n}, ed)
}

func TestDeploySwitchesAtomically(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := publishedFlow(t, b, "orders")
	dev, err := EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)

	_, err = DeploymentCurrent(ctx, b.db, dev.ID, f.ID)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "nothing deployed is a conflict (409)")
	require.Contains(t, err.Error(), "deploy a published version")

	_, err = deployVersion(ctx, b.db, dev.ID, f.ID, 7, b.editor)
	require.Equal(t, fault.NotFound, fault.CodeOf(err), "the version must exist")

	d1, err := deployVersion(ctx, b.db, dev.ID, f.ID, 1, b.editor)
	require.NoError(t, err)
	require.True(t, d1.Active)
	require.Equal(t, "ana@shop.example", d1.DeployedByEmail)
	v1, err := mappings.VersionGet(ctx, b.db, f.ID, 1)
	require.NoError(t, err)
	require.Equal(t, v1.Checksum, d1.Checksum)

	// Publish version 2 and switch to it.
	def := storefront(t)
	def.Description = "second"
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	_, err = mappings.DraftSave(ctx, b.db, f.ID, d.Revision, def, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d.Revision+1, "second", b.editor)
	require.NoError(t, err)
	d2, err := deployVersion(ctx, b.db, dev.ID, f.ID, 2, b.editor)
	require.NoError(t, err)
	cur, err := DeploymentCurrent(ctx, b.db, dev.ID, f.ID)
	require.NoError(t, err)
	require.Equal(t, d2.ID, cur.ID)
	require.Equal(t, 2, cur.VersionNumber)

	hist, err := DeploymentHistory(ctx, b.db, dev.ID, f.ID)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.True(t, hist[0].Active)
	require.False(t, hist[1].Active, "the old deployment is history")
	list, err := DeploymentList(ctx, b.db, dev.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)

	// Rolling back is deploying the old number; concurrent deploys never
	// leave two active rows.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := deployVersion(ctx, b.db, dev.ID, f.ID, 1+i%2, b.editor)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	var active int
	require.NoError(t, b.db.QueryRow(ctx, `select count(*) from current_deployments where environment_id = $1 and flow_id = $2`, dev.ID, f.ID).Scan(&active))
	require.Equal(t, 1, active)
	hist, err = DeploymentHistory(ctx, b.db, dev.ID, f.ID)
	require.NoError(t, err)
	require.Len(t, hist, 12)
	cur, err = DeploymentCurrent(ctx, b.db, dev.ID, f.ID)
	require.NoError(t, err)
	activeRows := 0
	for _, h := range hist {
		if h.Active {
			activeRows++
			require.Equal(t, cur.ID, h.ID, "the history marks the current deployment")
		}
	}
	require.Equal(t, 1, activeRows, "one of the racing deploys won")
}
