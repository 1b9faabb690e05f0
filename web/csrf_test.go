package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// TestCSRFTokenIsNotTakenFromTheQueryString: the token counts only in the
// form body or the X-CSRF-Token header. A token in a URL ends up in logs,
// browser history and Referer headers, so a request carrying it there is
// refused like one without it.
func TestCSRFTokenIsNotTakenFromTheQueryString(t *testing.T) {
	t.Parallel()
	signedIn := func(t *testing.T) (*testBundle, *browser) {
		b := setup(t)
		b.user(t, "root@shop.example", account.RoleAdmin)
		br := b.browser(t)
		br.signIn("root@shop.example")
		br.get("/admin/users")
		return b, br
	}
	newUser := func(email string) url.Values {
		return url.Values{"email": {email}, "role": {"viewer"}, "password": {password}}
	}

	t.Run("query string with an urlencoded body", func(t *testing.T) {
		t.Parallel()
		b, br := signedIn(t)
		req := httptest.NewRequest(http.MethodPost, "/admin/users?_csrf="+url.QueryEscape(br.csrf), strings.NewReader(newUser("new@shop.example").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res := br.do(req)
		require.Equal(t, http.StatusForbidden, res.StatusCode, bodyGist(res.body))
		require.Contains(t, res.body, "sent from another site")
		_, err := account.UserByEmail(context.Background(), b.db, "new@shop.example")
		require.Error(t, err, "nothing was created")
	})
	t.Run("query string without a body", func(t *testing.T) {
		t.Parallel()
		_, br := signedIn(t)
		res := br.do(httptest.NewRequest(http.MethodPost, "/logout?_csrf="+url.QueryEscape(br.csrf), nil))
		require.Equal(t, http.StatusForbidden, res.StatusCode, bodyGist(res.body))
		require.Equal(t, http.StatusOK, br.get("/flows").StatusCode, "still signed in")
	})
	t.Run("the form field and the header still work", func(t *testing.T) {
		t.Parallel()
		_, br := signedIn(t)
		require.Equal(t, http.StatusSeeOther, br.post("/admin/users", newUser("new@shop.example")).StatusCode)
		br.get("/admin/users")
		req := httptest.NewRequest(http.MethodPost, "/admin/users", strings.NewReader(newUser("other@shop.example").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", br.csrf)
		require.Equal(t, http.StatusSeeOther, br.do(req).StatusCode)
	})
	t.Run("a multipart form field works", func(t *testing.T) {
		t.Parallel()
		_, br := signedIn(t)
		res := br.upload("/admin/users", "unused", "x.txt", []byte("x"), newUser("third@shop.example"))
		require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
	})
}
