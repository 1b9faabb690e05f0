package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web"
)

// api sends a JSON request with the browser's session and CSRF token, and
// extra headers given as name, value pairs.
func (br *browser) api(method, path string, body any, headers ...string) (response, map[string]any) {
	br.t.Helper()
	var r *strings.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(br.t, err)
		r = strings.NewReader(string(raw))
	} else {
		r = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", br.csrf)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res := br.do(req)
	var out map[string]any
	_ = json.Unmarshal([]byte(res.body), &out)
	return res, out
}

func TestManagementAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	b.user(t, "vic@shop.example", account.RoleViewer)
	ana := b.browser(t)
	ana.signIn("ana@shop.example")
	createStorefrontFlow(t, ana)
	ana.get("/flows")

	res, out := ana.api(http.MethodGet, "/api/v1/flows", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Len(t, out["flows"], 1)
	res, out = ana.api(http.MethodGet, "/api/v1/flows/shop-orders", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "shop-orders", out["slug"])
	res, _ = ana.api(http.MethodGet, "/api/v1/flows/nope", nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

	res, out = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	def := out["definition"].(map[string]any)

	// Put: stale revision, missing revision, bad definition, then success.
	def["description"] = "changed through the API"
	res, _ = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"definition": def})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "send the revision")
	res, _ = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 1, "definition": map[string]any{"routes": "not a list"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "does not fit the format")
	res, out = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 1, "definition": def})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.EqualValues(t, 2, out["revision"])
	res, _ = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 1, "definition": def})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	var p web.Problem
	require.NoError(t, json.Unmarshal([]byte(res.body), &p))
	require.Equal(t, 2, p.CurrentRevision)

	// Publish refused by a failing test case, then a typo, then published.
	routes := def["routes"].([]any)
	row := routes[0].(map[string]any)["mapping"].([]any)[1].(map[string]any)
	orig := row["expr"]
	row["expr"] = `"not what the tests expect"`
	res, _ = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 2, "definition": def})
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = ana.api(http.MethodPost, "/api/v1/flows/shop-orders/publish", map[string]any{"revision": 3})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	p = web.Problem{}
	require.NoError(t, json.Unmarshal([]byte(res.body), &p))
	require.NotEmpty(t, p.FailedTests)

	row["expr"] = `trimPrefix(source.nmae, "#")`
	res, out = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 3, "definition": def})
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotEmpty(t, out["diagnostics"], "a saved draft reports its problems")
	res, _ = ana.api(http.MethodPost, "/api/v1/flows/shop-orders/publish", map[string]any{"revision": 4})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	p = web.Problem{}
	require.NoError(t, json.Unmarshal([]byte(res.body), &p))
	require.NotEmpty(t, p.Diagnostics)
	require.Contains(t, p.Diagnostics[0].Snippet, "^")

	row["expr"] = orig
	res, _ = ana.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 4, "definition": def})
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, out = ana.api(http.MethodPost, "/api/v1/flows/shop-orders/publish", map[string]any{"revision": 5, "note": "via API"})
	require.Equal(t, http.StatusCreated, res.StatusCode, res.body)
	require.EqualValues(t, 1, out["number"])

	res, out = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/versions", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, out["versions"], 1)
	res, out = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/versions/1", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotNil(t, out["definition"])
	res, _ = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/versions/7", nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, out = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/diff?a=1&b=draft", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Empty(t, out["changes"])
	res, _ = ana.api(http.MethodGet, "/api/v1/flows/shop-orders/diff?a=1", nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	// Preview: the saved draft on a payload; bad payload; missing payload.
	tpl := def["source"].(map[string]any)["samples"].([]any)[0].(map[string]any)["payload"]
	res, out = ana.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{"payload": tpl})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.NotEmpty(t, out["routes"])
	require.NotEmpty(t, out["trace"])
	res, _ = ana.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	// Without the CSRF header a session cannot change anything.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/flows/shop-orders/publish", strings.NewReader(`{"revision": 6}`))
	res = ana.do(req)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	// A viewer reads through the API but cannot write.
	vic := b.browser(t)
	vic.signIn("vic@shop.example")
	vic.get("/flows")
	res, _ = vic.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = vic.api(http.MethodPut, "/api/v1/flows/shop-orders/draft", map[string]any{"revision": 5, "definition": def})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = vic.api(http.MethodPost, "/api/v1/flows/shop-orders/publish", map[string]any{"revision": 5})
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	// Anonymous: 401 problem JSON, no redirect, no session.
	anon := b.browser(t)
	res, _ = anon.api(http.MethodGet, "/api/v1/flows", nil)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Empty(t, res.Header.Get("Set-Cookie"))
}

func TestManagementAPIWithKeys(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	ctx := context.Background()
	_, manage, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "ci", Environment: "dev", Flows: []string{"shop-orders"}, CanManage: true}, account.SystemActor)
	require.NoError(t, err)
	call := func(key, method, path, body string) response {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		return tb.browser(t).do(req)
	}
	res := call(manage, http.MethodGet, "/api/v1/flows", "")
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, "shop-orders")
	require.NotContains(t, res.body, "not-deployed", "a key lists only the flows of its scope")

	res = call(manage, http.MethodGet, "/api/v1/flows/shop-orders/draft", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var draft map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.body), &draft))
	def := draft["definition"].(map[string]any)
	def["description"] = "changed by CI"
	body, _ := json.Marshal(map[string]any{"revision": draft["revision"], "definition": def})
	res = call(manage, http.MethodPut, "/api/v1/flows/shop-orders/draft", string(body))
	require.Equal(t, http.StatusOK, res.StatusCode, res.body, "no CSRF token needed with a key")
	res = call(manage, http.MethodPost, "/api/v1/flows/shop-orders/publish", `{"revision": 2, "note": "from CI"}`)
	require.Equal(t, http.StatusCreated, res.StatusCode, res.body)

	require.Equal(t, http.StatusForbidden, call(manage, http.MethodGet, "/api/v1/flows/not-deployed/draft", "").StatusCode)
	res = call(tb.devKey, http.MethodGet, "/api/v1/flows/shop-orders/draft", "")
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a trigger-only key cannot manage")
	require.Contains(t, res.body, "manage permission")

	entries, err := account.AuditList(ctx, tb.db, account.AuditFilter{Action: "flow.publish"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.True(t, strings.HasPrefix(entries[0].ActorEmail, "apikey cdk_dev_"))
}
