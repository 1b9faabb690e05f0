package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestChangeOwnPasswordInTheBrowser walks the own-password change with
// clicks and typing only: sign in, open "Change password" from the menu,
// get a wrong current password refused, change it, stay signed in, sign
// out, sign in with the new password (the old one is refused). A second
// browser signed in as the same person before the change is signed out by
// it.
func TestChangeOwnPasswordInTheBrowser(t *testing.T) {
	t.Parallel()
	const oldPassword = "admin password for e2e"
	const newPassword = "a new admin password for e2e"
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD="+oldPassword)
	ctx, other := newBrowser(t), newBrowser(t)
	base := p.baseURL
	defer func() {
		if t.Failed() {
			os.Stderr.WriteString(p.Logs())
		}
	}()

	signIn(t, other, base, "admin@localhost", oldPassword)
	must(t, other, "the other browser is signed in", chromedp.WaitVisible(chromedp.CSS("nav.sidebar")))

	signIn(t, ctx, base, "admin@localhost", oldPassword)
	must(t, ctx, "open the password form from the menu",
		chromedp.WaitVisible(chromedp.CSS("#change-password")),
		chromedp.Click(chromedp.CSS("#change-password")),
		chromedp.WaitVisible(chromedp.CSS("#change-password-form")),
	)
	must(t, ctx, "a wrong current password is refused",
		chromedp.SendKeys(chromedp.CSS("#current-password"), "not my password at all"),
		chromedp.SendKeys(chromedp.CSS("#new-password"), newPassword),
		chromedp.SendKeys(chromedp.CSS("#confirm-password"), newPassword),
		chromedp.Click(chromedp.CSS("#save-password")),
		chromedp.WaitVisible(chromedp.CSS("#password-error")),
	)
	if got := text(t, ctx, "#password-error"); !strings.Contains(got, "The current password is wrong.") {
		t.Fatalf("a wrong current password shows %q", got)
	}
	must(t, ctx, "change the password",
		chromedp.SendKeys(chromedp.CSS("#current-password"), oldPassword),
		chromedp.SendKeys(chromedp.CSS("#new-password"), newPassword),
		chromedp.SendKeys(chromedp.CSS("#confirm-password"), newPassword),
		chromedp.Click(chromedp.CSS("#save-password")),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	if got := text(t, ctx, ".alert-ok"); !strings.Contains(got, "Your password is changed.") {
		t.Fatalf("confirmation = %q", got)
	}
	must(t, ctx, "still signed in here",
		chromedp.Click(chromedp.CSS(`nav.sidebar a[href="/inbox"]`)),
		chromedp.WaitVisible(chromedp.CSS("#sign-out")),
	)
	waitLocation(t, ctx, "/inbox")

	must(t, other, "the other browser is signed out on its next click",
		chromedp.Click(chromedp.CSS(`nav.sidebar a[href="/inbox"]`)),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
	)
	waitLocation(t, other, "/login")

	signOut(t, ctx)
	signIn(t, ctx, base, "admin@localhost", oldPassword)
	must(t, ctx, "the old password is refused", chromedp.WaitVisible(chromedp.CSS("#login-error")))
	signIn(t, ctx, base, "admin@localhost", newPassword)
	must(t, ctx, "the new password signs in", chromedp.WaitVisible(chromedp.CSS("nav.sidebar")))
	if got := text(t, ctx, ".sidebar-foot .who"); got != "admin@localhost" {
		t.Fatalf("signed in as %q", got)
	}
}
