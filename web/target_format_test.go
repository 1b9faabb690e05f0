package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestTargetFormat: the target form and the environment API set a
// target's body format, checked by release.ConfigureTarget with each
// problem next to its field.
func TestTargetFormat(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*testBundle, *browser, release.Environment) {
		b, _ := setupSealed(t)
		b.user(t, "adm@shop.example", account.RoleAdmin)
		adm := b.browser(t)
		adm.signIn("adm@shop.example")
		dev, err := release.EnvironmentByName(context.Background(), b.db, "dev")
		require.NoError(t, err)
		return b, adm, dev
	}
	stored := func(t *testing.T, b *testBundle, env release.Environment) format.Spec {
		m, err := release.TargetConfigMasked(context.Background(), b.db, env.ID, "erp")
		require.NoError(t, err)
		return m.Format
	}
	form := func(extra url.Values) url.Values {
		v := url.Values{"kind": {"http"}, "url": {"https://erp.example/orders"}, "auth": {"none"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}

	t.Run("the form offers json, xml and csv with their settings", func(t *testing.T) {
		t.Parallel()
		_, adm, _ := setup(t)
		page := adm.get("/environments/dev/targets/erp").body
		for _, want := range []string{"Body format", `<option value="json" selected>json</option>`, `<option value="xml">xml</option>`, `<option value="csv">csv</option>`,
			`id="t-format_xml_root"`, `id="t-format_csv_columns"`, `id="t-format_csv_delimiter"`, `id="t-format_csv_line_ending"`} {
			require.Contains(t, page, want)
		}
	})
	t.Run("xml is saved and shown again", func(t *testing.T) {
		t.Parallel()
		b, adm, dev := setup(t)
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", form(url.Values{"format": {"xml"}, "format_xml_root": {"SalesOrder"}, "format_xml_namespace": {"urn:erp:orders"}}))
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Equal(t, format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "SalesOrder", Namespace: "urn:erp:orders"}}, stored(t, b, dev))
		page := adm.get("/environments/dev/targets/erp").body
		require.Contains(t, page, `<option value="xml" selected>xml</option>`)
		require.Contains(t, page, `value="SalesOrder"`)
	})
	t.Run("csv columns are read a line each", func(t *testing.T) {
		t.Parallel()
		b, adm, dev := setup(t)
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", form(url.Values{"format": {"csv"}, "format_csv_columns": {"Order = orderId\r\nSKU = lines.sku\r\n"},
			"format_csv_rows": {"lines"}, "format_csv_delimiter": {";"}, "format_csv_line_ending": {"lf"}, "format_csv_header": {"yes"}}))
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		got := stored(t, b, dev)
		require.Equal(t, format.CSV, got.Kind)
		require.Equal(t, []format.Column{{Header: "Order", Path: "orderId"}, {Header: "SKU", Path: "lines.sku"}}, got.CSV.Columns)
		require.Equal(t, ";", got.CSV.Delimiter)
		require.Equal(t, "lf", got.CSV.LineEnding)
		require.Contains(t, adm.get("/environments/dev/targets/erp").body, "Order = orderId\nSKU = lines.sku")
	})
	t.Run("a bad root name is named next to its field and nothing is saved", func(t *testing.T) {
		t.Parallel()
		b, adm, dev := setup(t)
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", form(url.Values{"format": {"xml"}, "format_xml_root": {"Sales Order"}}))
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, `id="problem-format_xml_root"`)
		require.Contains(t, res.body, `href="#problem-format_xml_root"`)
		require.Contains(t, res.body, "XML root element")
		require.Contains(t, res.body, "“Sales Order” is not an XML name")
		list, err := release.TargetConfigList(context.Background(), b.db, dev.ID)
		require.NoError(t, err)
		require.Empty(t, list)
	})
	t.Run("csv without columns is named next to its field", func(t *testing.T) {
		t.Parallel()
		_, adm, _ := setup(t)
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", form(url.Values{"format": {"csv"}}))
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, `id="problem-format_csv_columns"`)
		require.Contains(t, res.body, "declare at least one column")
	})
	t.Run("a column line without = says how to write it", func(t *testing.T) {
		t.Parallel()
		_, adm, _ := setup(t)
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", form(url.Values{"format": {"csv"}, "format_csv_columns": {"Order = orderId\nsku"}}))
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "line 2, “sku”, has no =")
	})
}

// TestTargetFormatAPI: PUT …/targets/{target} takes a format and GET
// gives it back; a bad one answers 422 naming the field.
func TestTargetFormatAPI(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t, setupOpts{})
	tb.user(t, "adm@shop.example", account.RoleAdmin)
	_, token, err := account.APIKeyCreate(context.Background(), tb.db, account.NewAPIKey{Name: "cfg", Environment: "dev", CanConfigure: true}, account.SystemActor)
	require.NoError(t, err)
	call := func(t *testing.T, method, path string, body any) (int, map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := tb.app.Test(req, -1)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	settings := map[string]string{"url": "https://erp.example/orders"}

	t.Run("a csv format is stored and read back", func(t *testing.T) {
		code, out := call(t, "PUT", "/api/v1/environments/dev/targets/stock", map[string]any{"settings": settings,
			"format": map[string]any{"kind": "csv", "csv": map[string]any{"rows": "lines", "columns": []map[string]string{{"header": "SKU", "path": "lines.sku"}}}}})
		require.Equal(t, http.StatusOK, code, out)
		f := out["format"].(map[string]any)
		require.Equal(t, "csv", f["kind"])
		require.Equal(t, ",", f["csv"].(map[string]any)["delimiter"], "defaults filled in")
		code, out = call(t, "GET", "/api/v1/environments/dev/targets/stock", nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "lines", out["format"].(map[string]any)["csv"].(map[string]any)["rows"])
	})
	t.Run("no format is json", func(t *testing.T) {
		code, out := call(t, "PUT", "/api/v1/environments/dev/targets/plain", map[string]any{"settings": settings})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"kind": "json"}, out["format"])
	})
	t.Run("a bad root name answers 422 naming the field", func(t *testing.T) {
		code, out := call(t, "PUT", "/api/v1/environments/dev/targets/bad", map[string]any{"settings": settings,
			"format": map[string]any{"kind": "xml", "xml": map[string]any{"root": "1st"}}})
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		require.Contains(t, out["errors"].(map[string]any)["format.xml.root"], "“1st” is not an XML name")
	})
	t.Run("an unknown format setting is malformed", func(t *testing.T) {
		code, _ := call(t, "PUT", "/api/v1/environments/dev/targets/bad", map[string]any{"settings": settings,
			"format": map[string]any{"kind": "xml", "xml": map[string]any{"rootElement": "Order"}}})
		require.Equal(t, http.StatusBadRequest, code)
	})
}
