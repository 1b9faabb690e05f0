package web_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/secret"
)

// An environment's retention and exception notification webhook are
// scriptable like its targets: a configure key of the environment (or an
// admin) reads and changes them; the webhook URL goes in and never comes
// out; every change is audited; bad input names the field.
func TestEnvironmentRetentionAndNotificationsAPI(t *testing.T) {
	t.Parallel()
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	tb := setupTrigger(t, setupOpts{sealer: sealer})
	ctx := context.Background()
	newKey := func(env string, configure bool) string {
		_, token, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "cfg-" + env, Environment: env, CanConfigure: configure, CanManage: !configure}, account.SystemActor)
		require.NoError(t, err)
		return token
	}
	devKey, prodKey, manageKey := newKey("dev", true), newKey("prod", true), newKey("dev", false)
	call := func(method, path, token, body string) (int, map[string]any, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := tb.app.Test(req, -1)
		require.NoError(t, err)
		defer res.Body.Close()
		var raw strings.Builder
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		b, _ := json.Marshal(out)
		raw.Write(b)
		return res.StatusCode, out, raw.String()
	}
	audited := func(action string) int {
		var n int
		require.NoError(t, tb.db.QueryRow(ctx, `select count(*) from audit_entries where action = $1`, action).Scan(&n))
		return n
	}
	const retention = "/api/v1/environments/dev/retention"
	const notifications = "/api/v1/environments/dev/notifications"

	t.Run("retention is read and set", func(t *testing.T) {
		code, out, _ := call("GET", retention, devKey, "")
		require.Equal(t, http.StatusOK, code, out)
		require.EqualValues(t, 30, out["days"])
		code, out, _ = call("PUT", retention, devKey, `{"days": 14}`)
		require.Equal(t, http.StatusOK, code, out)
		_, out, _ = call("GET", retention, devKey, "")
		require.EqualValues(t, 14, out["days"])
		require.Equal(t, 1, audited("environment.retention"))
	})
	t.Run("retention out of range names the field", func(t *testing.T) {
		code, out, _ := call("PUT", retention, devKey, `{"days": 0}`)
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		require.Contains(t, out["errors"], "days")
		code, out, _ = call("PUT", retention, devKey, `{"dayz": 3}`)
		require.Equal(t, http.StatusBadRequest, code, out)
	})
	t.Run("the webhook URL goes in and never comes out", func(t *testing.T) {
		code, out, _ := call("GET", notifications, devKey, "")
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, false, out["configured"])
		code, out, raw := call("PUT", notifications, devKey, `{"url": "https://hooks.slack.example/services/T000/B000/very-secret-token", "enabled": true, "threshold": 50, "window": "30m", "approvals": true}`)
		require.Equal(t, http.StatusOK, code, out)
		require.NotContains(t, raw, "very-secret-token")
		require.Equal(t, "https://hooks.slack.example/…", out["urlHint"])
		require.EqualValues(t, 50, out["threshold"])
		require.Equal(t, "30m", out["window"])
		require.Equal(t, true, out["approvals"], "promotion requests waiting here are announced too")
		_, out, raw = call("GET", notifications, devKey, "")
		require.Equal(t, true, out["configured"])
		require.NotContains(t, raw, "very-secret-token")
		// Without a URL the stored one stays.
		code, out, _ = call("PUT", notifications, devKey, `{"enabled": false}`)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "https://hooks.slack.example/…", out["urlHint"])
		require.Equal(t, false, out["enabled"])
		require.Equal(t, false, out["approvals"], "PUT replaces: approvals left out are off")
		var logged int
		require.NoError(t, tb.db.QueryRow(ctx, `select count(*) from audit_entries where after::text like '%very-secret-token%'`).Scan(&logged))
		require.Zero(t, logged, "the audit log keeps the URL's host only")
		require.Equal(t, 2, audited("notifications.configure"))
	})
	t.Run("bad notification settings name the field", func(t *testing.T) {
		code, out, _ := call("PUT", notifications, devKey, `{"enabled": true, "window": "10s"}`)
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		require.Contains(t, out["errors"], "window")
		code, out, _ = call("PUT", notifications, devKey, `{"url": "ftp://hooks.example/x", "enabled": true}`)
		require.Equal(t, http.StatusUnprocessableEntity, code, out)
		code, out, _ = call("PUT", notifications, devKey, `{"url": "https://hooks.example/x"}`)
		require.Equal(t, http.StatusBadRequest, code, out, "enabled is required")
	})
	t.Run("the webhook is removed once", func(t *testing.T) {
		code, _, _ := call("DELETE", notifications, devKey, "")
		require.Equal(t, http.StatusNoContent, code)
		code, out, _ := call("DELETE", notifications, devKey, "")
		require.Equal(t, http.StatusNotFound, code, out)
		require.Equal(t, 1, audited("notifications.remove"))
	})
	t.Run("refused to other environments' keys and keys without configure", func(t *testing.T) {
		for _, path := range []string{retention, notifications} {
			code, out, _ := call("GET", path, prodKey, "")
			require.Equal(t, http.StatusForbidden, code, "%s %v", path, out)
			code, out, _ = call("GET", path, manageKey, "")
			require.Equal(t, http.StatusForbidden, code, "%s %v", path, out)
		}
		code, out, _ := call("PUT", retention, prodKey, `{"days": 7}`)
		require.Equal(t, http.StatusForbidden, code, out)
	})
}
