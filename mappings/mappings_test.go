package mappings_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

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

func TestTemplatesAreComplete(t *testing.T) {
	t.Parallel()
	ts, err := mappings.Templates()
	require.NoError(t, err)
	require.Len(t, ts, 6)
	for _, tpl := range ts {
		def, err := engine.ParseDefinition(tpl.Definition)
		require.NoError(t, err, tpl.ID)
		require.NotEmpty(t, def.Source.Samples, "%s ships sample payloads", tpl.ID)
		require.NotEmpty(t, def.Tests, "%s ships test cases", tpl.ID)
		require.Nil(t, mappings.Check(def), "%s is publishable as shipped", tpl.ID)
	}
	require.Nil(t, mappings.Check(mappings.BlankDefinition("x", "", "")), "a blank flow compiles")
}

func TestFlowCreateAndList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "Shopify order → ERP", Definition: storefront(t)}, b.editor)
	require.NoError(t, err)
	require.Equal(t, "shopify-order-erp", f.Slug)
	require.Equal(t, "storefront", f.SourceSystem, "taken from the definition")
	require.Equal(t, 1, f.DraftRevision)
	require.Equal(t, 0, f.LatestVersion)
	require.Equal(t, "ana@shop.example", f.OwnerEmail)

	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, "shopify-order-erp", d.Definition.Name, "the definition is named after the slug")

	_, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "again", Slug: "shopify-order-erp"}, b.editor)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	_, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "bad", Slug: "Bad Slug!"}, b.editor)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "lowercase letters, digits and dashes")
	_, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "  "}, b.editor)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))

	_, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "WMS shipments", SourceSystem: "wms"}, b.editor)
	require.NoError(t, err)

	all, err := mappings.FlowList(ctx, b.db, mappings.FlowFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	found, err := mappings.FlowList(ctx, b.db, mappings.FlowFilter{Search: "SHOPIFY"})
	require.NoError(t, err)
	require.Len(t, found, 1)
	wms, err := mappings.FlowList(ctx, b.db, mappings.FlowFilter{SourceSystem: "wms"})
	require.NoError(t, err)
	require.Len(t, wms, 1)
	require.Equal(t, "wms-shipments", wms[0].Slug)
	none, err := mappings.FlowList(ctx, b.db, mappings.FlowFilter{Search: "%"})
	require.NoError(t, err)
	require.Empty(t, none, "% is a literal in search")
	systems, err := mappings.SourceSystems(ctx, b.db)
	require.NoError(t, err)
	require.Equal(t, []string{"storefront", "wms"}, systems)

	_, err = mappings.FlowBySlug(ctx, b.db, "nope")
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
}

func TestDraftSaveRefusesAStaleRevision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "orders", Definition: storefront(t)}, b.editor)
	require.NoError(t, err)

	// Two people open revision 1.
	mine, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	theirs, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)

	theirs.Definition.Routes[0].Mapping[1].Expr = `"THEIRS"`
	saved, err := mappings.DraftSave(ctx, b.db, f.ID, theirs.Revision, theirs.Definition, mappings.Editor{Email: "kim@shop.example"})
	require.NoError(t, err)
	require.Equal(t, 2, saved.Revision)

	mine.Definition.Routes[0].Description = "mine"
	require.NotEqual(t, "mine", theirs.Definition.Routes[0].Description)
	_, err = mappings.DraftSave(ctx, b.db, f.ID, mine.Revision, mine.Definition, b.editor)
	var conflict *mappings.DraftConflictError
	require.True(t, errors.As(err, &conflict))
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	require.Equal(t, 2, conflict.Current.Revision)
	require.Equal(t, "kim@shop.example", conflict.Current.UpdatedByEmail)
	require.Contains(t, err.Error(), "changed by kim@shop.example")
	require.False(t, conflict.Differences.Empty(), "the refusal shows what differs")

	// Nothing was overwritten.
	now, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, `"THEIRS"`, now.Definition.Routes[0].Mapping[1].Expr)
	require.NotEqual(t, "mine", now.Definition.Routes[0].Description)
}

func TestPublishGatesAndHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "orders", Definition: storefront(t)}, b.editor)
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)

	// A typo is saved as work in progress but cannot be published.
	broken := *d.Definition
	broken.Routes = append([]engine.Route(nil), d.Definition.Routes...)
	broken.Routes[0].Mapping = append([]engine.Row(nil), d.Definition.Routes[0].Mapping...)
	broken.Routes[0].Mapping[1].Expr = "source.nmae +"
	d2, err := mappings.DraftSave(ctx, b.db, f.ID, d.Revision, &broken, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d2.Revision, "typo", b.editor)
	var refused *mappings.PublishRefusedError
	require.True(t, errors.As(err, &refused), "%v", err)
	require.NotEmpty(t, refused.Diagnostics)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "cannot publish")

	// A change that breaks a test case is refused, naming the case.
	d3, err := mappings.DraftSave(ctx, b.db, f.ID, d2.Revision, storefront(t), b.editor)
	require.NoError(t, err)
	wrong := storefront(t)
	wrong.Routes[0].Mapping[1].Expr = `"not what the test expects"`
	d4, err := mappings.DraftSave(ctx, b.db, f.ID, d3.Revision, wrong, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d4.Revision, "", b.editor)
	require.True(t, errors.As(err, &refused))
	require.NotEmpty(t, refused.FailedTests)
	require.Contains(t, err.Error(), "failing test case")

	d5, err := mappings.DraftSave(ctx, b.db, f.ID, d4.Revision, storefront(t), b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d4.Revision, "stale", b.editor)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "publishing needs the current revision")

	v1, err := mappings.Publish(ctx, b.db, f.ID, d5.Revision, "first", b.editor)
	require.NoError(t, err)
	require.Equal(t, 1, v1.Number)
	require.Len(t, v1.Checksum, 64)
	_, err = mappings.Publish(ctx, b.db, f.ID, d5.Revision, "again", b.editor)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	require.Contains(t, err.Error(), "identical to version 1")

	changed := storefront(t)
	changed.Routes[0].Description = "now documented"
	d6, err := mappings.DraftSave(ctx, b.db, f.ID, d5.Revision, changed, b.editor)
	require.NoError(t, err)
	v2, err := mappings.Publish(ctx, b.db, f.ID, d6.Revision, "second", b.editor)
	require.NoError(t, err)
	require.Equal(t, 2, v2.Number)
	require.NotEqual(t, v1.Checksum, v2.Checksum)

	list, err := mappings.VersionList(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, 2, list[0].Number)
	require.Equal(t, "second", list[0].Note)
	got, err := mappings.VersionGet(ctx, b.db, f.ID, 1)
	require.NoError(t, err)
	require.NotEqual(t, "now documented", got.Definition.Routes[0].Description)
	sum, err := got.Definition.Checksum()
	require.NoError(t, err)
	require.Equal(t, v1.Checksum, sum, "a stored version reproduces its checksum")
	_, err = mappings.VersionGet(ctx, b.db, f.ID, 9)
	require.Equal(t, fault.NotFound, fault.CodeOf(err))

	// History is never rewritten, even by SQL.
	_, err = b.db.Exec(ctx, `update flow_versions set note = 'rewritten' where flow_id = $1`, f.ID)
	require.ErrorContains(t, err, "immutable")

	// Restoring v1 makes a new draft revision with v1's content.
	// A version that does not exist, or a stale revision, changes nothing
	// and audits nothing.
	actor := account.Actor{UserID: b.editor.UserID, Email: b.editor.Email, Address: "192.0.2.7"}
	_, err = mappings.Restore(ctx, b.db, f, 9, d6.Revision, actor)
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
	var conflict *mappings.DraftConflictError
	_, err = mappings.Restore(ctx, b.db, f, 1, d6.Revision-1, actor)
	require.ErrorAs(t, err, &conflict)
	restored, err := mappings.Restore(ctx, b.db, f, 1, d6.Revision, actor)
	require.NoError(t, err)
	require.Equal(t, d6.Revision+1, restored.Revision)
	require.NotEqual(t, "now documented", restored.Definition.Routes[0].Description)
	entries, err := account.AuditList(ctx, b.db, account.AuditFilter{Action: "flow.restore"})
	require.NoError(t, err)
	require.Len(t, entries, 1, "one audit entry, for the restore that happened")
	require.Equal(t, f.Slug, entries[0].TargetID)
	require.Equal(t, "192.0.2.7", entries[0].Address)
	require.JSONEq(t, fmt.Sprintf(`{"revision": %d}`, d6.Revision), string(entries[0].Before))
	require.Contains(t, string(entries[0].After), `"change": "version 1"`)
	flow, err := mappings.FlowByID(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, 2, flow.LatestVersion)
}

// The flows list shows the source system of the latest published version,
// not the one the flow was created with: a flow made from a template whose
// source the analyst then changed lists its real source.
func TestPublishedSourceSystemIsListed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "pos sales", Definition: storefront(t)}, b.editor)
	require.NoError(t, err)
	created := f.SourceSystem
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	changed := *d.Definition
	changed.Source.System = "pos-" + created
	d2, err := mappings.DraftSave(ctx, b.db, f.ID, d.Revision, &changed, b.editor)
	require.NoError(t, err)

	got, err := mappings.FlowByID(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, created, got.SourceSystem, "a draft does not change what the list shows")

	_, err = mappings.Publish(ctx, b.db, f.ID, d2.Revision, "from the till", b.editor)
	require.NoError(t, err)
	got, err = mappings.FlowByID(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, "pos-"+created, got.SourceSystem)
	list, err := mappings.FlowList(ctx, b.db, mappings.FlowFilter{SourceSystem: "pos-" + created})
	require.NoError(t, err)
	require.Len(t, list, 1, "the filter by source system finds it under its published system")
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Shopify order → ERP": "shopify-order-erp",
		"  WMS  shipments ":   "wms-shipments",
		"Über-Flow 2":         "ber-flow-2",
		"---":                 "",
	} {
		require.Equal(t, want, mappings.Slugify(in), in)
	}
}
