package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestDesignerShowsOutputAsSent: beside a route's output, the designer
// shows it as each environment whose target takes XML or CSV receives it,
// and says why when it cannot be sent so.
func TestDesignerShowsOutputAsSent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	br.get("/flows")
	res := br.post("/flows", url.Values{"name": {"Shop"}, "slug": {"shop"}, "template": {"storefront-order-to-erp"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	configure := func(envName, target string, f format.Spec) {
		env, err := release.EnvironmentByName(ctx, b.db, envName)
		require.NoError(t, err)
		_, err = release.TargetConfigPut(ctx, b.db, nil, release.TargetConfig{EnvironmentID: env.ID, Target: target, URLTemplate: "https://x.example", Format: f}, mappings.Editor{Email: "adm@shop.example"})
		require.NoError(t, err)
	}
	configure("test", "erp-sales-orders", format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "SalesOrder"}})
	configure("prod", "erp-sales-orders", format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Columns: []format.Column{{Header: "Sold to", Path: "soldTo"}}}})
	configure("dev", "erp-sales-orders", format.Spec{}) // json: nothing more to show

	page := html.UnescapeString(br.get("/flows/shop").body)
	t.Run("as xml where the target takes xml", func(t *testing.T) {
		require.Contains(t, page, "As sent to erp-sales-orders in test: xml (root SalesOrder)")
		require.Regexp(t, regexp.MustCompile(`(?s)<pre class="as-sent-body"><\?xml version="1.0" encoding="UTF-8"\?>\s*<SalesOrder>\s*<orderType>`), page)
	})
	t.Run("why it cannot be sent as csv", func(t *testing.T) {
		require.Contains(t, page, "As sent to erp-sales-orders in prod: csv (1 columns)")
		require.Contains(t, page, "Not sent in prod:</strong> row 1, column “Sold to” (soldTo): the value is an object")
	})
	t.Run("nothing more where it takes json", func(t *testing.T) {
		require.NotContains(t, page, "in dev:")
	})
	t.Run("the live preview shows it too", func(t *testing.T) {
		prev := br.post("/flows/shop/preview", url.Values{"revision": {br.revision()}, "sample": {"0"}})
		require.Equal(t, http.StatusOK, prev.StatusCode, prev.body)
		require.Contains(t, html.UnescapeString(prev.body), "As sent to erp-sales-orders in test: xml (root SalesOrder)")
	})
}
