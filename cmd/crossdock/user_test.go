package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/static"
	"github.com/crossdock/crossdock/web"
)

// TestResetPasswordEndsTheUsersSessions: `crossdock user reset-password`
// signs the user out of every browser session, as the admin page does, so
// a session signed in with the old password does not carry on.
func TestResetPasswordEndsTheUsersSessions(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDatabase(t)
	kv := map[string]string{"DATABASE_URL": dbURL}
	_, _, err := runCmd(t, env(kv), "the first password\n", "user", "add", "--email", "ana@shop.example", "--role", "analyst", "--password-stdin")
	require.NoError(t, err)

	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	assets, err := static.New()
	require.NoError(t, err)
	app := web.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), web.Config{BaseURL: "http://example.com"}, web.Deps{
		DB: pool, Sessions: web.NewSessions(pgxstore.NewWithCleanupInterval(pool, 0), false, time.Hour, 2*time.Hour), Assets: assets,
	})
	cookie := signInTo(t, app, "ana@shop.example", "the first password")
	require.Equal(t, http.StatusOK, getWith(t, app, "/flows", cookie))

	out, _, err := runCmd(t, env(kv), "a brand new password\n", "user", "reset-password", "--email", "ana@shop.example", "--password-stdin")
	require.NoError(t, err)
	require.Contains(t, out, "signed them out everywhere")
	require.Equal(t, http.StatusSeeOther, getWith(t, app, "/flows", cookie), "the old session is over")
	require.Equal(t, http.StatusOK, getWith(t, app, "/flows", signInTo(t, app, "ana@shop.example", "a brand new password")))
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signInTo signs in through the sign-in form and returns the session cookie.
func signInTo(t *testing.T, app *fiber.App, email, password string) string {
	t.Helper()
	res, err := app.Test(httptest.NewRequest(http.MethodGet, "/login", nil), -1)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	m := csrfInput.FindStringSubmatch(string(body))
	require.NotNil(t, m)
	cookie := sessionCookie(res)
	form := url.Values{"_csrf": {m[1]}, "email": {email}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie)
	res, err = app.Test(req, -1)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	return sessionCookie(res)
}

func sessionCookie(res *http.Response) string {
	for _, c := range res.Cookies() {
		if c.Name == "crossdock_session" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

func getWith(t *testing.T, app *fiber.App, path, cookie string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Cookie", cookie)
	res, err := app.Test(req, -1)
	require.NoError(t, err)
	return res.StatusCode
}
