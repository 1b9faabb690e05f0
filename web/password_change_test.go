package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

const newPassword = "a brand new long password"

func changeForm(current, next, confirm string) url.Values {
	return url.Values{"current": {current}, "new": {next}, "confirm": {confirm}}
}

// signInWith signs in with a given password and returns the status.
func (br *browser) signInWith(email, pw string) int {
	br.get("/login")
	return br.post("/login", url.Values{"email": {email}, "password": {pw}}).StatusCode
}

// TestChangingOwnPassword: every signed-in role changes its own password
// at /account/password with the current one; the other sessions of the
// user end, this one carries on, and the change is audited.
func TestChangingOwnPassword(t *testing.T) {
	t.Parallel()

	for _, role := range account.Roles {
		t.Run("as "+string(role), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			email := string(role) + "@shop.example"
			b.user(t, email, role)
			br := b.browser(t)
			br.signIn(email)
			page := br.get("/flows")
			require.Contains(t, page.body, `href="/account/password"`, "the link is in every page's menu")
			page = br.get("/account/password")
			require.Equal(t, http.StatusOK, page.StatusCode)
			require.Contains(t, page.body, `name="current"`)
			res := br.post("/account/password", changeForm(password, newPassword, newPassword))
			require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
			page = br.get(res.Header.Get("Location"))
			require.Equal(t, http.StatusOK, page.StatusCode, "still signed in here")
			require.Contains(t, page.body, "Your password is changed.")
			require.Equal(t, http.StatusSeeOther, br.post("/logout", nil).StatusCode)
			require.Equal(t, http.StatusUnauthorized, b.browser(t).signInWith(email, password), "the old password is gone")
			require.Equal(t, http.StatusSeeOther, b.browser(t).signInWith(email, newPassword))
		})
	}

	t.Run("other sessions of the user end, this one stays", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.user(t, "ana@shop.example", account.RoleAnalyst)
		b.user(t, "bo@shop.example", account.RoleAnalyst)
		here, there, bo := b.browser(t), b.browser(t), b.browser(t)
		here.signIn("ana@shop.example")
		there.signIn("ana@shop.example")
		bo.signIn("bo@shop.example")
		here.get("/account/password")
		before := here.sessionToken()
		require.Equal(t, http.StatusSeeOther, here.post("/account/password", changeForm(password, newPassword, newPassword)).StatusCode)
		require.NotEqual(t, before, here.sessionToken(), "the kept session has a new token")
		require.Equal(t, http.StatusOK, here.get("/flows").StatusCode)
		require.Equal(t, http.StatusSeeOther, there.get("/flows").StatusCode, "the other browser is signed out")
		require.Equal(t, http.StatusOK, bo.get("/flows").StatusCode, "another user is not")
	})

	t.Run("refusals say what to fix and change nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.user(t, "ana@shop.example", account.RoleAnalyst)
		br := b.browser(t)
		br.signIn("ana@shop.example")
		cases := []struct {
			name string
			form url.Values
			msg  string
		}{
			{"no current password", changeForm("", newPassword, newPassword), "Enter your current password."},
			{"wrong current password", changeForm("not my password", newPassword, newPassword), "The current password is wrong."},
			{"too short", changeForm(password, "short", "short"), "The new password must have at least 12 characters."},
			{"not confirmed", changeForm(password, newPassword, newPassword+"!"), "The new passwords do not match; type the same one twice."},
			{"the same as before", changeForm(password, password, password), "The new password is the current one; choose another."},
		}
		for _, tc := range cases {
			br.get("/account/password")
			res := br.post("/account/password", tc.form)
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, tc.name)
			require.Contains(t, res.body, tc.msg, tc.name)
			require.NotContains(t, res.body, newPassword, "%s: typed passwords are not sent back", tc.name)
		}
		require.Equal(t, http.StatusSeeOther, b.browser(t).signInWith("ana@shop.example", password), "the password is unchanged")
		entries, err := account.AuditList(context.Background(), b.db, account.AuditFilter{Action: "user.password_change"})
		require.NoError(t, err)
		require.Empty(t, entries)
	})

	t.Run("audited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ana := b.user(t, "ana@shop.example", account.RoleAnalyst)
		br := b.browser(t)
		br.signIn("ana@shop.example")
		br.get("/account/password")
		require.Equal(t, http.StatusSeeOther, br.post("/account/password", changeForm(password, newPassword, newPassword)).StatusCode)
		entries, err := account.AuditList(context.Background(), b.db, account.AuditFilter{Action: "user.password_change"})
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, "ana@shop.example", entries[0].ActorEmail)
		require.Equal(t, itoa(ana.ID), entries[0].TargetID)
		require.NotContains(t, b.logs.String(), newPassword)
	})

	t.Run("wrong current passwords count as failed sign-ins", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.user(t, "ana@shop.example", account.RoleAnalyst)
		br := b.browser(t)
		br.signIn("ana@shop.example")
		br.get("/account/password")
		for i := range account.AccountFailureLimit {
			require.Equal(t, http.StatusUnprocessableEntity, br.post("/account/password", changeForm("guess number "+itoa(int64(i)), newPassword, newPassword)).StatusCode)
		}
		res := br.post("/account/password", changeForm(password, newPassword, newPassword))
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		require.Contains(t, res.body, "Too many failed sign-ins for this account")
	})
}
