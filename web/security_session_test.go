package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// TestSignInIsThrottledPerAddress complements TestSignInErrors (per
// account): guessing across many accounts from one address is stopped
// too, even for an account whose password is then right.
func TestSignInIsThrottledPerAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.get("/login")
	for i := range account.AddressFailureLimit {
		res := br.post("/login", url.Values{"email": {"guess" + itoa(int64(i)) + "@shop.example"}, "password": {"wrong password"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i)
	}
	res := br.post("/login", url.Values{"email": {"ana@shop.example"}, "password": {password}})
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Contains(t, res.body, "Too many failed sign-ins from your network address")
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	after := br.get("/flows")
	require.Equal(t, http.StatusSeeOther, after.StatusCode, "still signed out")
	require.True(t, strings.HasPrefix(after.Header.Get("Location"), "/login"))
}

// TestSessionCookieFlagsBehindHTTPS checks the cookie a sign-in sets when
// Crossdock is reached over https: Secure, HttpOnly, SameSite=Lax, no
// Expires (it ends with the browser; the server's timeouts end it sooner).
func TestSessionCookieFlagsBehindHTTPS(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{baseURL: "https://crossdock.example.com"})
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.get("/login")
	res := br.post("/login", url.Values{"email": {"ana@shop.example"}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "crossdock_session" {
			session = c
		}
	}
	require.NotNil(t, session, "sign-in sets the session cookie")
	require.True(t, session.Secure, "Secure behind https")
	require.True(t, session.HttpOnly, "scripts cannot read the session")
	require.Equal(t, http.SameSiteLaxMode, session.SameSite)
	require.Equal(t, "/", session.Path)
	require.True(t, session.Expires.IsZero(), "a browser-session cookie")
}
