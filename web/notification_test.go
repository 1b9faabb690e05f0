package web_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/static"
	"github.com/crossdock/crossdock/web"
)

// setupSealed is setup with a secret key, as serve runs.
func setupSealed(t *testing.T, transports ...*transport.Registry) (*testBundle, *secret.Sealer) {
	t.Helper()
	db := dbtest.NewPool(t)
	assets, err := static.New()
	require.NoError(t, err)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	b := &testBundle{db: db, logs: &logBuffer{}}
	sessions := web.NewSessions(pgxstore.NewWithCleanupInterval(db, 0), false, time.Hour, 2*time.Hour)
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps := web.Deps{DB: db, Sessions: sessions, Assets: assets, Sealer: sealer, Ready: func(context.Context) error { return nil }}
	if len(transports) > 0 {
		deps.Transports = transports[0]
	}
	b.app = web.NewServer(logger, web.Config{BaseURL: "http://example.com"}, deps)
	return b, sealer
}

const hookURL = "https://hooks.slack.com/services/T000/B000/HOOKSECRET42"

func TestNotificationSettings(t *testing.T) {
	t.Parallel()
	b, sealer := setupSealed(t)
	ctx := context.Background()
	b.user(t, "ada@shop.example", account.RoleAdmin)
	b.user(t, "sue@shop.example", account.RoleSupport)
	admin := b.browser(t)
	admin.signIn("ada@shop.example")

	page := admin.get("/environments")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, "No webhook: nobody is told")
	require.Contains(t, page.body, `action="/environments/prod/notifications"`)

	// Refusals: no URL yet, a bad URL, a bad threshold or window.
	for form, want := range map[string]string{
		"threshold=5":                                       "enter the webhook URL",
		"url=ftp%3A%2F%2Fx&threshold=5":                     "must be an http(s) URL",
		"url=" + url.QueryEscape(hookURL) + "&threshold=0":  "threshold",
		"url=" + url.QueryEscape(hookURL) + "&window=5s":    "window",
		"url=" + url.QueryEscape(hookURL) + "&window=often": "window",
	} {
		vals, err := url.ParseQuery(form)
		require.NoError(t, err)
		res := admin.post("/environments/prod/notifications", vals)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, form)
		require.Contains(t, res.body, want, form)
		require.Contains(t, res.body, "Nothing was saved")
	}

	res := admin.post("/environments/prod/notifications", url.Values{"url": {hookURL}, "threshold": {"50"}, "window": {"10m"}, "enabled": {"on"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	page = admin.get("/environments")
	require.Contains(t, page.body, "https://hooks.slack.com/…")
	require.Contains(t, page.body, "50 exceptions within 10m")
	require.NotContains(t, page.body, "HOOKSECRET42")
	prod, err := release.EnvironmentByName(ctx, b.db, "prod")
	require.NoError(t, err)
	cfg, err := release.NotificationConfigGet(ctx, b.db, sealer, prod.ID)
	require.NoError(t, err)
	require.Equal(t, hookURL, cfg.URL)
	require.True(t, cfg.Enabled)
	var stored string
	require.NoError(t, b.db.QueryRow(ctx, `select url_ciphertext::text || url_hint from environment_notifications`).Scan(&stored))
	require.NotContains(t, stored, "HOOKSECRET42", "sealed at rest")

	// An empty URL keeps the stored one; the checkbox turns it off.
	res = admin.post("/environments/prod/notifications", url.Values{"threshold": {"7"}, "window": {"1h"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	cfg, err = release.NotificationConfigGet(ctx, b.db, sealer, prod.ID)
	require.NoError(t, err)
	require.Equal(t, hookURL, cfg.URL)
	require.False(t, cfg.Enabled)
	require.Equal(t, 7, cfg.Threshold)
	require.Equal(t, time.Hour, cfg.Window)
	require.False(t, cfg.Approvals, "promotion requests are announced only when asked")

	// The approvals checkbox adds promotion requests waiting for an approver.
	res = admin.post("/environments/prod/notifications", url.Values{"enabled": {"on"}, "approvals": {"on"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	cfg, err = release.NotificationConfigGet(ctx, b.db, sealer, prod.ID)
	require.NoError(t, err)
	require.True(t, cfg.Approvals)
	page = admin.get("/environments")
	require.Regexp(t, `and when a promotion request waits for an approver here`, page.body)

	// Support reads, but cannot change or remove; nobody posts without CSRF.
	sue := b.browser(t)
	sue.signIn("sue@shop.example")
	page = sue.get("/environments")
	require.Contains(t, page.body, "https://hooks.slack.com/…")
	require.NotContains(t, page.body, `action="/environments/prod/notifications"`)
	require.Equal(t, http.StatusForbidden, sue.post("/environments/prod/notifications", url.Values{"url": {"https://evil.example/x"}}).StatusCode)
	require.Equal(t, http.StatusForbidden, sue.post("/environments/prod/notifications/delete", nil).StatusCode)
	require.Equal(t, http.StatusForbidden, admin.post("/environments/prod/notifications/delete", url.Values{"_csrf": {"wrong"}}).StatusCode)
	require.Equal(t, http.StatusNotFound, admin.post("/environments/nowhere/notifications", url.Values{"url": {hookURL}}).StatusCode)

	res = admin.post("/environments/prod/notifications/delete", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	_, err = release.NotificationConfigGet(ctx, b.db, sealer, prod.ID)
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
	require.Equal(t, http.StatusNotFound, admin.post("/environments/prod/notifications/delete", nil).StatusCode, "nothing left to remove")

	// Audited with before and after, never with the URL.
	audit := admin.get("/admin/audit?action=notifications.")
	require.Contains(t, audit.body, "notifications.configure")
	require.Contains(t, audit.body, "notifications.remove")
	require.NotContains(t, audit.body, "HOOKSECRET42")
	var n int
	require.NoError(t, b.db.QueryRow(ctx, `select count(*) from audit_entries where action like 'notifications.%'`).Scan(&n))
	require.Equal(t, 4, n)
	require.NotContains(t, b.logs.String(), "HOOKSECRET42")
	require.False(t, strings.Contains(audit.body, "T000/B000"))
}
