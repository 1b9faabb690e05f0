package release_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/mappings"
)

// testBundle is a database of its own with an analyst who edits.
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

// publishedFlow creates a flow from the storefront template and publishes
// version 1.
func publishedFlow(t *testing.T, b *testBundle, slug string) mappings.Flow {
	t.Helper()
	ctx := context.Background()
	tpl, ok := mappings.TemplateByID("storefront-order-to-erp")
	require.True(t, ok)
	def, err := engine.ParseDefinition(tpl.Definition)
	require.NoError(t, err)
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: slug, Slug: slug, Definition: def}, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, 1, "first", b.editor)
	require.NoError(t, err)
	return f
}
