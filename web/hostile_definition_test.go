package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web"
)

// deepParens is an expression of a million nested brackets: expr's parser
// recursed once per "(" and died with a fatal stack overflow, which no
// recover catches, taking the whole server down.
var deepParens = strings.Repeat("(", 1_000_000) + "1" + strings.Repeat(")", 1_000_000)

// TestPreviewRefusesDeepExpressions: any signed-in user, a viewer too, may
// preview, and a deep enough expression would crash the process while it
// is parsed. The limits are checked before anything parses an expression.
func TestPreviewRefusesDeepExpressions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	b.user(t, "vic@shop.example", account.RoleViewer)
	ana := b.browser(t)
	ana.signIn("ana@shop.example")
	createStorefrontFlow(t, ana)
	_, out := ana.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
	def := out["definition"].(map[string]any)

	for name, tc := range map[string]struct{ expr, pointer, message string }{
		"a million brackets": {deepParens, "/keys/correlation", "expression is 2,000,001 characters long; at most 10,000 are allowed"},
		"deep but short":     {strings.Repeat("(", 4999) + "1" + strings.Repeat(")", 4999), "/keys/correlation", "expression nests 4,999 levels deep; at most 100 are allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			vic := b.browser(t)
			vic.signIn("vic@shop.example")
			vic.get("/flows/shop-orders")
			hostile := cloneJSON(t, def)
			hostile["keys"].(map[string]any)["correlation"] = tc.expr
			res, _ := vic.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{"payload": map[string]any{"id": 1}, "definition": hostile})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body[:min(len(res.body), 500)])
			var p web.Problem
			require.NoError(t, json.Unmarshal([]byte(res.body), &p))
			require.Len(t, p.Diagnostics, 1)
			require.Equal(t, tc.pointer, p.Diagnostics[0].Pointer)
			require.Equal(t, tc.message, p.Diagnostics[0].Message)
		})
	}

	t.Run("a draft save is refused", func(t *testing.T) {
		hostile := cloneJSON(t, def)
		hostile["keys"].(map[string]any)["correlation"] = deepParens
		res, _ := ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 1, "definition": hostile})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "the draft is not saved")
		require.Contains(t, res.body, "/keys/correlation")
		_, out := ana.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
		require.EqualValues(t, 1, out["revision"])
	})

	t.Run("a definition over the size limit is refused before decoding", func(t *testing.T) {
		hostile := cloneJSON(t, def)
		hostile["description"] = strings.Repeat("x", 3<<20)
		res, _ := ana.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{"payload": map[string]any{"id": 1}, "definition": hostile})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "at most 2,097,152 are allowed")
	})
}

// TestStoredOverLimitDefinitionOpensReadOnly: a draft or version saved
// before the limits existed opens without crashing, read-only, with the
// error; every page and API call that reads it answers.
func TestStoredOverLimitDefinitionOpensReadOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	ana := b.browser(t)
	ana.signIn("ana@shop.example")
	createStorefrontFlow(t, ana)
	ctx := context.Background()
	_, err := b.db.Exec(ctx, `
		update flow_drafts set definition = jsonb_set(definition, '{keys,correlation}', to_jsonb($1::text))
		where flow_id = (select id from flows where slug = 'shop-orders')`, deepParens)
	require.NoError(t, err)
	_, err = b.db.Exec(ctx, `
		insert into flow_versions (flow_id, number, definition, checksum)
		select flow_id, 1, definition, repeat('a', 64) from flow_drafts where flow_id = (select id from flows where slug = 'shop-orders')`)
	require.NoError(t, err)

	t.Run("designer", func(t *testing.T) {
		res := ana.get("/flows/shop-orders")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, "This draft is read-only")
		require.Contains(t, res.body, "/keys/correlation")
		require.Contains(t, res.body, "expression is 2,000,001 characters long; at most 10,000 are allowed")
		require.NotContains(t, res.body, `id="save"`, "no save button")
	})

	t.Run("versions and diff", func(t *testing.T) {
		res := ana.get("/flows/shop-orders/versions?a=1&b=draft")
		require.Equal(t, http.StatusOK, res.StatusCode)
		res, _ = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/versions/1", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
	})

	t.Run("API preview of the draft", func(t *testing.T) {
		res, _ := ana.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{"payload": map[string]any{"id": 1}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "/keys/correlation")
	})

	t.Run("tests and export", func(t *testing.T) {
		ana.get("/flows/shop-orders")
		res := ana.get("/flows/shop-orders/definition.json")
		require.Equal(t, http.StatusOK, res.StatusCode)
		res, _ = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
	})

	t.Run("publishing is refused", func(t *testing.T) {
		_, out := ana.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
		res, _ := ana.api(http.MethodPost, "/api/v1/flows/shop-orders/publish", map[string]any{"revision": out["revision"], "note": "x"})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "/keys/correlation")
	})
}

func cloneJSON(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// TestPreviewStopsAmplification: len(toJSON(map(1..100000, source))) ran
// 10.8 s in preview despite its 5 s timeout and took a gigabyte; it now
// stops at the work budget.
func TestPreviewStopsAmplification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "vic@shop.example", account.RoleViewer)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	ana := b.browser(t)
	ana.signIn("ana@shop.example")
	createStorefrontFlow(t, ana)
	_, out := ana.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
	def := out["definition"].(map[string]any)
	payload := map[string]any{"id": 1, "note": strings.Repeat("x", 10_000)}
	for _, expr := range []string{`len(toJSON(map(1..100000, source)))`, `len(string(map(1..100000, source)))`} {
		t.Run(expr, func(t *testing.T) {
			vic := b.browser(t)
			vic.signIn("vic@shop.example")
			vic.get("/flows/shop-orders")
			hostile := cloneJSON(t, def)
			hostile["keys"].(map[string]any)["correlation"] = expr
			res, _ := vic.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{"payload": payload, "definition": hostile})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
			require.Contains(t, res.body, "limit exceeded")
			require.Contains(t, res.body, "expressions built more than 16777216 bytes for this message")
		})
	}
}

// TestDesignerSetsTheTimeBudget: the per-flow time budget
// (limits.timeBudgetMs) is a field of the designer's service level card;
// left empty, the definition has no limits at all, so its checksum does not
// change.
func TestDesignerSetsTheTimeBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	draftLimits := func() any {
		_, out := br.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
		return out["definition"].(map[string]any)["limits"]
	}

	page := br.get("/flows/shop-orders")
	require.Contains(t, page.body, `name="f:/limits/timeBudgetMs"`)
	require.Contains(t, page.body, `placeholder="1000"`)

	t.Run("empty adds nothing", func(t *testing.T) {
		br.get("/flows/shop-orders")
		res := br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/limits/timeBudgetMs": {""}, "f:/description": {"changed"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Nil(t, draftLimits())
	})

	t.Run("set and cleared", func(t *testing.T) {
		br.get("/flows/shop-orders")
		res := br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/limits/timeBudgetMs": {"2500"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Equal(t, map[string]any{"timeBudgetMs": 2500.0}, draftLimits())
		require.Contains(t, br.get("/flows/shop-orders").body, `value="2500"`)
		res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/limits/timeBudgetMs": {""}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Nil(t, draftLimits())
	})

	t.Run("a word is refused", func(t *testing.T) {
		br.get("/flows/shop-orders")
		res := br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/limits/timeBudgetMs": {"1.5"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "must be a whole number of milliseconds")
	})
}
