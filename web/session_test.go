package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
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
