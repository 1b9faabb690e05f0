package web_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// The security suite: every route × every principal, CSRF on every
// state-changing route, audit entries for every change, planted secrets that
// must never come back out, escaping of hostile text and SQL in filters.
// docs/reliability.md ("Security suite") records its counts.

// plantedSecret is put wherever Crossdock keeps a credential; no page, API
// answer, log line or export may ever contain it.
const plantedSecret = "PLANTED-s3cr3t-7f2c9e"

// Role sets, as routes.go names them. The table below is written out by
// hand from what each route should admit, not derived from the code under
// test, so a changed requireRole shows up as a failure here.
var (
	everyone   = account.Roles
	editors    = []account.Role{account.RoleAdmin, account.RoleAnalyst}
	triagers   = []account.Role{account.RoleAdmin, account.RoleSupport}
	promoting  = []account.Role{account.RoleAdmin, account.RoleAnalyst, account.RoleApprover}
	deciding   = []account.Role{account.RoleAdmin, account.RoleApprover}
	adminsOnly = []account.Role{account.RoleAdmin}
)

// keyAccess is what API keys get on a route.
type keyAccess int

const (
	keysNone      keyAccess = iota // browser route, or a route for people only: keys are refused
	keysManage                     // keys with the manage permission (where an analyst would be admitted)
	keysAny                        // any key (scoped to its environment by the handler)
	keysTrigger                    // any key of the route's environment; other environments 403
	keysOnlyNone                   // API route no key may use (people only): manage keys get 403 too
	keysSupport                    // keys with the support permission (the exception API), in their own environment
	keysConfigure                  // keys with the configure permission (the environment API), in their own environment
)

// rule classifies one route: who may use it and what an admitted caller
// gets.
type rule struct {
	// public routes need no sign-in; status is what everyone gets.
	public bool
	status int
	// signedIn, when set, is what a signed-in role gets from a public route.
	signedIn int
	// throttled is a status a public route may answer instead of status
	// once the same refused request has come too often.
	throttled int
	// roles are the signed-in roles admitted (the rest get 403 naming them).
	roles []account.Role
	keys  keyAccess
	// ok is the status an admitted GET must answer, when not 200.
	ok int
}

func r(roles []account.Role, keys keyAccess) rule { return rule{roles: roles, keys: keys} }

// routeTable lists every route the app registers. TestEveryRouteForEveryPrincipal
// fails on a route missing here, so a new route has to be classified.
func routeTable() map[string]rule {
	t := map[string]rule{
		// Operations and public documents.
		"GET /healthz":             {public: true, status: 200},
		"GET /readyz":              {public: true, status: 200},
		"GET /metrics":             {public: true, status: 404}, // no CROSSDOCK_METRICS_TOKEN in this server
		"GET /static/*":            {public: true, status: 200},
		"GET /api/openapi.json":    {public: true, status: 200},
		"GET /api/v1/openapi.json": {public: true, status: 200},
		// Signed in already: on to the start page.
		"GET /login": {public: true, status: 200, signedIn: 303},
		// Wrong (empty) credentials: the form again, whoever asks; after
		// account.AccountFailureLimit failures for the same (empty)
		// email, sign-in throttling answers 429.
		"POST /login": {public: true, status: 401, throttled: 429},
		// Signing out always ends where the sign-in form is.
		"POST /logout": {public: true, status: 303},

		// Triggers: keys only.
		"POST /api/v1/envs/:env/flows/:flow/messages":         {keys: keysTrigger},
		"POST /api/v1/envs/:env/flows/:flow/messages\\:batch": {keys: keysTrigger},

		// Management API.
		"GET /api/v1/messages":                       r(everyone, keysAny),
		"GET /api/v1/messages/:id":                   r(everyone, keysAny),
		"GET /api/v1/flows":                          r(everyone, keysManage),
		"GET /api/v1/flows/:slug":                    r(everyone, keysManage),
		"GET /api/v1/flows/:slug/draft":              r(everyone, keysManage),
		"PUT /api/v1/flows/:slug/draft":              r(editors, keysManage),
		"POST /api/v1/flows/:slug/publish":           r(editors, keysManage),
		"GET /api/v1/flows/:slug/versions":           r(everyone, keysManage),
		"GET /api/v1/flows/:slug/versions/:n<int>":   r(everyone, keysManage),
		"GET /api/v1/flows/:slug/diff":               r(everyone, keysManage),
		"POST /api/v1/flows/:slug/preview":           r(everyone, keysManage),
		"GET /api/v1/environments":                   r(everyone, keysManage),
		"GET /api/v1/flows/:slug/promotions/preview": r(everyone, keysManage),
		"POST /api/v1/flows/:slug/promotions":        r(promoting, keysManage),
		"GET /api/v1/flows/:slug/deployments":        r(everyone, keysManage),
		"POST /api/v1/flows/:slug/rollback":          r(promoting, keysManage),
		"GET /api/v1/promotions":                     r(everyone, keysManage),
		"POST /api/v1/promotions/:id<int>/approve":   r(deciding, keysOnlyNone),
		"POST /api/v1/promotions/:id<int>/reject":    r(deciding, keysOnlyNone),
		"GET /api/v1/target-kinds":                   r(adminsOnly, keysConfigure),
		"GET /api/v1/environments/:env/targets":      r(adminsOnly, keysConfigure),
		// erp-sales-orders is configured in prod only: in dev, who may
		// read its configuration learns that there is none.
		"GET /api/v1/environments/:env/targets/:target":     {roles: adminsOnly, keys: keysConfigure, ok: 404},
		"PUT /api/v1/environments/:env/targets/:target":     r(adminsOnly, keysConfigure),
		"DELETE /api/v1/environments/:env/targets/:target":  r(adminsOnly, keysConfigure),
		"GET /api/v1/environments/:env/variables":           r(adminsOnly, keysConfigure),
		"PUT /api/v1/environments/:env/variables/:name":     r(adminsOnly, keysConfigure),
		"DELETE /api/v1/environments/:env/variables/:name":  r(adminsOnly, keysConfigure),
		"GET /api/v1/environments/:env/retention":           r(adminsOnly, keysConfigure),
		"PUT /api/v1/environments/:env/retention":           r(adminsOnly, keysConfigure),
		"GET /api/v1/environments/:env/notifications":       r(adminsOnly, keysConfigure),
		"PUT /api/v1/environments/:env/notifications":       r(adminsOnly, keysConfigure),
		"DELETE /api/v1/environments/:env/notifications":    r(adminsOnly, keysConfigure),
		"GET /api/v1/environments/:env/flows/:slug/targets": r(adminsOnly, keysConfigure),
		"PUT /api/v1/environments/:env/flows/:slug/targets": r(adminsOnly, keysConfigure),
		"GET /api/v1/bundle":                                r(everyone, keysManage),
		"POST /api/v1/bundle":                               r(editors, keysManage),
		"GET /api/v1/exceptions":                            r(everyone, keysSupport),
		"GET /api/v1/exceptions/:id":                        r(everyone, keysSupport),
		"POST /api/v1/exceptions/:id/retry":                 r(triagers, keysSupport),
		"POST /api/v1/exceptions/:id/replay":                r(triagers, keysSupport),
		"POST /api/v1/exceptions/:id/replay/preview":        r(everyone, keysSupport),
		"POST /api/v1/exceptions/:id/resolve":               r(triagers, keysSupport),
		"POST /api/v1/exceptions/:id/ignore":                r(triagers, keysSupport),
		"POST /api/v1/exceptions/:id/assign":                r(triagers, keysSupport),
		"GET /api/v1/exception-groups":                      r(everyone, keysSupport),
		"GET /api/v1/exception-groups/:id":                  r(everyone, keysSupport),
		"POST /api/v1/bulk-actions":                         r(triagers, keysSupport),
		"GET /api/v1/bulk-actions/:id<int>":                 r(everyone, keysSupport),

		// Browser pages.
		"GET /":                                          {roles: everyone, ok: 303},
		"GET /docs/api":                                  r(everyone, keysNone),
		"GET /account/password":                          r(everyone, keysNone),
		"POST /account/password":                         r(everyone, keysNone),
		"GET /flows":                                     r(everyone, keysNone),
		"POST /flows":                                    r(editors, keysNone),
		"GET /flows/:slug":                               r(everyone, keysNone),
		"POST /flows/:slug/preview":                      r(everyone, keysNone),
		"POST /flows/:slug/draft":                        r(editors, keysNone),
		"POST /flows/:slug/draft/ops":                    r(editors, keysNone),
		"POST /flows/:slug/samples":                      r(editors, keysNone),
		"POST /flows/:slug/samples/rename":               r(editors, keysNone),
		"POST /flows/:slug/samples/delete":               r(editors, keysNone),
		"POST /flows/:slug/tests":                        r(editors, keysNone),
		"POST /flows/:slug/tests/run":                    r(everyone, keysNone),
		"POST /flows/:slug/tests/accept":                 r(editors, keysNone),
		"POST /flows/:slug/tests/edit":                   r(editors, keysNone),
		"POST /flows/:slug/tests/rename":                 r(editors, keysNone),
		"POST /flows/:slug/tests/delete":                 r(editors, keysNone),
		"POST /flows/:slug/publish":                      r(editors, keysNone),
		"POST /flows/:slug/import":                       r(editors, keysNone),
		"GET /flows/:slug/definition.json":               r(everyone, keysNone),
		"POST /flows/:slug/lookups":                      r(editors, keysNone),
		"GET /flows/:slug/lookups/:name":                 r(everyone, keysNone),
		"POST /flows/:slug/lookups/:name":                r(editors, keysNone),
		"GET /flows/:slug/lookups/:name/csv":             r(everyone, keysNone),
		"POST /flows/:slug/lookups/:name/csv":            r(editors, keysNone),
		"GET /flows/:slug/versions":                      r(everyone, keysNone),
		"POST /flows/:slug/versions/:n<int>/restore":     r(editors, keysNone),
		"GET /inbox":                                     r(everyone, keysNone),
		"POST /inbox/bulk":                               r(triagers, keysNone),
		"GET /inbox/bulk/:id<int>":                       r(everyone, keysNone),
		"GET /inbox/:id<int>":                            r(everyone, keysNone),
		"POST /inbox/:id<int>/retry":                     r(triagers, keysNone),
		"POST /inbox/:id<int>/preview":                   r(everyone, keysNone),
		"POST /inbox/:id<int>/replay":                    r(triagers, keysNone),
		"POST /inbox/:id<int>/close":                     r(triagers, keysNone),
		"POST /inbox/:id<int>/assign":                    r(triagers, keysNone),
		"POST /inbox/:id<int>/comments":                  r(triagers, keysNone),
		"POST /inbox/:id<int>/lookup-row":                r(editors, keysNone),
		"GET /messages/:id/payload.json":                 r(everyone, keysNone),
		"GET /messages":                                  r(everyone, keysNone),
		"GET /messages/:id":                              r(everyone, keysNone),
		"POST /messages/:id/sample":                      r(editors, keysNone),
		"GET /environments":                              r(everyone, keysNone),
		"GET /captures":                                  r(everyone, keysNone),
		"POST /environments/:env/deploy":                 r(promoting, keysNone),
		"GET /environments/:env/targets":                 r(adminsOnly, keysNone),
		"GET /environments/:env/targets/:target":         r(adminsOnly, keysNone),
		"POST /environments/:env/targets/:target":        r(adminsOnly, keysNone),
		"POST /environments/:env/targets/:target/test":   r(adminsOnly, keysNone),
		"GET /environments/:env/retention":               r(adminsOnly, keysNone),
		"POST /environments/:env/retention":              r(adminsOnly, keysNone),
		"GET /dashboard":                                 r(everyone, keysNone),
		"POST /environments":                             r(adminsOnly, keysNone),
		"POST /environments/:env/settings":               r(adminsOnly, keysNone),
		"POST /environments/:env/variables":              r(adminsOnly, keysNone),
		"POST /environments/:env/variables/:name/delete": r(adminsOnly, keysNone),
		"GET /environments/:env/flows/:slug":             r(everyone, keysNone),
		"POST /environments/:env/flows/:slug/rollback":   r(promoting, keysNone),
		"GET /promote":                                   r(promoting, keysNone),
		"POST /promote":                                  r(promoting, keysNone),
		"GET /promotions":                                r(everyone, keysNone),
		"GET /promotions/:id<int>":                       r(everyone, keysNone),
		"POST /promotions/:id<int>/approve":              r(deciding, keysNone),
		"POST /promotions/:id<int>/reject":               r(deciding, keysNone),
		"GET /bundles":                                   r(everyone, keysNone),
		"GET /bundles/export":                            r(everyone, keysNone),
		"POST /bundles/import":                           r(editors, keysNone),
		"POST /environments/:env/notifications":          r(adminsOnly, keysNone),
		"POST /environments/:env/notifications/delete":   r(adminsOnly, keysNone),
		"GET /admin/":                                    {roles: adminsOnly, ok: 303},
		"GET /admin/users":                               r(adminsOnly, keysNone),
		"POST /admin/users":                              r(adminsOnly, keysNone),
		"GET /admin/users/:id<int>":                      r(adminsOnly, keysNone),
		"POST /admin/users/:id<int>":                     r(adminsOnly, keysNone),
		"POST /admin/users/:id<int>/password":            r(adminsOnly, keysNone),
		"GET /admin/audit":                               r(adminsOnly, keysNone),
		"GET /admin/api-keys":                            r(adminsOnly, keysNone),
		"POST /admin/api-keys":                           r(adminsOnly, keysNone),
		"POST /admin/api-keys/:prefix/revoke":            r(adminsOnly, keysNone),
	}
	// River's UI is mounted for the methods it uses (routes.go).
	for _, m := range []string{"GET", "POST", "PUT", "PATCH"} {
		t[m+" /admin/river"] = r(adminsOnly, keysNone)
		t[m+" /admin/river/*"] = r(adminsOnly, keysNone)
	}
	return t
}

// principal is who calls: nobody, a signed-in role, or an API key.
type principal struct {
	name string
	role account.Role // signed-in role, or ""
	key  string       // API key token, or ""
	// keyKind says which key: manage (dev), post (dev), prod (post, other
	// environment), manage prod (manage, other environment), support (dev),
	// support prod (support, other environment), revoked; "… other flow"
	// keys are dev's, limited to a flow other than the fixture's.
	keyKind string
}

// secFixture is a server with one of everything a route can name: a flow
// deployed to dev with a lookup table, two mapping exceptions in a group, a
// bulk action, a pending promotion request to prod, a target in prod whose
// bearer token is the planted secret, a user to administer and API keys.
type secFixture struct {
	*triggerBundle
	sealer                         *secret.Sealer
	sealKey                        []byte // CROSSDOCK_SECRET_KEY
	exceptionID, groupID           int64
	bulkID, promotionID, userID    int64
	messageID                      string
	manageKey, revokedKey          string
	prodManageKey                  string
	supportKey, prodSupportKey     string
	configureKey, prodConfigureKey string
	// Keys of dev limited to the flow not-deployed: the fixture's
	// messages, exceptions and promotions (shop-orders) are not theirs.
	otherFlowManageKey, otherFlowSupportKey string
	revokablePrefix                         string
	asset                                   string
}

func setupSecurity(t *testing.T) *secFixture {
	t.Helper()
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	river := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("River UI stand-in")) })
	tb, items := setupInbox(t, setupOpts{sealer: sealer, riverUI: river})
	ctx := context.Background()
	f := &secFixture{triggerBundle: tb, sealer: sealer, sealKey: key}
	f.exceptionID, f.groupID, f.messageID = items[0].ID, items[0].GroupID, items[0].MessageID.String()

	_, f.manageKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "ci", Environment: "dev", CanManage: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.prodManageKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "ci prod", Environment: "prod", CanManage: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.supportKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "helpdesk", Environment: "dev", CanSupport: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.configureKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "config ci", Environment: "dev", CanConfigure: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.prodConfigureKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "config ci prod", Environment: "prod", CanConfigure: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.prodSupportKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "helpdesk prod", Environment: "prod", CanSupport: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.otherFlowManageKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "ci other flow", Environment: "dev", Flows: []string{"not-deployed"}, CanManage: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	_, f.otherFlowSupportKey, err = account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "helpdesk other flow", Environment: "dev", Flows: []string{"not-deployed"}, CanSupport: true, RatePerMinute: 100000}, account.SystemActor)
	require.NoError(t, err)
	revoked, revokedToken, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "old", Environment: "dev", CanManage: true}, account.SystemActor)
	require.NoError(t, err)
	f.revokedKey = revokedToken
	require.NoError(t, account.APIKeyRevoke(ctx, tb.db, revoked.Prefix, account.SystemActor))
	revokable, _, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "to revoke", Environment: "test"}, account.SystemActor)
	require.NoError(t, err)
	f.revokablePrefix = revokable.Prefix

	u := tb.user(t, "target@shop.example", account.RoleViewer)
	f.userID = u.ID

	// Prod: the ERP target with the planted bearer token, and the
	// variable the mapping needs, so the gates pass and a promotion waits
	// for approval.
	prod, err := release.EnvironmentByName(ctx, tb.db, "prod")
	require.NoError(t, err)
	erp := release.DefaultTargetConfig(prod.ID, "erp-sales-orders")
	erp.URLTemplate = "https://erp.prod.example/orders"
	erp.Auth, erp.Secret = release.AuthBearer, plantedSecret
	_, err = release.TargetConfigPut(ctx, tb.db, sealer, erp, mappings.Editor{Email: "system"})
	require.NoError(t, err)
	require.NoError(t, release.VariableSet(ctx, tb.db, prod.ID, "ERP_COMPANY", "1000"))
	flow, err := mappings.FlowBySlug(ctx, tb.db, "shop-orders")
	require.NoError(t, err)
	requester := release.User(account.User{Email: "requester@shop.example", Role: account.RoleAnalyst}, "")
	res, err := release.Promote(ctx, tb.db, requester, release.Promotion{Flow: flow, Environment: prod, Version: 1, Reason: "go live", Kinds: pipeline.Transports(tb.db, nil)})
	require.NoError(t, err)
	require.NotNil(t, res.Request, "prod is protected: the promotion waits for approval")
	f.promotionID = res.Request.ID

	bulk, _, err := inbox.BulkStart(ctx, tb.db, tb.queue, inbox.BulkRequest{RequestKey: "fixture", Action: inbox.BulkResolve,
		ExceptionIDs: []int64{items[1].ID}, Reason: "fixture", Actor: account.SystemActor})
	require.NoError(t, err)
	f.bulkID = bulk.ID
	// Let the bulk job finish, so that the tests see a database that
	// changes only by their own requests.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := inbox.BulkGet(ctx, tb.db, bulk.ID)
		require.NoError(t, err)
		if got.Status == "done" || got.Status == "failed" {
			break
		}
		require.True(t, time.Now().Before(deadline), "bulk action %d still %s", bulk.ID, got.Status)
		time.Sleep(50 * time.Millisecond)
	}

	page := tb.browser(t).get("/login")
	m := regexp.MustCompile(`href="(/static/css/app\.[0-9a-f]{10}\.css)"`).FindStringSubmatch(page.body)
	require.NotNil(t, m)
	f.asset = m[1]
	return f
}

// principals signs in one browser per role; the key principals carry a
// token instead.
func (f *secFixture) principals(t *testing.T) []principal {
	ps := []principal{{name: "anonymous"}}
	for _, role := range account.Roles {
		email := "sec-" + string(role) + "@shop.example"
		f.user(t, email, role)
		ps = append(ps, principal{name: string(role), role: role})
	}
	return append(ps,
		principal{name: "key manage dev", key: f.manageKey, keyKind: "manage"},
		principal{name: "key post dev", key: f.devKey, keyKind: "post"},
		principal{name: "key post prod", key: f.prodKey, keyKind: "prod"},
		principal{name: "key manage prod", key: f.prodManageKey, keyKind: "manage prod"},
		principal{name: "key support dev", key: f.supportKey, keyKind: "support"},
		principal{name: "key support prod", key: f.prodSupportKey, keyKind: "support prod"},
		principal{name: "key configure dev", key: f.configureKey, keyKind: "configure"},
		principal{name: "key configure prod", key: f.prodConfigureKey, keyKind: "configure prod"},
		principal{name: "key post dev other flow", key: f.otherFlowKey, keyKind: "post other flow"},
		principal{name: "key manage dev other flow", key: f.otherFlowManageKey, keyKind: "manage other flow"},
		principal{name: "key support dev other flow", key: f.otherFlowSupportKey, keyKind: "support other flow"},
		principal{name: "key revoked", key: f.revokedKey, keyKind: "revoked"},
	)
}

// path fills a route pattern's parameters with the fixture's objects.
func (f *secFixture) path(pattern string) string {
	p := strings.ReplaceAll(pattern, `\:`, ":")
	repl := []struct{ prefix, param, value string }{
		{"/api/v1/exception-groups/", ":id", itoa(f.groupID)},
		{"/api/v1/exceptions/", ":id", itoa(f.exceptionID)},
		{"/api/v1/messages/", ":id", f.messageID},
		{"/messages/", ":id", f.messageID},
		{"/inbox/bulk/", ":id<int>", itoa(f.bulkID)},
		{"/api/v1/bulk-actions/", ":id<int>", itoa(f.bulkID)},
		{"/inbox/", ":id<int>", itoa(f.exceptionID)},
		{"/admin/users/", ":id<int>", itoa(f.userID)},
		{"/promotions/", ":id<int>", itoa(f.promotionID)},
		{"/api/v1/promotions/", ":id<int>", itoa(f.promotionID)},
		{"/environments/", ":target", "erp-sales-orders"},
		{"/api/v1/environments/", ":target", "erp-sales-orders"},
		{"/api/v1/environments/", ":name", "NOT_SET"},
		{"/environments/", ":name", "ERP_COMPANY"},
		{"/flows/", ":name", "plant"},
		{"/admin/api-keys/", ":prefix", f.revokablePrefix},
	}
	for _, rp := range repl {
		if strings.HasPrefix(p, rp.prefix) {
			p = strings.Replace(p, rp.param, rp.value, 1)
		}
	}
	p = strings.NewReplacer(":slug", "shop-orders", ":flow", "shop-orders", ":n<int>", "1").Replace(p)
	if strings.HasPrefix(p, "/environments/:env/") && strings.Contains(p, "ERP_COMPANY") {
		p = strings.Replace(p, ":env", "prod", 1) // the variable lives in prod
	}
	p = strings.Replace(p, ":env", "dev", 1)
	if p == "/static/*" {
		p = f.asset
	}
	p = strings.Replace(p, "/admin/river/*", "/admin/river/queues", 1)
	if strings.Contains(p, ":") && !strings.HasSuffix(p, ":batch") {
		panic("unfilled parameter in " + pattern + ": " + p)
	}
	// Pages and calls that need a question to answer it.
	queries := map[string]string{
		"/api/v1/bundle":                               "flow=shop-orders",
		"/api/v1/flows/shop-orders/deployments":        "env=dev",
		"/environments/dev/targets":                    "name=erp-sales-orders",
		"/bundles/export":                              "flow=shop-orders",
		"/api/v1/flows/shop-orders/diff":               "a=1&b=draft",
		"/api/v1/flows/shop-orders/promotions/preview": "to=test",
		"/promote": "flow=shop-orders&to=test",
	}
	if q, ok := queries[p]; ok {
		p += "?" + q
	}
	return p
}

type route struct{ method, pattern string }

func (r route) String() string { return r.method + " " + r.pattern }

// registeredRoutes lists what the app serves, HEAD (fiber's automatic twin
// of every GET) left out.
func registeredRoutes(t *testing.T, f *secFixture) []route {
	var out []route
	for _, rt := range f.app.GetRoutes(true) {
		if rt.Method == http.MethodHead {
			continue
		}
		out = append(out, route{rt.Method, rt.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	// Signing out ends the principal's session: it goes last.
	slices.SortStableFunc(out, func(a, b route) int {
		return boolInt(a.pattern == "/logout") - boolInt(b.pattern == "/logout")
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// caller is a principal's client: a signed-in browser, or a key.
type caller struct {
	p  principal
	br *browser
}

func (f *secFixture) caller(t *testing.T, p principal) *caller {
	br := f.browser(t)
	if p.role != "" {
		br.signIn("sec-" + string(p.role) + "@shop.example")
		// Signing in starts a new session with a new CSRF token; a page
		// gives it, as the browser has it after the redirect.
		br.get("/account/password")
	} else if p.key == "" {
		br.get("/login") // an anonymous session with a CSRF token, so that CSRF is not what refuses
	}
	return &caller{p: p, br: br}
}

// call sends method path as this principal would: a browser with its CSRF
// token (form or, for the API, the header), a key with its bearer token.
func (c *caller) call(method, path string) response {
	if c.p.key != "" {
		// A system with a key keeps no cookies: every call stands alone.
		c.br.cookies, c.br.csrf = map[string]*http.Cookie{}, ""
	}
	var body string
	ctype := "application/x-www-form-urlencoded"
	api := strings.HasPrefix(path, "/api/")
	if api {
		body, ctype = "{}", "application/json"
	} else if method != http.MethodGet {
		body = "_csrf=" + c.br.csrf
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if method != http.MethodGet {
		req.Header.Set("Content-Type", ctype)
		if c.p.key == "" {
			req.Header.Set("X-CSRF-Token", c.br.csrf)
		}
	}
	if c.p.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.p.key)
	}
	return c.br.do(req)
}

// expect says what principal p must get from rt, and why.
func expect(rt route, ru rule, p principal) (want int, why string) {
	api := strings.HasPrefix(rt.pattern, "/api/")
	admitted := func() (int, string) {
		if ru.ok != 0 && rt.method == http.MethodGet {
			return ru.ok, "admitted"
		}
		if rt.method == http.MethodGet {
			return 200, "admitted"
		}
		return 0, "admitted" // any status but 401, 403 and 5xx
	}
	switch {
	case p.key != "" && !api && rt.method != http.MethodGet:
		// Browser routes ignore keys, and a caller without a session has
		// no CSRF token: refused before anything else, public or not.
		return 403, "CSRF: a key has no session"
	case ru.public && ru.signedIn != 0 && p.role != "":
		return ru.signedIn, "public, signed in"
	case ru.public:
		return ru.status, "public"
	case p.key != "" && !api:
		// Browser routes ignore keys: the caller is anonymous.
		return anonymous(rt)
	case p.key != "":
		if p.keyKind == "revoked" {
			return 401, "revoked key"
		}
		otherFlow := strings.HasSuffix(p.keyKind, "other flow")
		switch ru.keys {
		case keysTrigger:
			if strings.HasSuffix(p.keyKind, "prod") {
				return 403, "key of another environment"
			}
			if otherFlow {
				return 403, "key limited to another flow"
			}
			return 0, "admitted"
		case keysAny:
			if strings.HasSuffix(p.keyKind, "prod") && strings.Contains(rt.pattern, ":id") {
				return 404, "another environment's message is not found"
			}
			if otherFlow && strings.Contains(rt.pattern, ":id") {
				return 404, "another flow's message is not found"
			}
			return admitted()
		case keysManage:
			switch {
			case p.keyKind == "manage other flow" && (strings.Contains(rt.pattern, ":slug") || rt.pattern == "/api/v1/bundle" && rt.method == http.MethodGet):
				return 403, "the flow in the path is not the key's"
			case p.keyKind == "manage" || p.keyKind == "manage prod" || p.keyKind == "manage other flow":
				return admitted()
			}
			return 403, "key without the manage permission"
		case keysConfigure:
			switch {
			case p.keyKind == "configure prod" && strings.Contains(rt.pattern, ":env"):
				return 403, "the environment in the path is not the key's"
			case p.keyKind == "configure" || p.keyKind == "configure prod":
				return admitted()
			}
			return 403, "key without the configure permission"
		case keysSupport:
			switch {
			case p.keyKind == "support prod" && strings.Contains(rt.pattern, ":id"):
				// The fixture's exceptions are dev's: another
				// environment's key does not even learn they exist.
				return 404, "another environment's exception is not found"
			case p.keyKind == "support other flow" && strings.Contains(rt.pattern, ":id"):
				return 404, "another flow's exception is not found"
			case p.keyKind == "support" || p.keyKind == "support prod" || p.keyKind == "support other flow":
				return admitted()
			}
			return 403, "key without the support permission"
		default:
			return 403, "not for API keys"
		}
	case p.role == "":
		if api {
			return 401, "anonymous API call"
		}
		return anonymous(rt)
	case ru.keys == keysTrigger:
		return 401, "triggers need a key, not a session"
	case slices.Contains(ru.roles, p.role):
		return admitted()
	default:
		return 403, "role not admitted"
	}
}

func anonymous(rt route) (int, string) {
	if rt.method == http.MethodGet {
		return 303, "anonymous page view goes to sign-in"
	}
	return 401, "anonymous change"
}

func roleNames(roles []account.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, " or ")
}

// TestEveryRouteForEveryPrincipal calls every registered route as every
// principal — nobody, each role, a manage key, a posting key, a key of
// another environment, a revoked key — and checks the exact answer. A route
// the table does not list fails the test: it must be classified.
func TestEveryRouteForEveryPrincipal(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	table := routeTable()
	routes := registeredRoutes(t, f)
	seen := map[string]bool{}
	for _, rt := range routes {
		_, ok := table[rt.String()]
		require.True(t, ok, "route %s is registered but not classified in routeTable (web/security_test.go): say who may use it", rt)
		seen[rt.String()] = true
	}
	for k := range table {
		require.True(t, seen[k], "routeTable lists %s, which the app does not register", k)
	}

	checks := 0
	principals := f.principals(t)
	for _, p := range principals {
		c := f.caller(t, p)
		for _, rt := range routes {
			ru := table[rt.String()]
			want, why := expect(rt, ru, p)
			path := f.path(rt.pattern)
			res := c.call(rt.method, path)
			checks++
			msg := fmt.Sprintf("%s as %s (%s): %d %s", rt, p.name, why, res.StatusCode, bodyGist(res.body))
			assert.Less(t, res.StatusCode, 500, msg)
			switch {
			case want == 0:
				assert.NotContains(t, []int{401, 403}, res.StatusCode, msg)
			case ru.throttled != 0:
				assert.Contains(t, []int{want, ru.throttled}, res.StatusCode, msg)
			default:
				assert.Equal(t, want, res.StatusCode, msg)
			}
			switch {
			case want == 303 && why != "admitted" && !ru.public:
				assert.True(t, strings.HasPrefix(res.Header.Get("Location"), "/login"), msg)
			case want == 403 && why == "role not admitted":
				assert.Contains(t, res.body, "needs the "+roleNames(ru.roles)+" role", msg)
			case (want == 401 || want == 403) && strings.HasPrefix(path, "/api/"):
				assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), msg)
			}
			if strings.HasSuffix(p.keyKind, "other flow") && res.StatusCode < 300 && !ru.public {
				// What a key limited to another flow is given names
				// nothing of the fixture's flow. (Public routes answer
				// everyone alike; the OpenAPI document's recorded
				// examples name a flow shop-orders of their own.)
				assert.NotContains(t, res.body, "shop-orders", msg)
			}
			if p.role != "" && rt.pattern != "/logout" && rt.pattern != "/login" {
				// Nothing above may have ended the session (a handler
				// destroying it would hide the rest of the table).
				require.NotEmpty(t, c.br.sessionToken(), msg)
			}
		}
	}
	t.Logf("security matrix: %d routes × %d principals = %d checks", len(routes), len(principals), checks)
}

var (
	pageBody = regexp.MustCompile(`(?s)<body[^>]*>(.*)</body>`)
	anyTag   = regexp.MustCompile(`(?s)<[^>]+>`)
)

// bodyGist is the part of an answer worth reading in a failure: a page's
// text, or the start of anything else.
func bodyGist(body string) string {
	if m := pageBody.FindStringSubmatch(body); m != nil {
		body = anyTag.ReplaceAllString(m[1], " ")
	}
	body = strings.Join(strings.Fields(body), " ")
	if len(body) > 400 {
		body = body[:400] + "…"
	}
	return body
}

// TestAPIKeysReadOnlyTheirEnvironmentsExceptions: exceptions carry payload
// values in their errors, so a key reads only its own environment's, as it
// reads only its own environment's messages.
func TestAPIKeysReadOnlyTheirEnvironmentsExceptions(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	get := func(key, path string) response {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		return f.browser(t).do(req)
	}
	for _, path := range []string{"/api/v1/exceptions", "/api/v1/exception-groups"} {
		dev := get(f.supportKey, path)
		require.Equal(t, http.StatusOK, dev.StatusCode, dev.body)
		require.Contains(t, dev.body, `"environment":"dev"`, path)
		prod := get(f.prodSupportKey, path)
		require.Equal(t, http.StatusOK, prod.StatusCode, prod.body)
		require.NotContains(t, prod.body, `"environment":"dev"`, "%s: a prod key lists dev's exceptions", path)
		asked := get(f.prodSupportKey, path+"?env=dev")
		require.Equal(t, http.StatusForbidden, asked.StatusCode, asked.body)
		require.Contains(t, asked.body, "sees only the exceptions of environment prod")
		// A key without the support permission reads no exceptions at all.
		manage := get(f.manageKey, path)
		require.Equal(t, http.StatusForbidden, manage.StatusCode, manage.body)
		require.Contains(t, manage.body, "no support permission")
	}
}
