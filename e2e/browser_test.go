package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newBrowser starts Debian's Chromium headless with a fresh profile. The
// flags keep it off the (closed) network and quiet.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: `make test` installs Debian's chromium (scripts/ensure-chromium.sh)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900), // wide enough for the sidebar; below 860px it becomes a drawer
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// A limit for a hung browser, not a speed check: the longest journey
	// takes about a minute alone and three on a machine busy with other
	// tests.
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// must runs steps, each with its own time limit, and on failure says which
// step failed, where the browser was and what the page showed.
func must(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s, step %d: %v\nat %s\npage text: %.800s", what, i+1, err, loc, body)
		}
	}
}

func text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func location(t testing.TB, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// waitLocation waits until the browser's address contains want: a form
// post followed by a redirect lands there.
func waitLocation(t testing.TB, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.Contains(loc, want) {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("the browser stayed at %s, want an address with %q; page text: %.800s", loc, want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func signIn(t testing.TB, ctx context.Context, base, email, password string) {
	t.Helper()
	must(t, ctx, "sign in as "+email,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#sign-in")),
		// Wait for the answer (the shell, or the error) so that a following
		// navigation does not abort the sign-in.
		chromedp.WaitVisible(chromedp.CSS("nav.sidebar, #login-error")),
	)
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	must(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS("#sign-out")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
	)
}

// TestAdminCreatesSupportUserWhoCannotAdminister is the foundation's browser
// journey: sign in as admin, add a support user, sign out, sign in as them,
// be refused Admin with a 403 page, sign out; a wrong password shows an
// error and does not sign in.
func TestAdminCreatesSupportUserWhoCannotAdminister(t *testing.T) {
	t.Parallel()
	const adminPassword = "admin password for e2e"
	const supportPassword = "support password for e2e"
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD="+adminPassword)
	ctx := newBrowser(t)
	base := p.baseURL

	signIn(t, ctx, base, "admin@localhost", adminPassword)
	must(t, ctx, "see the shell", chromedp.WaitVisible(chromedp.CSS("nav.sidebar")))
	if got := text(t, ctx, "h1"); got != "Flows" {
		t.Fatalf("after sign-in the admin sees %q, want the Flows page", got)
	}
	if got := text(t, ctx, ".sidebar-foot .who"); got != "admin@localhost" {
		t.Fatalf("signed in as %q", got)
	}

	must(t, ctx, "add a support user",
		chromedp.Click(chromedp.CSS(`a[href="/admin/users"]`)),
		chromedp.WaitVisible(chromedp.CSS("#create-user")),
		chromedp.SendKeys(chromedp.CSS("#new-email"), "sue@shop.example"),
		chromedp.SendKeys(chromedp.CSS("#new-name"), "Sue Support"),
		chromedp.SetValue(chromedp.CSS("#new-role"), "support"),
		chromedp.SendKeys(chromedp.CSS("#new-password-input"), supportPassword),
		chromedp.Click(chromedp.CSS(`#create-user button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	if got := text(t, ctx, ".alert-ok"); !strings.Contains(got, "Added sue@shop.example as support") {
		t.Fatalf("confirmation = %q", got)
	}
	if got := text(t, ctx, "#users"); !strings.Contains(got, "sue@shop.example") || !strings.Contains(got, "support") {
		t.Fatalf("users table lacks the new user: %q", got)
	}
	signOut(t, ctx)

	signIn(t, ctx, base, "sue@shop.example", supportPassword)
	must(t, ctx, "support lands in the inbox", chromedp.WaitVisible(chromedp.CSS("nav.sidebar")))
	if got := text(t, ctx, "h1"); got != "Exception inbox" {
		t.Fatalf("support user sees %q first, want the inbox", got)
	}
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("nav.sidebar"))); strings.Contains(html, "/admin/users") {
		t.Fatal("the support user's navigation offers Admin")
	}
	must(t, ctx, "open Admin", chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(".error-page")))
	if got := text(t, ctx, ".error-page .status"); got != "403" {
		t.Fatalf("Admin for a support user shows status %q, want 403", got)
	}
	if got := text(t, ctx, ".error-page p"); !strings.Contains(got, "needs the admin role") {
		t.Fatalf("403 page says %q", got)
	}
	signOut(t, ctx)

	signIn(t, ctx, base, "sue@shop.example", "not the password at all")
	must(t, ctx, "see the error", chromedp.WaitVisible(chromedp.CSS("#login-error")))
	if got := text(t, ctx, "#login-error"); !strings.Contains(got, "email or password is wrong") {
		t.Fatalf("wrong password shows %q", got)
	}
	must(t, ctx, "try the inbox", chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	if loc := location(t, ctx); !strings.Contains(loc, "/login") {
		t.Fatalf("after a wrong password the inbox is at %s, want the sign-in page", loc)
	}
	if t.Failed() {
		os.Stderr.WriteString(p.Logs())
	}
}
