package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const forwardingWarning = "X-Forwarded-For but CROSSDOCK_TRUSTED_PROXIES is unset"

// TestForwardedForWithoutTrustedProxiesIsWarnedOnce: behind a proxy that
// is not configured as trusted, every client shares the proxy's address
// and the per-address sign-in throttle locks them out together. The first
// request that shows a proxy (X-Forwarded-For) logs a warning saying so;
// later ones do not repeat it.
func TestForwardedForWithoutTrustedProxiesIsWarnedOnce(t *testing.T) {
	t.Parallel()
	forwarded := func(b *testBundle) {
		req := httptest.NewRequest(http.MethodGet, "/login", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		require.Equal(t, http.StatusOK, b.browser(t).do(req).StatusCode)
	}

	t.Run("no trusted proxies: warned once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.browser(t).get("/login")
		require.NotContains(t, b.logs.String(), forwardingWarning, "no proxy seen yet")
		forwarded(b)
		forwarded(b)
		require.Equal(t, 1, strings.Count(b.logs.String(), forwardingWarning), b.logs.String())
		require.Contains(t, b.logs.String(), "level=WARN")
	})
	t.Run("trusted proxies configured: no warning", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{trustedProxies: []string{"10.0.0.1"}})
		forwarded(b)
		require.NotContains(t, b.logs.String(), forwardingWarning)
	})
}
