package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web/view"
)

// TestDesignerEmbedsWhatTheExpressionEditorCompletes checks the page's
// completion data for the storefront template: the sample's and the
// schema's fields (array items under []), lookup tables with their keys,
// the preview's variables and the function library with signatures.
func TestDesignerEmbedsWhatTheExpressionEditorCompletes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	br.get("/flows")
	res := br.post("/flows", url.Values{"name": {"Shop"}, "slug": {"shop"}, "template": {"storefront-order-to-erp"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)

	page := br.get("/flows/shop")
	require.Equal(t, http.StatusOK, page.StatusCode)
	m := regexp.MustCompile(`(?s)<script id="expr-hints" type="application/json">(.*?)</script>`).FindStringSubmatch(page.body)
	require.NotNil(t, m, "the page embeds no completion data")
	var h view.ExprHints
	require.NoError(t, json.Unmarshal([]byte(m[1]), &h))

	paths := map[string]view.PathHint{}
	for _, p := range h.Paths {
		paths[p.Path] = p
	}
	require.Equal(t, "array", paths["source.line_items"].Kind)
	require.Equal(t, "string", paths["source.line_items[].sku"].Kind)
	require.Equal(t, `"Berlin"`, paths["source.shipping_address.city"].Example)
	// Fields only the schema declares are offered too.
	require.Contains(t, paths, "source.line_items[].tax_lines[].rate")

	var plant *view.LookupHint
	for i := range h.Lookups {
		if h.Lookups[i].Name == "plant" {
			plant = &h.Lookups[i]
		}
	}
	require.NotNil(t, plant)
	require.Contains(t, plant.Keys, "store-berlin")
	require.Contains(t, h.Vars, "ERP_COMPANY")

	var decRound *view.FunctionHint
	for i := range h.Functions {
		if h.Functions[i].Name == "decRound" {
			decRound = &h.Functions[i]
		}
	}
	require.NotNil(t, decRound)
	require.Equal(t, "decRound(x any, places int[, mode string]) string", decRound.Signature)
	require.Contains(t, decRound.Doc, "Rounds to places decimals")
}

// TestProblemsSayWhereInTheExpression checks that a problem of an
// expression carries the field and the column the editor underlines.
func TestProblemsSayWhereInTheExpression(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	br.get("/flows")
	res := br.post("/flows", url.Values{"name": {"Shop"}, "slug": {"shop"}, "template": {"storefront-order-to-erp"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	page := br.get("/flows/shop")
	rev := regexp.MustCompile(`name="revision" value="(\d+)"`).FindStringSubmatch(page.body)
	require.NotNil(t, rev)

	preview := br.post("/flows/shop/preview", url.Values{"revision": {rev[1]}, "sample": {"0"}, "f:/routes/0/mapping/8/expr": {"upper(source.name) + lowr(source.email)"}})
	require.Equal(t, http.StatusOK, preview.StatusCode, preview.body)
	require.Contains(t, html.UnescapeString(preview.body), `<li data-field="inlive-routes-0-mapping-8-expr" data-line="1" data-col="22">`)
}
