package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// TestSessionTokensAreStoredHashed: the sessions table holds the SHA-256 of
// each token, never the token; the cookie still works, and a token read
// from the table signs no one in.
func TestSessionTokensAreStoredHashed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	token := br.sessionToken()
	require.NotEmpty(t, token)
	stored := func() []string {
		rows, err := b.db.Query(context.Background(), `select token from sessions`)
		require.NoError(t, err)
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	sum := sha256.Sum256([]byte(token))

	t.Run("no row holds the cookie's token", func(t *testing.T) {
		rows := stored()
		require.NotEmpty(t, rows)
		require.NotContains(t, rows, token)
		require.Contains(t, rows, hex.EncodeToString(sum[:]))
	})
	t.Run("the cookie still works", func(t *testing.T) {
		require.Equal(t, http.StatusOK, br.get("/flows").StatusCode)
	})
	t.Run("a token read from the table signs no one in", func(t *testing.T) {
		for _, s := range stored() {
			thief := b.browser(t)
			thief.cookies["crossdock_session"] = &http.Cookie{Name: "crossdock_session", Value: s}
			require.Equal(t, http.StatusSeeOther, thief.get("/flows").StatusCode, "the stored value as a cookie")
		}
	})
	t.Run("sign-out removes the row", func(t *testing.T) {
		br.get("/flows")
		require.Equal(t, http.StatusSeeOther, br.post("/logout", nil).StatusCode)
		require.NotContains(t, stored(), hex.EncodeToString(sum[:]))
	})
}

// TestPasswordAndRoleChangesEndTheUsersSessions: an admin's password reset
// or role change ends every session of that user on its next request,
// whichever process serves it (the generation is read from the users
// table). Before, both left the sessions signed in until they expired.
func TestPasswordAndRoleChangesEndTheUsersSessions(t *testing.T) {
	t.Parallel()
	type bundle struct {
		*testBundle
		admin, sue, sue2 *browser
		sueID            int64
	}
	setupUsers := func(t *testing.T) bundle {
		b := setup(t)
		b.user(t, "root@shop.example", account.RoleAdmin)
		sue := b.user(t, "sue@shop.example", account.RoleSupport)
		x := bundle{testBundle: b, admin: b.browser(t), sue: b.browser(t), sue2: b.browser(t), sueID: sue.ID}
		x.admin.signIn("root@shop.example")
		x.sue.signIn("sue@shop.example")
		x.sue2.signIn("sue@shop.example")
		require.Equal(t, http.StatusOK, x.sue.get("/inbox").StatusCode)
		require.Equal(t, http.StatusOK, x.sue2.get("/inbox").StatusCode)
		x.admin.get("/admin/users/" + itoa(sue.ID))
		return x
	}
	signedOut := func(t *testing.T, br *browser, who string) {
		t.Helper()
		res := br.get("/inbox")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "%s is signed out", who)
		require.Contains(t, res.Header.Get("Location"), "/login")
	}

	t.Run("admin password reset", func(t *testing.T) {
		t.Parallel()
		x := setupUsers(t)
		res := x.admin.post("/admin/users/"+itoa(x.sueID)+"/password", nil)
		require.Equal(t, http.StatusOK, res.StatusCode, bodyGist(res.body))
		require.Contains(t, res.body, "signs them out")
		signedOut(t, x.sue, "sue's first browser")
		signedOut(t, x.sue2, "sue's second browser")
		require.Equal(t, http.StatusOK, x.admin.get("/admin/users").StatusCode, "the admin stays signed in")
	})
	t.Run("role change", func(t *testing.T) {
		t.Parallel()
		x := setupUsers(t)
		res := x.admin.post("/admin/users/"+itoa(x.sueID), url.Values{"name": {"Sue"}, "role": {"viewer"}, "active": {"true"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
		signedOut(t, x.sue, "sue's first browser")
		signedOut(t, x.sue2, "sue's second browser")
		// She signs in again, with the new role.
		x.sue.signIn("sue@shop.example")
		require.Equal(t, http.StatusOK, x.sue.get("/inbox").StatusCode)
	})
	t.Run("a name change keeps the sessions", func(t *testing.T) {
		t.Parallel()
		x := setupUsers(t)
		res := x.admin.post("/admin/users/"+itoa(x.sueID), url.Values{"name": {"Sue B."}, "role": {"support"}, "active": {"true"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
		require.Equal(t, http.StatusOK, x.sue.get("/inbox").StatusCode)
		require.Equal(t, http.StatusOK, x.sue2.get("/inbox").StatusCode)
	})
	t.Run("an admin resetting their own password stays signed in there", func(t *testing.T) {
		t.Parallel()
		x := setupUsers(t)
		other := x.browser(t)
		other.signIn("root@shop.example")
		root, err := account.UserByEmail(context.Background(), x.db, "root@shop.example")
		require.NoError(t, err)
		x.admin.get("/admin/users/" + itoa(root.ID))
		before := x.admin.sessionToken()
		res := x.admin.post("/admin/users/"+itoa(root.ID)+"/password", nil)
		require.Equal(t, http.StatusOK, res.StatusCode, bodyGist(res.body))
		require.NotEqual(t, before, x.admin.sessionToken(), "the kept session gets a new token")
		require.Equal(t, http.StatusOK, x.admin.get("/admin/users").StatusCode)
		signedOut(t, other, "the admin's other browser")
		require.Equal(t, http.StatusOK, x.sue.get("/inbox").StatusCode, "other users are not affected")
	})
}
