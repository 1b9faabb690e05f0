package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/metrics"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/static"
	"github.com/crossdock/crossdock/web"
)

const password = "a long enough password"

// testBundle is what a handler test needs: the app on its own database.
type testBundle struct {
	app   *fiber.App
	db    *pgxpool.Pool
	logs  *logBuffer
	ready error
	queue *river.Client[pgx.Tx]
}

type setupOpts struct {
	baseURL         string
	maxMessageBytes int
	metricsToken    string
	metrics         *metrics.Metrics
	// sealer, when set, seals target secrets as serve does.
	sealer *secret.Sealer
	// riverUI, when set, stands in for River's UI under /admin/river.
	riverUI http.Handler
	// passwordHashes bounds concurrent password hashes (web.Config).
	passwordHashes int
	// trustedProxies is web.Config.TrustedProxies.
	trustedProxies []string
}

func setup(t testing.TB, opts ...setupOpts) *testBundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.baseURL == "" {
		o.baseURL = "http://example.com"
	}
	db := dbtest.NewPool(t)
	assets, err := static.New()
	require.NoError(t, err)
	b := &testBundle{db: db, logs: &logBuffer{}}
	sessions := web.NewSessions(pgxstore.NewWithCleanupInterval(db, 0), strings.HasPrefix(o.baseURL, "https"), time.Hour, 2*time.Hour)
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// An insert-only River client: handler tests assert what was enqueued;
	// workers are tested in package jobs and end to end in e2e.
	queue, err := jobs.NewClient(db, logger, jobs.Config{Sealer: o.sealer})
	require.NoError(t, err)
	b.queue = queue
	b.app = web.NewServer(logger, web.Config{BaseURL: o.baseURL, MaxMessageBytes: o.maxMessageBytes, MetricsToken: o.metricsToken, PasswordHashes: o.passwordHashes, TrustedProxies: o.trustedProxies}, web.Deps{
		DB: db, Sessions: sessions, Assets: assets, Queue: queue, Metrics: o.metrics, Sealer: o.sealer, RiverUI: o.riverUI,
		Ready: func(context.Context) error { return b.ready },
	})
	return b
}

// logBuffer collects log lines; the app writes from its own goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (b *testBundle) user(t testing.TB, email string, role account.Role) account.User {
	t.Helper()
	u, err := account.UserCreate(context.Background(), b.db, account.NewUser{Email: email, Role: role, Password: password})
	require.NoError(t, err)
	return u
}

// browser is a cookie-keeping client that talks to the app through app.Test.
type browser struct {
	t        testing.TB
	app      *fiber.App
	cookies  map[string]*http.Cookie
	csrf     string
	lastBody string
}

func (b *testBundle) browser(t testing.TB) *browser {
	return &browser{t: t, app: b.app, cookies: map[string]*http.Cookie{}}
}

type response struct {
	*http.Response
	body string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (br *browser) do(req *http.Request) response {
	br.t.Helper()
	for _, c := range br.cookies {
		req.AddCookie(c)
	}
	res, err := br.app.Test(req, -1)
	require.NoError(br.t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(br.t, err)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(br.cookies, c.Name)
		} else {
			br.cookies[c.Name] = c
		}
	}
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		br.csrf = m[1]
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		br.lastBody = string(body)
	}
	return response{res, string(body)}
}

func (br *browser) get(path string) response {
	return br.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends a form with the CSRF token last seen (unless form sets _csrf).
func (br *browser) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", br.csrf)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return br.do(req)
}

func (br *browser) signIn(email string) {
	br.t.Helper()
	br.get("/login")
	res := br.post("/login", url.Values{"email": {email}, "password": {password}})
	require.Equal(br.t, http.StatusSeeOther, res.StatusCode, res.body)
}

func (br *browser) sessionToken() string {
	if c, ok := br.cookies["crossdock_session"]; ok {
		return c.Value
	}
	return ""
}

func TestAnonymousPagesRedirectToSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/", "/flows", "/inbox", "/messages", "/environments", "/dashboard", "/admin/users", "/admin/audit", "/nowhere"} {
		res := b.browser(t).get(path)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, path)
		loc := res.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, "/login"), "%s → %s", path, loc)
		if path != "/" {
			require.Contains(t, loc, "next="+url.QueryEscape(path))
		}
	}
	// htmx requests cannot follow a 303 to a full page; they are told where to go.
	req := httptest.NewRequest(http.MethodGet, "/flows", nil)
	req.Header.Set("HX-Request", "true")
	res := b.browser(t).do(req)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Equal(t, "/login?next=%2Fflows", res.Header.Get("HX-Redirect"))
}

func TestAPIWithoutKeyGetsProblemJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]string{
		"":                   "send an API key",
		"Basic Zm9vOmJhcg==": "must be `Bearer <key>`",
		"Bearer ":            "must be `Bearer <key>`",
		"Bearer cdk_nope":    "not valid",
	}
	for auth, detail := range cases {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/envs/dev/flows/x/messages", strings.NewReader(`{}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res := b.browser(t).do(req)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, auth)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		var p web.Problem
		require.NoError(t, json.Unmarshal([]byte(res.body), &p))
		require.Equal(t, 401, p.Status)
		require.Equal(t, "unauthorized", string(p.Code))
		require.Contains(t, p.Detail, detail)
		require.NotEmpty(t, p.RequestID)
		require.Equal(t, res.Header.Get("X-Request-ID"), p.RequestID)
		require.Empty(t, res.Header.Get("Set-Cookie"), "the API never starts a browser session")
	}
	// The OpenAPI document is public and valid JSON.
	res := b.browser(t).get("/api/v1/openapi.json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.body), &doc))
	require.Equal(t, "3.1.0", doc["openapi"])
}

func TestSignInRenewsTheSessionToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)

	br.get("/login")
	before := br.sessionToken()
	require.NotEmpty(t, before, "the sign-in form's CSRF token lives in a session")
	csrfBefore := br.csrf

	res := br.post("/login", url.Values{"email": {"ana@shop.example"}, "password": {password}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Equal(t, "/dashboard", res.Header.Get("Location"))
	signedIn := res
	after := br.sessionToken()
	require.NotEmpty(t, after)
	require.NotEqual(t, before, after, "sign-in must issue a new session token")

	res = br.get("/dashboard")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "ana@shop.example")
	require.NotEqual(t, csrfBefore, br.csrf, "sign-in must issue a new CSRF token")

	// The pre-sign-in token is dead: a fixated session gains nothing.
	old := b.browser(t)
	old.cookies["crossdock_session"] = &http.Cookie{Name: "crossdock_session", Value: before}
	require.Equal(t, http.StatusSeeOther, old.get("/dashboard").StatusCode)

	// Cookie flags, on the answer that set the new session (later pages
	// write the cookie again only when they change the session or push its
	// idle deadline on, at most once a minute).
	sc := signedIn.Header.Values("Set-Cookie")
	require.NotEmpty(t, sc)
	require.Contains(t, sc[0], "HttpOnly")
	require.Contains(t, strings.ToLower(sc[0]), "samesite=lax")
	require.NotContains(t, sc[0], "Secure", "plain-http base URL: cookie cannot be Secure")

	entries, err := account.AuditList(context.Background(), b.db, account.AuditFilter{Action: "session.login"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "ana@shop.example", entries[0].ActorEmail)
}

func TestSessionCookieIsSecureBehindHTTPS(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{baseURL: "https://crossdock.example.com"})
	res := b.browser(t).get("/login")
	require.Contains(t, res.Header.Get("Set-Cookie"), "secure")
}

func TestSignInErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "sam@shop.example", account.RoleSupport)
	br := b.browser(t)
	br.get("/login")
	res := br.post("/login", url.Values{"email": {"sam@shop.example"}, "password": {"not the password"}})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Contains(t, res.body, "The email or password is wrong.")
	require.Contains(t, res.body, `value="sam@shop.example"`, "the email is kept, the password is not")
	require.NotContains(t, res.body, "not the password")
	require.Equal(t, http.StatusSeeOther, br.get("/inbox").StatusCode, "still signed out")

	for range account.AccountFailureLimit {
		br.post("/login", url.Values{"email": {"sam@shop.example"}, "password": {"not the password"}})
	}
	res = br.post("/login", url.Values{"email": {"sam@shop.example"}, "password": {password}})
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Contains(t, res.body, "Too many failed sign-ins for this account")
	require.NotEmpty(t, res.Header.Get("Retry-After"))

	// An open redirect through next is refused.
	br2 := b.browser(t)
	b.user(t, "kim@shop.example", account.RoleViewer)
	br2.get("/login")
	res = br2.post("/login", url.Values{"email": {"kim@shop.example"}, "password": {password}, "next": {"//evil.example/x"}})
	require.Equal(t, "/", res.Header.Get("Location"))
}

func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "root@shop.example", account.RoleAdmin)
	br := b.browser(t)
	br.signIn("root@shop.example")
	br.get("/admin/users")

	form := func() url.Values {
		return url.Values{"email": {"new@shop.example"}, "role": {"viewer"}, "password": {password}}
	}
	noToken := form()
	noToken.Set("_csrf", "")
	res := br.post("/admin/users", noToken)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Contains(t, res.body, "reload the page")

	wrong := form()
	wrong.Set("_csrf", "forged")
	require.Equal(t, http.StatusForbidden, br.post("/admin/users", wrong).StatusCode)

	// Right token, but the browser says the form came from another site.
	req := httptest.NewRequest(http.MethodPost, "/admin/users", strings.NewReader(func() string { f := form(); f.Set("_csrf", br.csrf); return f.Encode() }()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, br.do(req).StatusCode)

	// Sign-in and sign-out are protected too.
	anon := b.browser(t)
	anon.get("/login")
	require.Equal(t, http.StatusForbidden, anon.post("/login", url.Values{"_csrf": {""}, "email": {"root@shop.example"}, "password": {password}}).StatusCode)
	require.Equal(t, http.StatusForbidden, br.post("/logout", url.Values{"_csrf": {""}}).StatusCode)

	_, err := account.UserByEmail(context.Background(), b.db, "new@shop.example")
	require.Error(t, err, "no refused request may have created the user")

	// The token in the htmx header works like the form field.
	br.get("/admin/users")
	req = httptest.NewRequest(http.MethodPost, "/admin/users", strings.NewReader(form().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", br.csrf)
	req.Header.Set("Origin", "http://example.com")
	require.Equal(t, http.StatusSeeOther, br.do(req).StatusCode)
}

func TestEveryRoleGetsWhatItShould(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pages := []string{"/flows", "/inbox", "/messages", "/environments", "/dashboard", "/admin/users", "/admin/audit"}
	for _, role := range account.Roles {
		b.user(t, string(role)+"@shop.example", role)
		br := b.browser(t)
		br.signIn(string(role) + "@shop.example")
		for _, path := range pages {
			want := http.StatusOK
			if strings.HasPrefix(path, "/admin") && role != account.RoleAdmin {
				want = http.StatusForbidden
			}
			res := br.get(path)
			require.Equal(t, want, res.StatusCode, "%s %s", role, path)
			if want == http.StatusForbidden {
				require.Contains(t, res.body, "needs the admin role")
			}
		}
		// A non-admin cannot change users either.
		if role != account.RoleAdmin {
			br.get("/flows")
			res := br.post("/admin/users", url.Values{"email": {"x-" + string(role) + "@shop.example"}, "role": {"admin"}, "password": {password}})
			require.Equal(t, http.StatusForbidden, res.StatusCode)
		}
		res := br.get("/flows")
		require.Equal(t, role == account.RoleAdmin, strings.Contains(res.body, `href="/admin/users"`), "admin navigation only for admins (%s)", role)
	}
}

func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "root@shop.example", account.RoleAdmin)
	admin := b.browser(t)
	admin.signIn("root@shop.example")
	admin.get("/admin/users")

	res := admin.post("/admin/users", url.Values{"email": {"not an email"}, "role": {"support"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "is not an email address")
	require.Contains(t, res.body, `value="not an email"`, "the form keeps what was typed")

	res = admin.post("/admin/users", url.Values{"email": {"sue@shop.example"}, "name": {"Sue <script>alert(1)</script>"}, "role": {"support"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	m := regexp.MustCompile(`Their password is <code class="mono">([^<]+)</code>`).FindStringSubmatch(res.body)
	require.NotNil(t, m, res.body)
	generated := m[1]
	require.NotContains(t, res.body, "<script>alert(1)</script>", "names are escaped")
	require.NotContains(t, admin.get("/admin/users").body, generated, "the generated password is shown once")

	res = admin.post("/admin/users", url.Values{"email": {"SUE@shop.example"}, "role": {"viewer"}, "password": {password}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.body, "already exists")

	sue, err := account.UserByEmail(context.Background(), b.db, "sue@shop.example")
	require.NoError(t, err)
	sueBrowser := b.browser(t)
	sueBrowser.get("/login")
	require.Equal(t, http.StatusSeeOther, sueBrowser.post("/login", url.Values{"email": {"sue@shop.example"}, "password": {generated}}).StatusCode)
	require.Equal(t, http.StatusOK, sueBrowser.get("/inbox").StatusCode)

	// Promote, then deactivate: her open session ends on its next request.
	editPath := "/admin/users/" + itoa(sue.ID)
	admin.get(editPath)
	res = admin.post(editPath, url.Values{"name": {"Sue"}, "role": {"analyst"}, "active": {"true"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Contains(t, admin.get("/admin/users").body, "Saved sue@shop.example.")
	admin.get(editPath)
	require.Equal(t, http.StatusSeeOther, admin.post(editPath, url.Values{"name": {"Sue"}, "role": {"analyst"}, "active": {"false"}}).StatusCode)
	require.Equal(t, http.StatusSeeOther, sueBrowser.get("/inbox").StatusCode)

	// The last admin cannot demote themselves.
	root, err := account.UserByEmail(context.Background(), b.db, "root@shop.example")
	require.NoError(t, err)
	rootPath := "/admin/users/" + itoa(root.ID)
	admin.get(rootPath)
	res = admin.post(rootPath, url.Values{"role": {"viewer"}, "active": {"true"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.body, "last active admin")

	// Password reset shows a new password once.
	admin.get(editPath)
	res = admin.post(editPath+"/password", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "New password for sue@shop.example")

	require.Equal(t, http.StatusNotFound, admin.get("/admin/users/999999").StatusCode)

	// Every change is audited with before and after, never with a password.
	audit := admin.get("/admin/audit?action=user.")
	require.Equal(t, http.StatusOK, audit.StatusCode)
	for _, a := range []string{"user.create", "user.update", "user.password_reset"} {
		require.Contains(t, audit.body, a)
	}
	require.NotContains(t, audit.body, generated)
	require.NotContains(t, audit.body, "password_hash")
	entries, err := account.AuditList(context.Background(), b.db, account.AuditFilter{Action: "user.update"})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Contains(t, string(entries[1].Before), `"Role": "support"`)
	require.Contains(t, string(entries[1].After), `"Role": "analyst"`)
	require.NotContains(t, b.logs.String(), generated, "secrets never reach the log")
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	br.get("/flows")
	token := br.sessionToken()
	res := br.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/login", res.Header.Get("Location"))
	require.Empty(t, br.sessionToken(), "the cookie is cleared")

	replay := b.browser(t)
	replay.cookies["crossdock_session"] = &http.Cookie{Name: "crossdock_session", Value: token}
	require.Equal(t, http.StatusSeeOther, replay.get("/flows").StatusCode, "a copied token is dead after sign-out")

	entries, err := account.AuditList(context.Background(), b.db, account.AuditFilter{Action: "session.logout"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	require.Equal(t, http.StatusOK, br.get("/healthz").StatusCode)
	require.Equal(t, http.StatusOK, br.get("/readyz").StatusCode)
	b.ready = errors.New("at version 3, this binary needs 4")
	res := br.get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Equal(t, "5", res.Header.Get("Retry-After"))
	require.NotContains(t, res.body, "version 3", "details go to the log, not to anonymous callers")
	require.Contains(t, b.logs.String(), "at version 3, this binary needs 4")

	// Request ids: ours, or the caller's when well-formed.
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-ID", "lb-1234")
	require.Equal(t, "lb-1234", br.do(req).Header.Get("X-Request-ID"))
	req = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-ID", "bad id\n with newline")
	require.NotContains(t, br.do(req).Header.Get("X-Request-ID"), " ")
}

func TestStaticAssetsAreHashedAndCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	page := br.get("/login")
	css := regexp.MustCompile(`href="(/static/css/app\.[0-9a-f]{10}\.css)"`).FindStringSubmatch(page.body)
	require.NotNil(t, css)
	res := br.get(css[1])
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Type"), "text/css")
	require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"))
	require.Equal(t, http.StatusNotFound, br.get("/static/css/app.css").StatusCode)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSignInTakesCredentialsOnlyFromTheBody: an email and password in the
// query string (where they would reach access logs, history and Referer)
// sign no one in.
func TestSignInTakesCredentialsOnlyFromTheBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "sam@shop.example", account.RoleSupport)
	br := b.browser(t)
	br.get("/login")
	q := url.Values{"email": {"sam@shop.example"}, "password": {password}}
	res := br.post("/login?"+q.Encode(), url.Values{})
	require.NotEqual(t, http.StatusSeeOther, res.StatusCode, "credentials in the query string must not sign in")
	require.Equal(t, http.StatusSeeOther, br.get("/inbox").StatusCode, "still signed out")
}
