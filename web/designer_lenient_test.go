package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// liveCellsKept are live cells of the storefront template that hold a
// value for its first sample whatever else is broken.
var liveCellsKept = []string{
	"live-keys-idempotency", "live-keys-correlation", "live-validation-0-rule", "live-validation-4-rule",
	"live-routes-0-when", "live-routes-0-mapping-1-expr", "live-routes-0-mapping-10-rows-1-expr",
	"live-routes-0-mapping-12-rows-1-expr", "live-routes-1-when",
}

// TestDesignerBrokenFieldKeepsOtherLiveValues: one broken field of the
// draft — a typo in the channel expression, an unknown route target, a
// rule name used twice — shows its own problem while every other live
// cell keeps its value, in the live preview and on the designer page.
func TestDesignerBrokenFieldKeepsOtherLiveValues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	br.get("/flows/shop-orders")
	rev := br.revision()
	preview := func(field, value string) response {
		form := url.Values{"revision": {rev}, "sample": {"0"}, "f:" + field: {value}}
		req := httptest.NewRequest(http.MethodPost, "/flows/shop-orders/preview", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", br.csrf)
		return br.do(req)
	}
	requireKept := func(t *testing.T, body string, except string) {
		t.Helper()
		for _, id := range liveCellsKept {
			if id == except {
				continue
			}
			cell := liveCell(t, body, id)
			require.NotContains(t, cell, "live-error", id)
			require.Regexp(t, `live-value|badge-ok|badge-bad`, cell, "%s keeps its live value", id)
		}
	}

	for _, tc := range []struct{ field, value, cell, problem string }{
		{"/keys/channel", `source.chanel`, "live-keys-channel", `unknown field &#34;chanel&#34;`},
		{"/keys/channel", `source.channel +`, "live-keys-channel", "unexpected token EOF"},
		{"/keys/channel", `upper(source.name`, "live-keys-channel", "unexpected token EOF"},
		{"/keys/sequence", `source.chanel`, "live-keys-sequence", `unknown field &#34;chanel&#34;`},
		{"/routes/1/target", `crm-vip-ordrs`, "", `unknown target &#34;crm-vip-ordrs&#34;`},
		{"/validation/4/name", `has-lines`, "", `rule name &#34;has-lines&#34; is used twice`},
		{"/routes/0/mapping/1/expr", `trimPrefix(source.name, "#"`, "live-routes-0-mapping-1-expr", "unexpected token EOF"},
	} {
		t.Run(tc.field+" "+tc.value, func(t *testing.T) {
			res := preview(tc.field, tc.value)
			require.Equal(t, http.StatusOK, res.StatusCode, res.body)
			require.Contains(t, res.body, tc.problem)
			if tc.cell != "" {
				cell := liveCell(t, res.body, tc.cell)
				require.Contains(t, cell, "live-error", "%s shows its own error", tc.cell)
				require.Contains(t, cell, tc.problem)
			}
			requireKept(t, res.body, tc.cell)
		})
	}

	// Saved with the typo, the designer page shows the same.
	res := br.post("/flows/shop-orders/draft", url.Values{"revision": {rev}, "op": {"save"}, "f:/keys/channel": {`source.chanel`}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	page := br.get("/flows/shop-orders")
	require.Contains(t, liveCell(t, page.body, "live-keys-channel"), `unknown field &#34;chanel&#34;`)
	requireKept(t, page.body, "")
}

// liveCell returns the markup of the live cell with the given DOM id, up
// to the next element with an id.
func liveCell(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	require.GreaterOrEqual(t, i, 0, "no live cell %s", id)
	rest := body[i+1:]
	if end := strings.Index(rest, ` id="`); end >= 0 {
		rest = rest[:end]
	}
	return rest
}
