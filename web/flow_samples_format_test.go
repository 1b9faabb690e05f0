package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
)

// TestSamplesInXMLAndCSV: an XML or CSV sample is converted when it is
// saved into the JSON the trigger would make of the same body.
func TestSamplesInXMLAndCSV(t *testing.T) {
	t.Parallel()
	setupFlow := func(t *testing.T) (*testBundle, *browser, int) {
		b := setup(t)
		b.user(t, "ana@shop.example", account.RoleAnalyst)
		br := b.browser(t)
		br.signIn("ana@shop.example")
		createStorefrontFlow(t, br)
		return b, br, len(samplesOf(t, b))
	}
	add := func(br *browser, kind, name, payload string) response {
		br.get("/flows/shop-orders")
		return br.post("/flows/shop-orders/samples", url.Values{"revision": {br.revision()}, "name": {name}, "sample_format": {kind}, "payload": {payload}})
	}

	t.Run("the form offers the formats", func(t *testing.T) {
		t.Parallel()
		_, br, _ := setupFlow(t)
		page := br.get("/flows/shop-orders").body
		require.Contains(t, page, `<option value="xml">XML</option>`)
		require.Contains(t, page, `<option value="csv">CSV (header row first)</option>`)
	})
	t.Run("an xml sample is saved as json", func(t *testing.T) {
		t.Parallel()
		b, br, n := setupFlow(t)
		res := add(br, "xml", "from the pos", `<order id="7"><name>#7</name><lines><sku>A</sku></lines><lines><sku>B</sku></lines></order>`)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		s := samplesOf(t, b)
		require.Len(t, s, n+1)
		require.Equal(t, "from the pos", s[n].Name)
		require.JSONEq(t, `{"@id":"7","name":"#7","lines":[{"sku":"A"},{"sku":"B"}]}`, string(s[n].Payload))
	})
	t.Run("a csv sample is one sample per row", func(t *testing.T) {
		t.Parallel()
		b, br, n := setupFlow(t)
		res := add(br, "csv", "stock file", "sku,qty\r\nA,1\r\n\"B,2\",\"3\"\r\n")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		s := samplesOf(t, b)
		require.Len(t, s, n+2)
		require.Equal(t, "stock file", s[n].Name)
		require.Equal(t, "stock file (row 2)", s[n+1].Name)
		require.JSONEq(t, `{"sku":"B,2","qty":"3"}`, string(s[n+1].Payload))
	})
	t.Run("an xml sample with a doctype is refused", func(t *testing.T) {
		t.Parallel()
		_, br, _ := setupFlow(t)
		res := add(br, "xml", "xxe", `<!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/passwd">]><o>&x;</o>`)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "declares a DOCTYPE")
	})
	t.Run("xml sent as json says to choose the format", func(t *testing.T) {
		t.Parallel()
		_, br, _ := setupFlow(t)
		res := add(br, "json", "oops", `<order/>`)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "an XML or CSV sample needs its format chosen")
	})
}

func samplesOf(t *testing.T, b *testBundle) []engine.Sample {
	t.Helper()
	f, err := mappings.FlowBySlug(context.Background(), b.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(context.Background(), b.db, f.ID)
	require.NoError(t, err)
	return d.Definition.Source.Samples
}
