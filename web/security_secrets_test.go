package web_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/store"
)

var apiKeyToken = regexp.MustCompile(`cdk_[a-z0-9-]+_[0-9a-f]{8}_([A-Za-z0-9_-]{43})`)

// TestPlantedSecretsNeverComeBackOut plants secrets everywhere Crossdock
// keeps one — target credentials of each kind (bearer, basic, API-key
// header), a webhook URL, an API key's token, a user's password and the
// secret key that seals them — makes a target echo its credentials back in
// an error, then reads every page and API answer an admin and a manage key
// can GET, the delivery attempts in the inbox, the exports and the log, and
// finds none of them.
func TestPlantedSecretsNeverComeBackOut(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := context.Background()
	f.user(t, "root@shop.example", account.RoleAdmin)
	admin := f.browser(t)
	admin.signIn("root@shop.example")

	// A target that refuses every delivery and echoes the credentials it
	// was sent, as a careless error page would.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error": "bad order", "you sent": "` + r.Header.Get("X-Api-Key") + ` ` + r.Header.Get("Authorization") + `"}`))
	}))
	t.Cleanup(echo.Close)

	admin.get("/environments/dev/targets/erp-sales-orders")
	res := admin.post("/environments/dev/targets/erp-sales-orders", url.Values{"url": {echo.URL + "/orders"}, "auth": {"header"},
		"auth_header_name": {"X-Api-Key"}, "secret": {plantedSecret}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
	admin.get("/environments/test/targets/erp-sales-orders")
	res = admin.post("/environments/test/targets/erp-sales-orders", url.Values{"url": {"https://erp.test.example/orders"}, "auth": {"basic"},
		"username": {"crossdock"}, "secret": {plantedSecret}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
	res = admin.post("/environments/dev/variables", url.Values{"name": {"ERP_COMPANY"}, "value": {"1000"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))
	res = admin.post("/environments/dev/notifications", url.Values{"url": {"https://hooks.example/services/" + plantedSecret}, "threshold": {"5"}, "window": {"10m"}, "enabled": {"on"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, bodyGist(res.body))

	// An API key: its token is shown once, on the page that creates it.
	admin.get("/admin/api-keys")
	res = admin.post("/admin/api-keys", url.Values{"name": {"planted"}, "environment": {"dev"}, "manage": {"on"}})
	m := apiKeyToken.FindStringSubmatch(res.body)
	require.NotNil(t, m, bodyGist(res.body))
	keyToken, keySecret := m[0], m[1]

	// A user whose password is a planted secret, who signs in with it
	// and once with a wrong one.
	userPassword := plantedSecret + "-password"
	admin.get("/admin/users")
	res = admin.post("/admin/users", url.Values{"email": {"pat@shop.example"}, "role": {"support"}, "password": {userPassword}})
	require.Less(t, res.StatusCode, 400, bodyGist(res.body))
	pat := f.browser(t)
	pat.get("/login")
	require.Equal(t, http.StatusUnauthorized, pat.post("/login", url.Values{"email": {"pat@shop.example"}, "password": {userPassword + "x"}}).StatusCode)
	require.Equal(t, http.StatusSeeOther, pat.post("/login", url.Values{"email": {"pat@shop.example"}, "password": {userPassword}}).StatusCode)

	// An order delivered to the echoing target: a delivery exception whose
	// attempt recorded the target's answer.
	res, _ = f.post(t, devPath, f.devKey, "application/json", f.sample, "Idempotency-Key", "echo-order")
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	var deliveryEx inbox.Item
	deadline := time.Now().Add(30 * time.Second)
	for deliveryEx.ID == 0 {
		items, _, err := inbox.List(ctx, f.db, inbox.Filter{Kind: store.ExceptionDelivery})
		require.NoError(t, err)
		if len(items) > 0 {
			deliveryEx = items[0]
		}
		if !time.Now().Before(deadline) {
			all, _, _ := inbox.List(ctx, f.db, inbox.Filter{Text: "echo-order"})
			var st string
			_ = f.db.QueryRow(ctx, `select status from messages where idempotency_key = 'echo-order'`).Scan(&st)
			t.Fatalf("no delivery exception; message %s; its exceptions: %+v", st, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var excerpt string
	require.NoError(t, f.db.QueryRow(ctx, `select response_excerpt from delivery_attempts order by started_at desc limit 1`).Scan(&excerpt))
	require.Contains(t, excerpt, "bad order", "the attempt kept the target's answer")

	forbidden := map[string]string{
		"the planted target/webhook secret": plantedSecret,
		"the API key's secret":              keySecret,
		"the API key's token":               keyToken,
		"the sealing key (hex)":             hex.EncodeToString(f.sealKey),
		"the sealing key (base64)":          base64.StdEncoding.EncodeToString(f.sealKey),
		"the sealing key (base64url)":       base64.RawURLEncoding.EncodeToString(f.sealKey),
	}
	check := func(where, text string) {
		t.Helper()
		for what, s := range forbidden {
			require.NotContains(t, text, s, "%s shows %s", where, what)
		}
	}

	// Every page and API answer an admin can GET, then every API answer a
	// manage key can GET, plus the delivery exception's own pages.
	table := routeTable()
	var paths []string
	for _, rt := range registeredRoutes(t, f) {
		if rt.method == http.MethodGet && !table[rt.String()].public {
			paths = append(paths, f.path(rt.pattern))
		}
	}
	exID, msgID := itoa(deliveryEx.ID), deliveryEx.MessageID.String()
	paths = append(paths, "/inbox/"+exID, "/messages/"+msgID, "/messages/"+msgID+"/payload.json", "/api/v1/exceptions/"+exID,
		"/api/v1/messages/"+msgID, "/inbox?kind=delivery", "/admin/audit?action=target.", "/admin/audit?action=notifications.",
		"/admin/audit?action=apikey.", "/admin/audit?action=user.", "/environments/dev/targets/erp-sales-orders",
		"/environments/test/targets/erp-sales-orders", "/environments/prod/targets/erp-sales-orders")
	crawled := 0
	for _, p := range paths {
		res := admin.get(p)
		require.Less(t, res.StatusCode, 400, "%s: %s", p, bodyGist(res.body))
		check("GET "+p+" (admin)", res.body+strings.Join(res.Header.Values("Location"), " "))
		crawled++
		if strings.HasPrefix(p, "/api/") {
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Header.Set("Authorization", "Bearer "+f.manageKey)
			res := f.browser(t).do(req)
			check("GET "+p+" (key)", res.body)
			crawled++
		}
	}
	inbox := admin.get("/inbox/" + exID)
	require.Contains(t, inbox.body, "bad order", "the inbox shows the attempt's answer, scrubbed")
	check("the log", f.logs.String())
	t.Logf("secrets: %d answers and the log searched for %d planted secrets", crawled, len(forbidden))
}
