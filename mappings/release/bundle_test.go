package release_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

var promotionKey = []byte("a promotion key shared by both installations")

// bundleImport imports b as the command line does.
func bundleImport(ctx context.Context, db release.DB, b *release.Bundle, key []byte, dryRun bool) (release.ImportPlan, error) {
	imported, err := release.ImportBundle(ctx, db, release.CLI(), b, release.Import{Key: key, DryRun: dryRun})
	return imported.Plan, err
}

// exported publishes two versions of a flow with a lookup table and
// exports it, signed.
func exported(t *testing.T) (*testBundle, []byte) {
	t.Helper()
	b := setup(t)
	ctx := context.Background()
	f := publishedFlow(t, b, "storefront")
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	def := d.Definition
	def.Description = "second version"
	_, err = mappings.DraftSave(ctx, b.db, f.ID, d.Revision, def, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d.Revision+1, "v2", b.editor)
	require.NoError(t, err)
	bundle, err := release.BundleExport(ctx, b.db, []string{"storefront"}, "https://dev.crossdock.example", promotionKey, time.Now())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(bundle.Signature, "hmac-sha256:"))
	data, err := json.MarshalIndent(bundle, "", "  ")
	require.NoError(t, err)
	return b, data
}

func TestBundleExportImportReproducesChecksums(t *testing.T) {
	t.Parallel()
	src, data := exported(t)
	ctx := context.Background()
	require.NotContains(t, string(data), "erp.example", "no target configuration travels")

	dst := dbtest.NewPool(t)
	bundle, err := release.ParseBundle(data)
	require.NoError(t, err)
	plan, err := bundleImport(ctx, dst, bundle, promotionKey, false)
	require.NoError(t, err)
	require.Equal(t, "signature verified", plan.Note)
	require.True(t, plan.Changed())
	require.True(t, plan.Flows[0].NewFlow)
	require.Equal(t, 2, plan.Flows[0].Latest)

	srcFlow, err := mappings.FlowBySlug(ctx, src.db, "storefront")
	require.NoError(t, err)
	dstFlow, err := mappings.FlowBySlug(ctx, dst, "storefront")
	require.NoError(t, err)
	want, err := mappings.VersionList(ctx, src.db, srcFlow.ID)
	require.NoError(t, err)
	got, err := mappings.VersionList(ctx, dst, dstFlow.ID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i := range want {
		require.Equal(t, want[i].Number, got[i].Number)
		require.Equal(t, want[i].Checksum, got[i].Checksum, "v%d", want[i].Number)
		require.Equal(t, want[i].AuthorEmail, got[i].AuthorEmail)
		v, err := mappings.VersionGet(ctx, dst, dstFlow.ID, got[i].Number)
		require.NoError(t, err)
		sum, err := v.Definition.Checksum()
		require.NoError(t, err)
		require.Equal(t, want[i].Checksum, sum, "the stored definition hashes to the same checksum")
		require.NotEmpty(t, v.Definition.Lookups, "lookup snapshots travel with the version")
	}

	// Exported again from the destination, the versions are the same.
	again, err := release.BundleExport(ctx, dst, []string{"storefront"}, "", nil, time.Now())
	require.NoError(t, err)
	for i, v := range again.Flows[0].Versions {
		require.Equal(t, bundle.Flows[0].Versions[i].Checksum, v.Checksum)
		require.JSONEq(t, string(bundle.Flows[0].Versions[i].Definition), string(v.Definition))
	}
}

func TestBundleImportIsIdempotent(t *testing.T) {
	t.Parallel()
	_, data := exported(t)
	ctx := context.Background()
	dst := dbtest.NewPool(t)
	bundle, err := release.ParseBundle(data)
	require.NoError(t, err)
	_, err = bundleImport(ctx, dst, bundle, promotionKey, false)
	require.NoError(t, err)
	var versions, flows int
	count := func() (int, int) {
		require.NoError(t, dst.QueryRow(ctx, `select (select count(*) from flow_versions), (select count(*) from flows)`).Scan(&versions, &flows))
		return versions, flows
	}
	v1, f1 := count()

	plan, err := bundleImport(ctx, dst, bundle, promotionKey, false)
	require.NoError(t, err)
	require.False(t, plan.Changed())
	require.False(t, plan.Flows[0].NewFlow)
	require.True(t, plan.Flows[0].Diff.Empty(), "the newest version here is the bundle's")
	for _, v := range plan.Flows[0].Versions {
		require.Equal(t, release.ImportUnchanged, v.Action)
	}
	v2, f2 := count()
	require.Equal(t, [2]int{v1, f1}, [2]int{v2, f2}, "importing twice changes nothing")
}

func TestBundleImportRefusesTamperingAndMissingSignatures(t *testing.T) {
	t.Parallel()
	_, data := exported(t)
	ctx := context.Background()
	dst := dbtest.NewPool(t)
	imp := func(data []byte, key []byte) error {
		b, err := release.ParseBundle(data)
		if err != nil {
			return err
		}
		_, err = bundleImport(ctx, dst, b, key, false)
		return err
	}

	// A changed definition with its checksum left alone.
	tampered := strings.Replace(string(data), `second version`, `second version, quietly changed`, 1)
	require.NotEqual(t, string(data), tampered)
	err := imp([]byte(tampered), nil)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "storefront v2 in the bundle does not match its checksum")

	// A changed note (no checksum covers it): only the signature catches it.
	renoted := strings.Replace(string(data), `"note": "v2"`, `"note": "approved by nobody"`, 1)
	require.NotEqual(t, string(data), renoted)
	err = imp([]byte(renoted), promotionKey)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "signature does not match")
	require.Contains(t, imp(data, []byte("another installation's key")).Error(), "signature does not match")

	var b release.Bundle
	require.NoError(t, json.Unmarshal(data, &b))
	b.Signature = ""
	unsigned, err := json.Marshal(b)
	require.NoError(t, err)
	err = imp(unsigned, promotionKey)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "not signed")

	_, err = release.ParseBundle([]byte(`{"format": "something else", "flows": []}`))
	require.Contains(t, err.Error(), "not a Crossdock bundle")

	var n int
	require.NoError(t, dst.QueryRow(ctx, `select count(*) from flows`).Scan(&n))
	require.Zero(t, n, "nothing was imported")

	require.NoError(t, imp(unsigned, nil), "without a promotion key an unsigned bundle is accepted")
}

func TestBundleImportRefusesAVersionNumberWithAnotherChecksum(t *testing.T) {
	t.Parallel()
	_, data := exported(t)
	ctx := context.Background()
	dst := setup(t)
	// The destination has its own storefront v1, different from the bundle's.
	f, err := mappings.FlowCreate(ctx, dst.db, mappings.NewFlow{Name: "storefront", Slug: "storefront", Definition: companyFlow(t, "storefront", "1000")}, dst.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, dst.db, f.ID, 1, "local", dst.editor)
	require.NoError(t, err)

	bundle, err := release.ParseBundle(data)
	require.NoError(t, err)
	_, err = bundleImport(ctx, dst.db, bundle, promotionKey, true)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "a dry run refuses too")
	_, err = bundleImport(ctx, dst.db, bundle, promotionKey, false)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	require.Contains(t, err.Error(), "storefront v1 exists here with a different checksum")
}

func TestBundleDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	_, data := exported(t)
	ctx := context.Background()
	dst := dbtest.NewPool(t)
	bundle, err := release.ParseBundle(data)
	require.NoError(t, err)
	plan, err := bundleImport(ctx, dst, bundle, promotionKey, true)
	require.NoError(t, err)
	require.True(t, plan.Changed())
	require.False(t, plan.Flows[0].Diff.Empty())
	var n int
	require.NoError(t, dst.QueryRow(ctx, `select count(*) from flows`).Scan(&n))
	require.Zero(t, n)

	_, err = release.BundleExport(ctx, dst, nil, "", nil, time.Now())
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	_, err = release.BundleExport(ctx, dst, []string{"nope"}, "", nil, time.Now())
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
}
