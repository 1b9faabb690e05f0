package release_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
)

// httpOnly is the one kind these tests configure, with no checks of its
// own, so only the format's are seen.
type httpOnly struct{}

func (httpOnly) NeedsConfiguration(kind string) (bool, bool) { return true, kind == "http" }
func (httpOnly) CheckTargetConfig(string, release.MaskedTargetConfig) []release.ConfigProblem {
	return nil
}

func TestConfigureTargetFormat(t *testing.T) {
	t.Parallel()
	type configured struct {
		saved release.TargetConfig
		b     *testBundle
		env   release.Environment
	}
	configure := func(t *testing.T, f format.Spec) (configured, error) {
		b := setup(t)
		ctx := context.Background()
		u, err := account.UserCreate(ctx, b.db, account.NewUser{Email: "root@shop.example", Role: account.RoleAdmin, Password: "a long enough password"})
		require.NoError(t, err)
		env, err := release.EnvironmentByName(ctx, b.db, "dev")
		require.NoError(t, err)
		cfg := release.DefaultTargetConfig(env.ID, "erp")
		cfg.URLTemplate, cfg.Format = "https://erp.example/orders", f
		saved, err := release.ConfigureTarget(ctx, b.db, nil, httpOnly{}, release.User(u, "127.0.0.1"),
			release.TargetConfiguration{Environment: env, Kind: "http", Config: cfg})
		return configured{saved: saved, b: b, env: env}, err
	}
	invalid := func(t *testing.T, err error, field, msg string) {
		t.Helper()
		fe, ok := fault.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, fault.Invalid, fe.Code)
		require.Contains(t, fe.Fields, field)
		require.Contains(t, fe.Fields[field], msg)
		require.Contains(t, fe.Message, "nothing was saved")
	}

	t.Run("xml is stored with its settings", func(t *testing.T) {
		t.Parallel()
		c, err := configure(t, format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: " Order ", Namespace: "urn:example:orders"}})
		require.NoError(t, err)
		want := format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "Order", Namespace: "urn:example:orders"}}
		require.Equal(t, want, c.saved.Format)
		masked, err := release.TargetConfigMasked(context.Background(), c.b.db, c.env.ID, "erp")
		require.NoError(t, err)
		require.Equal(t, want, masked.Format)
	})
	t.Run("csv is stored with its defaults", func(t *testing.T) {
		t.Parallel()
		c, err := configure(t, format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Rows: "lines", Columns: []format.Column{{Header: "SKU", Path: "lines.sku"}}}})
		require.NoError(t, err)
		require.Equal(t, &format.CSVSpec{Rows: "lines", Columns: []format.Column{{Header: "SKU", Path: "lines.sku"}},
			Delimiter: ",", Quote: `"`, DecimalSeparator: ".", LineEnding: "crlf"}, c.saved.Format.CSV)
	})
	t.Run("no format is json", func(t *testing.T) {
		t.Parallel()
		c, err := configure(t, format.Spec{})
		require.NoError(t, err)
		require.Equal(t, format.JSON, c.saved.Format.Kind)
	})
	t.Run("a bad root name is refused naming the field", func(t *testing.T) {
		t.Parallel()
		_, err := configure(t, format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "Order Lines"}})
		invalid(t, err, "format.xml.root", "“Order Lines” is not an XML name")
	})
	t.Run("csv without columns is refused naming the field", func(t *testing.T) {
		t.Parallel()
		_, err := configure(t, format.Spec{Kind: format.CSV})
		invalid(t, err, "format.csv.columns", "declare at least one column")
	})
	t.Run("an unknown format is refused", func(t *testing.T) {
		t.Parallel()
		_, err := configure(t, format.Spec{Kind: "yaml"})
		invalid(t, err, "format.kind", "one of json, xml or csv")
	})
}
