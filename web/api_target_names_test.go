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
)

// TestFlowTargetNamesAPI sets a flow's local target names as a script
// would: a configure key of the environment, or an admin.
func TestFlowTargetNamesAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	call := func(t *testing.T, tb *triggerBundle, method, path, token string, body any) (int, map[string]any) {
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
	setupKeys := func(t *testing.T) (*triggerBundle, string, string) {
		tb := setupTrigger(t)
		key := func(env string) string {
			_, token, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "cfg-" + env, Environment: env, CanConfigure: true}, account.SystemActor)
			require.NoError(t, err)
			return token
		}
		return tb, key("dev"), key("prod")
	}
	const path = "/api/v1/environments/dev/flows/shop-orders/targets"

	t.Run("set, read and remove", func(t *testing.T) {
		t.Parallel()
		tb, devKey, _ := setupKeys(t)
		code, out := call(t, tb, "GET", path, devKey, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{}, out["targets"])
		code, out = call(t, tb, "PUT", path, devKey, map[string]any{"targets": map[string]string{"erp-sales-orders": "erp-eu"}})
		require.Equal(t, http.StatusOK, code, out)
		code, out = call(t, tb, "GET", path, devKey, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"erp-sales-orders": "erp-eu"}, out["targets"])
		var audited int
		require.NoError(t, tb.db.QueryRow(ctx, `select count(*) from audit_entries where action = 'target.names'`).Scan(&audited))
		require.Equal(t, 1, audited)
		code, out = call(t, tb, "PUT", path, devKey, map[string]any{"targets": map[string]string{}})
		require.Equal(t, http.StatusOK, code, out)
		_, out = call(t, tb, "GET", path, devKey, nil)
		require.Equal(t, map[string]any{}, out["targets"])
	})

	t.Run("the target page lists the flows that reach it by a local name", func(t *testing.T) {
		t.Parallel()
		tb, devKey, _ := setupKeys(t)
		code, out := call(t, tb, "PUT", path, devKey, map[string]any{"targets": map[string]string{"erp-sales-orders": "erp-eu"}})
		require.Equal(t, http.StatusOK, code, out)
		tb.user(t, "adm@shop.example", account.RoleAdmin)
		adm := tb.browser(t)
		adm.signIn("adm@shop.example")
		page := adm.get("/environments/dev/targets/erp-eu")
		require.Equal(t, http.StatusOK, page.StatusCode)
		require.Contains(t, page.body, "shop-orders")
		require.Contains(t, page.body, "as “erp-sales-orders”")
		page = adm.get("/environments/dev/targets/erp-sales-orders")
		require.NotContains(t, page.body, "shop-orders", "the flow reaches erp-eu instead")
	})

	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		tb, devKey, prodKey := setupKeys(t)
		code, _ := call(t, tb, "PUT", path, prodKey, map[string]any{"targets": map[string]string{"erp-sales-orders": "erp-eu"}})
		require.Equal(t, http.StatusForbidden, code, "another environment's key")
		code, _ = call(t, tb, "GET", path, tb.devKey, nil)
		require.Equal(t, http.StatusForbidden, code, "a key without the configure permission")
		code, _ = call(t, tb, "PUT", path, devKey, map[string]any{"names": map[string]string{}})
		require.Equal(t, http.StatusBadRequest, code)
		code, out := call(t, tb, "PUT", path, devKey, map[string]any{"targets": map[string]string{"erp": "erp", " x": "erp-eu"}})
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		require.Contains(t, out["errors"], "erp")
		require.Contains(t, out["errors"], " x")
		code, _ = call(t, tb, "GET", "/api/v1/environments/dev/flows/nowhere/targets", devKey, nil)
		require.Equal(t, http.StatusNotFound, code)
	})
}
