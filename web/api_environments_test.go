package web_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/secret"
)

// TestEnvironmentAPI configures targets and variables as a script would:
// an admin's session or an API key with the configure permission, in its
// own environment only; secrets go in and never come out.
func TestEnvironmentAPI(t *testing.T) {
	t.Parallel()
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	tb := setupTrigger(t, setupOpts{sealer: sealer})
	ctx := context.Background()
	tb.user(t, "adm@shop.example", account.RoleAdmin)
	tb.user(t, "ana@shop.example", account.RoleAnalyst)
	adm, ana := tb.browser(t), tb.browser(t)
	adm.signIn("adm@shop.example")
	ana.signIn("ana@shop.example")
	adm.get("/flows")
	ana.get("/flows")
	newKey := func(env string, configure bool) string {
		_, token, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "cfg-" + env, Environment: env, CanConfigure: configure, CanManage: !configure}, account.SystemActor)
		require.NoError(t, err)
		return token
	}
	devKey, prodKey, manageKey := newKey("dev", true), newKey("prod", true), newKey("dev", false)
	call := func(method, path, token string, body any) (int, map[string]any) {
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
	errorsOf := func(out map[string]any) map[string]any {
		e, _ := out["errors"].(map[string]any)
		return e
	}

	t.Run("the kinds say what their settings are", func(t *testing.T) {
		code, out := call("GET", "/api/v1/target-kinds", devKey, nil)
		require.Equal(t, http.StatusOK, code)
		kinds := out["kinds"].([]any)
		require.Len(t, kinds, 3)
		h := kinds[0].(map[string]any)
		require.Equal(t, "http", h["kind"])
		require.Equal(t, true, h["canTestConnection"])
		require.Equal(t, "url", h["settings"].([]any)[0].(map[string]any)["name"])
		s := kinds[2].(map[string]any)
		require.Equal(t, "sftp", s["kind"])
		require.Equal(t, true, s["canTestConnection"])
		var names []string
		for _, f := range s["settings"].([]any) {
			names = append(names, f.(map[string]any)["name"].(string))
		}
		require.Equal(t, []string{"host", "port", "user", "secret", "host_key", "directory", "file_name"}, names)
	})

	t.Run("a key configures a target of its environment; the secret never comes back", func(t *testing.T) {
		code, out := call("PUT", "/api/v1/environments/dev/targets/crm", devKey, map[string]any{
			"settings": map[string]string{"url": "https://crm.example/api", "auth": "bearer", "secret": "TOP-s3cret", "headers": "X-Tenant: 7"},
			"policy":   map[string]any{"timeout": "5s", "maxAttempts": 3}})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "http", out["kind"])
		require.Equal(t, "https://crm.example/api", out["settings"].(map[string]any)["url"])
		require.Equal(t, map[string]any{"set": true}, out["secret"])
		require.Equal(t, "5s", out["policy"].(map[string]any)["timeout"])
		require.EqualValues(t, 3, out["policy"].(map[string]any)["maxAttempts"])
		require.Equal(t, "1s", out["policy"].(map[string]any)["baseDelay"], "an absent policy field takes the default")
		for _, path := range []string{"/api/v1/environments/dev/targets/crm", "/api/v1/environments/dev/targets"} {
			code, got := call("GET", path, devKey, nil)
			require.Equal(t, http.StatusOK, code)
			raw, _ := json.Marshal(got)
			require.NotContains(t, string(raw), "TOP-s3cret", path)
		}
	})

	t.Run("an absent secret keeps the stored one; removeSecret removes it", func(t *testing.T) {
		code, out := call("PUT", "/api/v1/environments/dev/targets/crm", devKey, map[string]any{"settings": map[string]string{"url": "https://crm.example/v2", "auth": "bearer"}})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"set": true}, out["secret"])
		code, out = call("PUT", "/api/v1/environments/dev/targets/crm", devKey, map[string]any{"settings": map[string]string{"url": "https://crm.example/v2"}, "removeSecret": true})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"set": false}, out["secret"])
	})

	t.Run("problems are named by field and nothing is stored", func(t *testing.T) {
		code, out := call("PUT", "/api/v1/environments/dev/targets/crm", devKey, map[string]any{
			"settings": map[string]string{"url": "ftp://crm", "auth": "bearer", "colour": "blue"},
			"policy":   map[string]any{"timeout": "soon", "maxAttempts": 0}})
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		errs := errorsOf(out)
		for _, field := range []string{"settings.url", "settings.secret", "settings.colour", "policy.timeout"} {
			require.Contains(t, errs, field, out)
		}
		_, got := call("GET", "/api/v1/environments/dev/targets/crm", devKey, nil)
		require.Equal(t, "https://crm.example/v2", got["settings"].(map[string]any)["url"], "nothing was stored")
	})

	t.Run("policy checks name the policy field", func(t *testing.T) {
		code, out := call("PUT", "/api/v1/environments/dev/targets/crm", devKey, map[string]any{"settings": map[string]string{"url": "https://crm.example"}, "policy": map[string]any{"timeout": "2m"}})
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		require.Equal(t, "more than zero and at most 60 s", errorsOf(out)["policy.timeout"])
	})

	t.Run("a typo in the body is refused", func(t *testing.T) {
		code, out := call("PUT", "/api/v1/environments/dev/targets/crm", devKey, map[string]any{"setings": map[string]string{}})
		require.Equal(t, http.StatusBadRequest, code, out)
		require.Contains(t, out["detail"], `unknown field "setings"`)
	})

	t.Run("refusals", func(t *testing.T) {
		for name, c := range map[string]struct {
			method, path, token string
			code                int
			says                string
		}{
			"another environment's key": {"GET", "/api/v1/environments/dev/targets", prodKey, 403, "belongs to environment prod"},
			"a key without configure":   {"GET", "/api/v1/environments/dev/targets", manageKey, 403, "no configure permission"},
			"a target in use":           {"DELETE", "/api/v1/environments/dev/targets/erp-sales-orders", devKey, 409, "shop-orders v1 runs in dev and delivers to it"},
			"a target not configured":   {"DELETE", "/api/v1/environments/dev/targets/nowhere", devKey, 404, "not configured in dev"},
			"an unknown environment":    {"GET", "/api/v1/environments/qa/targets", devKey, 404, "qa"},
		} {
			t.Run(name, func(t *testing.T) {
				code, out := call(c.method, c.path, c.token, nil)
				require.Equal(t, c.code, code, out)
				require.Contains(t, out["detail"], c.says)
			})
		}
		t.Run("an unknown kind", func(t *testing.T) {
			code, out := call("PUT", "/api/v1/environments/dev/targets/x", devKey, map[string]any{"kind": "ftp"})
			require.Equal(t, http.StatusUnprocessableEntity, code, out)
			require.Contains(t, out["detail"], "choose one of http, capture, sftp")
		})
		t.Run("an analyst's session", func(t *testing.T) {
			res := ana.apiCall("GET", "/api/v1/environments/dev/targets", nil)
			require.Equal(t, http.StatusForbidden, res.StatusCode)
		})
	})

	t.Run("the target's page names the version running here", func(t *testing.T) {
		page := adm.get("/environments/dev/targets/erp-sales-orders").body
		require.Contains(t, page, `<a href="/flows/shop-orders">shop-orders</a> <span class="hint">v1 runs in dev</span> <span class="badge badge-ok">running here</span>`)
	})

	t.Run("a target no version delivers to is removed", func(t *testing.T) {
		code, out := call("DELETE", "/api/v1/environments/dev/targets/crm", devKey, nil)
		require.Equal(t, http.StatusNoContent, code, out)
		code, _ = call("GET", "/api/v1/environments/dev/targets/crm", devKey, nil)
		require.Equal(t, http.StatusNotFound, code)
	})

	t.Run("variables", func(t *testing.T) {
		code, out := call("PUT", "/api/v1/environments/dev/variables/ERP_COMPANY", devKey, map[string]any{"value": "2000"})
		require.Equal(t, http.StatusOK, code, out)
		code, out = call("GET", "/api/v1/environments/dev/variables", devKey, nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "2000", out["variables"].(map[string]any)["ERP_COMPANY"])
		code, out = call("PUT", "/api/v1/environments/dev/variables/ERP_COMPANY", devKey, map[string]any{"value": strings.Repeat("x", 5000)})
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		require.Contains(t, errorsOf(out), "value")
		code, out = call("PUT", "/api/v1/environments/dev/variables/bad-name", devKey, map[string]any{"value": "1"})
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		code, _ = call("DELETE", "/api/v1/environments/dev/variables/ERP_COMPANY", devKey, nil)
		require.Equal(t, http.StatusNoContent, code)
		code, out = call("DELETE", "/api/v1/environments/dev/variables/ERP_COMPANY", devKey, nil)
		require.Equal(t, http.StatusNotFound, code, out)
		code, _ = call("PUT", "/api/v1/environments/prod/variables/ERP_COMPANY", devKey, map[string]any{"value": "1"})
		require.Equal(t, http.StatusForbidden, code)
	})

	t.Run("every change is audited", func(t *testing.T) {
		for _, action := range []string{"target.configure", "target.remove", "variable.set", "variable.delete"} {
			entries, err := account.AuditList(ctx, tb.db, account.AuditFilter{Action: action})
			require.NoError(t, err)
			require.NotEmpty(t, entries, action)
		}
	})
}

// TestAPIKeysPageSaysRateAndPermissions: each key's rate and burst, and a
// key made with the configure permission says so.
func TestAPIKeysPageSaysRateAndPermissions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "adm@shop.example", account.RoleAdmin)
	adm := b.browser(t)
	adm.signIn("adm@shop.example")
	adm.get("/admin/api-keys")
	res := adm.post("/admin/api-keys", url.Values{"name": {"ci config"}, "environment": {"dev"}, "configure": {"on"}})
	require.Less(t, res.StatusCode, 400, res.body)
	page := adm.get("/admin/api-keys").body
	require.Contains(t, page, "bursts of 100", "the default 600 a minute comes in bursts of a tenth")
	require.Contains(t, page, `<span class="badge badge-admin">configure</span>`)
	keys, err := account.APIKeyList(context.Background(), b.db)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.True(t, keys[0].CanConfigure)
	require.Equal(t, account.DefaultRatePerMinute, keys[0].RatePerMinute)
}
