package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/web"
)

var updateExamples = flag.Bool("update", false, "rewrite web/openapi_examples.json from what TestAPIExamples records")

// examplesFile holds one recorded request and answer per operation of the
// JSON API; web/openapi.go merges them into the served OpenAPI document and
// the API reference page shows them.
const examplesFile = "openapi_examples.json"

// examplesNotRecorded lists the documented operations TestAPIExamples
// cannot exercise, each with the reason. Empty: every operation has an
// example.
var examplesNotRecorded = map[string]string{}

// TestAPIExamples runs one example request per documented operation of the
// JSON API against the real handlers, on an installation built through the
// same API (a flow published and deployed, API keys, messages accepted,
// exceptions filed by the workers, targets and variables configured,
// promotions requested and decided), and compares what it recorded with
// web/openapi_examples.json. Volatile values (ids that are UUIDs, times,
// key prefixes, request ids) become stable placeholders. With -update it
// rewrites the file:
//
//	go test ./web -run TestAPIExamples -update
func TestAPIExamples(t *testing.T) {
	t.Parallel()
	rec := newExampleRecorder(t)
	rec.run()

	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))
	var missing []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			ex, ok := rec.examples[key]
			if !ok {
				if _, skip := examplesNotRecorded[key]; !skip {
					missing = append(missing, key)
				}
				continue
			}
			_, documented := op.Responses[fmt.Sprint(ex.Response.Status)]
			require.True(t, documented, "%s: the example answers %d, which the operation does not document", key, ex.Response.Status)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "documented operations without an example: add a step to exampleRecorder.run in web/api_examples_test.go "+
		"(or, when one truly cannot run in a test, list it in examplesNotRecorded with the reason), then run\n\tgo test ./web -run TestAPIExamples -update")
	for key := range rec.examples {
		method, path, _ := strings.Cut(key, " ")
		_, ok := doc.Paths[path][strings.ToLower(method)]
		require.True(t, ok, "%s has an example but is not in openapi.json", key)
	}

	got, err := web.MarshalAPIExamples(rec.examples)
	require.NoError(t, err)
	if *updateExamples {
		require.NoError(t, os.WriteFile(examplesFile, got, 0o644))
		return
	}
	want, err := os.ReadFile(examplesFile)
	require.NoError(t, err)
	var stored map[string]web.APIExample
	require.NoError(t, json.Unmarshal(want, &stored))
	keys := make([]string, 0, len(rec.examples))
	for k := range rec.examples {
		keys = append(keys, k)
	}
	for k := range stored {
		if _, ok := rec.examples[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, _ := web.MarshalAPIExamples(map[string]web.APIExample{k: stored[k]})
		b, _ := web.MarshalAPIExamples(map[string]web.APIExample{k: rec.examples[k]})
		if !bytes.Equal(a, b) {
			t.Errorf("the example of %s is not what the API answers now; if the change is meant, run\n\tgo test ./web -run TestAPIExamples -update\n%s", k, lineDiff(string(a), string(b)))
		}
	}
}

// lineDiff shows where two texts part, with a little context.
func lineDiff(stored, now string) string {
	a, b := strings.Split(stored, "\n"), strings.Split(now, "\n")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-3)
	var out strings.Builder
	for _, l := range a[from:min(len(a), i+4)] {
		fmt.Fprintf(&out, "  file: %s\n", l)
	}
	for _, l := range b[from:min(len(b), i+4)] {
		fmt.Fprintf(&out, "  now:  %s\n", l)
	}
	return out.String()
}

// exampleRecorder performs and records the example requests.
type exampleRecorder struct {
	t        *testing.T
	tb       *triggerBundle
	examples map[string]web.APIExample
	norm     *exampleNormaliser

	trigger, manage, support, configure string // API keys of dev
	prodConfigure                       string
	ana, amy                            *browser // an analyst's and an approver's sessions
	sam                                 account.User
}

func newExampleRecorder(t *testing.T) *exampleRecorder {
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	tb := setupTrigger(t, setupOpts{sealer: sealer})
	ctx := context.Background()
	r := &exampleRecorder{t: t, tb: tb, examples: map[string]web.APIExample{}, norm: newExampleNormaliser(t)}
	newKey := func(name, env string, nk account.NewAPIKey) string {
		nk.Name, nk.Environment, nk.RatePerMinute = name, env, 100000
		_, token, err := account.APIKeyCreate(ctx, tb.db, nk, account.SystemActor)
		require.NoError(t, err)
		return token
	}
	r.trigger = tb.devKey
	r.manage = newKey("ci", "dev", account.NewAPIKey{CanManage: true})
	r.support = newKey("support bot", "dev", account.NewAPIKey{CanSupport: true})
	r.configure = newKey("config", "dev", account.NewAPIKey{CanConfigure: true})
	r.prodConfigure = newKey("config", "prod", account.NewAPIKey{CanConfigure: true})
	r.sam = tb.user(t, "sam@shop.example", account.RoleSupport)
	tb.user(t, "ana@shop.example", account.RoleAnalyst)
	tb.user(t, "amy@shop.example", account.RoleApprover)
	r.ana, r.amy = tb.browser(t), tb.browser(t)
	r.ana.signIn("ana@shop.example")
	r.amy.signIn("amy@shop.example")
	r.ana.get("/flows")
	r.amy.get("/flows")
	return r
}

// exampleCall is one request: with an API key (key) or a person's
// session (as).
type exampleCall struct {
	method, path string
	key          string
	as           *browser
	headers      []string // name, value pairs
	contentType  string   // default application/json when there is a body
	body         string
}

// do sends c and returns the status and the decoded JSON answer, without
// recording it.
func (r *exampleRecorder) do(c exampleCall) (*http.Response, []byte) {
	r.t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(c.headers); i += 2 {
		req.Header.Set(c.headers[i], c.headers[i+1])
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.as != nil {
		req.Header.Set("X-CSRF-Token", c.as.csrf)
		res := c.as.do(req)
		return res.Response, []byte(res.body)
	}
	res, err := r.tb.app.Test(req, -1)
	require.NoError(r.t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(r.t, err)
	return res, body
}

// record sends c as the example of operation op ("METHOD /path template"),
// requires the status want, and returns the decoded answer.
func (r *exampleRecorder) record(op string, want int, c exampleCall) map[string]any {
	r.t.Helper()
	_, dup := r.examples[op]
	require.False(r.t, dup, "%s is recorded twice", op)
	method, _, _ := strings.Cut(op, " ")
	require.Equal(r.t, method, c.method, op)
	res, body := r.do(c)
	require.Equal(r.t, want, res.StatusCode, "%s %s: %s", c.method, c.path, body)

	ex := web.APIExample{Request: web.APIExampleRequest{Method: c.method, Path: r.norm.text(c.path), Headers: map[string]string{}},
		Response: web.APIExampleResponse{Status: res.StatusCode, Headers: map[string]string{}}}
	if c.key != "" {
		ex.Request.Headers["Authorization"] = "Bearer cdk_…"
	}
	if c.as != nil {
		ex.Request.Headers["Cookie"] = "crossdock_session=…"
		ex.Request.Headers["X-CSRF-Token"] = "…"
	}
	for i := 0; i+1 < len(c.headers); i += 2 {
		ex.Request.Headers[c.headers[i]] = r.norm.text(c.headers[i+1])
	}
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		ex.Request.Headers["Content-Type"] = ct
		ex.Request.Body, ex.Request.Shortened = r.norm.body(ct, []byte(c.body))
	}
	for _, h := range []string{"Content-Type", "Location", "ETag", "Retry-After", "Idempotent-Replayed", "X-Correlation-ID", "Preference-Applied"} {
		if v := res.Header.Get(h); v != "" {
			ex.Response.Headers[h] = r.norm.text(v)
		}
	}
	if len(body) > 0 {
		ex.Response.Body, ex.Response.Shortened = r.norm.body(res.Header.Get("Content-Type"), body)
	}
	r.examples[op] = ex
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return out
}

// waitExceptions waits until the workers have filed n exceptions.
func (r *exampleRecorder) waitExceptions(n int) []inbox.Item {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		items, _, err := inbox.List(context.Background(), r.tb.db, inbox.Filter{})
		require.NoError(r.t, err)
		if len(items) >= n {
			sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
			return items
		}
		require.True(r.t, time.Now().Before(deadline), "%d exceptions filed, waiting for %d", len(items), n)
		time.Sleep(20 * time.Millisecond)
	}
}

// order is the flow's sample payload with another order id and number.
func (r *exampleRecorder) order(n int) string {
	var p map[string]any
	require.NoError(r.t, json.Unmarshal([]byte(r.tb.sample), &p))
	p["id"] = 5551000 + n
	p["name"] = fmt.Sprintf("#%d", 1000+n)
	b, err := json.Marshal(p)
	require.NoError(r.t, err)
	return string(b)
}

func jsonBody(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// run builds the installation and records every example, in an order that
// keeps the answers the same on every run: the workers run only while the
// exceptions are filed one message at a time, and stop before anything
// reads them.
func (r *exampleRecorder) run() {
	t, tb, ctx := r.t, r.tb, context.Background()
	const messages = "/api/v1/envs/dev/flows/shop-orders/messages"

	// Service.
	r.record("GET /healthz", 200, exampleCall{method: "GET", path: "/healthz"})
	r.record("GET /readyz", 200, exampleCall{method: "GET", path: "/readyz"})
	r.record("GET /api/openapi.json", 200, exampleCall{method: "GET", path: "/api/openapi.json"})
	r.record("GET /api/v1/openapi.json", 200, exampleCall{method: "GET", path: "/api/v1/openapi.json"})

	// Messages: each one fails mapping (ERP_COMPANY is not set in dev yet)
	// and becomes an exception, filed in order.
	require.NoError(t, tb.queue.Start(ctx))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, tb.queue.Stop(sctx))
		}
	}
	t.Cleanup(stop)
	first := r.record("POST /api/v1/envs/{env}/flows/{flow}/messages", 202, exampleCall{method: "POST", path: messages, key: r.trigger,
		headers: []string{"Idempotency-Key", "order-1001", "X-Correlation-ID", "#1001"}, body: r.order(1)})
	r.waitExceptions(1)
	for n := 2; n <= 6; n++ {
		res, body := r.do(exampleCall{method: "POST", path: messages, key: r.trigger, headers: []string{"Idempotency-Key", fmt.Sprintf("order-%d", 1000+n)}, body: r.order(n)})
		require.Equal(t, 202, res.StatusCode, string(body))
		r.waitExceptions(n)
	}
	items := r.waitExceptions(6)
	id := func(i int) string { return fmt.Sprint(items[i].ID) }
	group := fmt.Sprint(items[0].GroupID)

	// A bulk action runs on the workers: resolve the last exception.
	bulk := r.record("POST /api/v1/bulk-actions", 202, exampleCall{method: "POST", path: "/api/v1/bulk-actions", key: r.support,
		headers: []string{"Idempotency-Key", "resolve-test-orders"}, body: jsonBody(t, map[string]any{"action": "resolve", "exceptionIds": []int64{items[5].ID}, "reason": "test orders from the storefront's staging shop"})})
	bulkPath := fmt.Sprintf("/api/v1/bulk-actions/%v", bulk["id"])
	waitBulkDone(t, func() (response, map[string]any) { return tb.keyAPI(t, r.support, http.MethodGet, bulkPath, nil) })
	stop()
	r.record("GET /api/v1/bulk-actions/{id}", 200, exampleCall{method: "GET", path: bulkPath, key: r.support})

	// The batch is accepted but not processed: the workers have stopped.
	r.record("POST /api/v1/envs/{env}/flows/{flow}/messages:batch", 202, exampleCall{method: "POST", path: messages + ":batch", key: r.trigger,
		contentType: "application/x-ndjson", body: r.order(7) + "\n" + r.order(8) + "\n"})
	r.record("GET /api/v1/messages", 200, exampleCall{method: "GET", path: "/api/v1/messages?env=dev&flow=shop-orders&status=failed&limit=2", key: r.support})
	r.record("GET /api/v1/messages/{id}", 200, exampleCall{method: "GET", path: "/api/v1/messages/" + first["id"].(string), key: r.support})

	// The exception inbox.
	r.record("GET /api/v1/exceptions", 200, exampleCall{method: "GET", path: "/api/v1/exceptions?env=dev&kind=mapping&limit=2", key: r.support})
	r.record("GET /api/v1/exceptions/{id}", 200, exampleCall{method: "GET", path: "/api/v1/exceptions/" + id(0), key: r.support})
	r.record("GET /api/v1/exception-groups", 200, exampleCall{method: "GET", path: "/api/v1/exception-groups?env=dev", key: r.support})
	r.record("GET /api/v1/exception-groups/{id}", 200, exampleCall{method: "GET", path: "/api/v1/exception-groups/" + group, key: r.support})
	r.record("POST /api/v1/exceptions/{id}/replay/preview", 200, exampleCall{method: "POST", path: "/api/v1/exceptions/" + id(0) + "/replay/preview", key: r.support,
		body: `{"version": "ran"}`})
	r.record("POST /api/v1/exceptions/{id}/assign", 200, exampleCall{method: "POST", path: "/api/v1/exceptions/" + id(0) + "/assign", key: r.support,
		body: jsonBody(t, map[string]any{"userId": r.sam.ID})})
	r.record("POST /api/v1/exceptions/{id}/resolve", 200, exampleCall{method: "POST", path: "/api/v1/exceptions/" + id(1) + "/resolve", key: r.support,
		body: `{"reason": "order cancelled by the customer"}`})
	r.record("POST /api/v1/exceptions/{id}/ignore", 200, exampleCall{method: "POST", path: "/api/v1/exceptions/" + id(2) + "/ignore", key: r.support,
		body: `{"reason": "duplicate of #1001"}`})

	// Environment configuration: set what the flow needs in dev.
	r.record("GET /api/v1/target-kinds", 200, exampleCall{method: "GET", path: "/api/v1/target-kinds", key: r.configure})
	r.record("PUT /api/v1/environments/{env}/targets/{target}", 200, exampleCall{method: "PUT", path: "/api/v1/environments/dev/targets/erp-sales-orders", key: r.configure,
		body: jsonBody(t, map[string]any{"settings": map[string]string{"url": "https://erp.dev.example/orders", "auth": "bearer", "secret": "dev-token"},
			"policy": map[string]any{"timeout": "10s", "maxAttempts": 5}})})
	r.record("GET /api/v1/environments/{env}/targets", 200, exampleCall{method: "GET", path: "/api/v1/environments/dev/targets", key: r.configure})
	r.record("GET /api/v1/environments/{env}/targets/{target}", 200, exampleCall{method: "GET", path: "/api/v1/environments/dev/targets/erp-sales-orders", key: r.configure})
	res, body := r.do(exampleCall{method: "PUT", path: "/api/v1/environments/dev/targets/legacy-crm", key: r.configure, body: `{"settings": {"url": "https://crm.example/api"}}`})
	require.Equal(t, 200, res.StatusCode, string(body))
	r.record("DELETE /api/v1/environments/{env}/targets/{target}", 204, exampleCall{method: "DELETE", path: "/api/v1/environments/dev/targets/legacy-crm", key: r.configure})
	r.record("PUT /api/v1/environments/{env}/variables/{name}", 200, exampleCall{method: "PUT", path: "/api/v1/environments/dev/variables/ERP_COMPANY", key: r.configure,
		body: `{"value": "1000"}`})
	res, body = r.do(exampleCall{method: "PUT", path: "/api/v1/environments/dev/variables/LEGACY_PLANT", key: r.configure, body: `{"value": "P01"}`})
	require.Equal(t, 200, res.StatusCode, string(body))
	r.record("GET /api/v1/environments/{env}/retention", 200, exampleCall{method: "GET", path: "/api/v1/environments/dev/retention", key: r.configure})
	r.record("PUT /api/v1/environments/{env}/retention", 200, exampleCall{method: "PUT", path: "/api/v1/environments/dev/retention", key: r.configure,
		body: `{"days": 30}`})
	r.record("PUT /api/v1/environments/{env}/notifications", 200, exampleCall{method: "PUT", path: "/api/v1/environments/dev/notifications", key: r.configure,
		body: `{"url": "https://hooks.slack.example/services/T0/B0/secret", "enabled": true, "threshold": 100, "window": "15m"}`})
	r.record("GET /api/v1/environments/{env}/notifications", 200, exampleCall{method: "GET", path: "/api/v1/environments/dev/notifications", key: r.configure})
	r.record("DELETE /api/v1/environments/{env}/notifications", 204, exampleCall{method: "DELETE", path: "/api/v1/environments/dev/notifications", key: r.configure})
	r.record("GET /api/v1/environments/{env}/variables", 200, exampleCall{method: "GET", path: "/api/v1/environments/dev/variables", key: r.configure})
	r.record("DELETE /api/v1/environments/{env}/variables/{name}", 204, exampleCall{method: "DELETE", path: "/api/v1/environments/dev/variables/LEGACY_PLANT", key: r.configure})

	// With the variable set, a retry and a replay go through (the jobs wait
	// in the queue: the workers have stopped).
	r.record("POST /api/v1/exceptions/{id}/retry", 202, exampleCall{method: "POST", path: "/api/v1/exceptions/" + id(3) + "/retry", key: r.support})
	r.record("POST /api/v1/exceptions/{id}/replay", 201, exampleCall{method: "POST", path: "/api/v1/exceptions/" + id(4) + "/replay", key: r.support,
		body: `{"version": "ran", "reason": "ERP_COMPANY is set in dev now"}`})

	// Flows: change the draft, publish v2, compare, preview.
	r.record("GET /api/v1/flows", 200, exampleCall{method: "GET", path: "/api/v1/flows", key: r.manage})
	r.record("GET /api/v1/flows/{slug}", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders", key: r.manage})
	draft := r.record("GET /api/v1/flows/{slug}/draft", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders/draft", key: r.manage})
	def := draft["definition"].(map[string]any)
	def["description"] = "Storefront orders to the ERP's sales orders, company from ERP_COMPANY"
	saved := r.record("PUT /api/v1/flows/{slug}/draft", 200, exampleCall{method: "PUT", path: "/api/v1/flows/shop-orders/draft", key: r.manage,
		body: jsonBody(t, map[string]any{"revision": draft["revision"], "definition": def})})
	r.record("POST /api/v1/flows/{slug}/publish", 201, exampleCall{method: "POST", path: "/api/v1/flows/shop-orders/publish", key: r.manage,
		body: jsonBody(t, map[string]any{"revision": saved["revision"], "note": "describe the company variable"})})
	r.record("GET /api/v1/flows/{slug}/versions", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders/versions", key: r.manage})
	r.record("GET /api/v1/flows/{slug}/versions/{n}", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders/versions/2", key: r.manage})
	r.record("GET /api/v1/flows/{slug}/diff", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders/diff?a=1&b=2", key: r.manage})
	r.record("POST /api/v1/flows/{slug}/preview", 200, exampleCall{method: "POST", path: "/api/v1/flows/shop-orders/preview", key: r.manage,
		body: `{"payload": ` + r.order(1) + `}`})

	// Promotion: v2 to dev (not protected: deployed at once), its history,
	// a rollback; prod is protected: requests an approver decides.
	r.record("GET /api/v1/flows/{slug}/promotions/preview", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders/promotions/preview?to=dev&version=2", key: r.manage})
	r.record("POST /api/v1/flows/{slug}/promotions", 201, exampleCall{method: "POST", path: "/api/v1/flows/shop-orders/promotions", key: r.manage,
		body: `{"version": 2, "to": "dev", "reason": "company variable described"}`})
	r.record("GET /api/v1/environments", 200, exampleCall{method: "GET", path: "/api/v1/environments", key: r.manage})
	r.record("GET /api/v1/flows/{slug}/deployments", 200, exampleCall{method: "GET", path: "/api/v1/flows/shop-orders/deployments?env=dev", key: r.manage})
	r.record("POST /api/v1/flows/{slug}/rollback", 201, exampleCall{method: "POST", path: "/api/v1/flows/shop-orders/rollback", key: r.manage,
		body: `{"environment": "dev", "reason": "the ERP team asks for v1 until Monday"}`})
	for _, c := range []exampleCall{
		{method: "PUT", path: "/api/v1/environments/prod/targets/erp-sales-orders", body: `{"settings": {"url": "https://erp.example/orders"}}`},
		{method: "PUT", path: "/api/v1/environments/prod/variables/ERP_COMPANY", body: `{"value": "1000"}`},
	} {
		c.key = r.prodConfigure
		res, body := r.do(c)
		require.Equal(t, 200, res.StatusCode, string(body))
	}
	request := func(version int) string {
		res, body := r.do(exampleCall{method: "POST", path: "/api/v1/flows/shop-orders/promotions", as: r.ana,
			body: fmt.Sprintf(`{"version": %d, "to": "prod", "reason": "go live"}`, version)})
		require.Equal(t, 202, res.StatusCode, string(body))
		var out struct {
			Request struct{ ID int64 } `json:"request"`
		}
		require.NoError(t, json.Unmarshal(body, &out))
		return fmt.Sprint(out.Request.ID)
	}
	r.record("POST /api/v1/promotions/{id}/approve", 200, exampleCall{method: "POST", path: "/api/v1/promotions/" + request(1) + "/approve", as: r.amy,
		body: `{"comment": "checked with finance"}`})
	r.record("POST /api/v1/promotions/{id}/reject", 200, exampleCall{method: "POST", path: "/api/v1/promotions/" + request(2) + "/reject", as: r.amy,
		body: `{"comment": "wait for the ERP release on Monday"}`})
	r.record("GET /api/v1/promotions", 200, exampleCall{method: "GET", path: "/api/v1/promotions?status=approved", key: r.manage})

	// Bundles: export the flow, and check what importing it would do.
	res, body = r.do(exampleCall{method: "GET", path: "/api/v1/bundle?flow=shop-orders", key: r.manage})
	require.Equal(t, 200, res.StatusCode, string(body))
	r.record("GET /api/v1/bundle", 200, exampleCall{method: "GET", path: "/api/v1/bundle?flow=shop-orders", key: r.manage})
	r.record("POST /api/v1/bundle", 200, exampleCall{method: "POST", path: "/api/v1/bundle?dryRun=true", key: r.manage, body: string(body)})

	// Local target names, last: the flow reaches its ERP in dev under
	// another name, then the mapping is taken away again.
	r.record("PUT /api/v1/environments/{env}/flows/{slug}/targets", 200, exampleCall{method: "PUT", path: "/api/v1/environments/dev/flows/shop-orders/targets",
		key: r.configure, body: `{"targets": {"erp-sales-orders": "erp-eu"}}`})
	r.record("GET /api/v1/environments/{env}/flows/{slug}/targets", 200, exampleCall{method: "GET", path: "/api/v1/environments/dev/flows/shop-orders/targets", key: r.configure})
	res, body = r.do(exampleCall{method: "PUT", path: "/api/v1/environments/dev/flows/shop-orders/targets", key: r.configure, body: `{"targets": {}}`})
	require.Equal(t, 200, res.StatusCode, string(body))
}

// exampleNormaliser turns what changes from run to run into stable
// placeholders: each UUID into a numbered one (the same id stays the same
// across examples), times into one instant, API key prefixes and request
// ids into fixed ones.
type exampleNormaliser struct {
	t     *testing.T
	uuids map[string]string
}

func newExampleNormaliser(t *testing.T) *exampleNormaliser {
	return &exampleNormaliser{t: t, uuids: map[string]string{}}
}

var (
	uuidPattern      = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timePattern      = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?`)
	keyPrefixPattern = regexp.MustCompile(`cdk_([a-z0-9-]{1,32})_[0-9a-f]{8}`)
	cursorPattern    = regexp.MustCompile(`([?&]after=)[A-Za-z0-9_=-]+`)
)

func (n *exampleNormaliser) text(s string) string {
	s = uuidPattern.ReplaceAllStringFunc(s, func(u string) string {
		if p, ok := n.uuids[u]; ok {
			return p
		}
		p := fmt.Sprintf("0193a5c2-7e10-7000-8000-%012d", len(n.uuids)+1)
		n.uuids[u] = p
		return p
	})
	s = timePattern.ReplaceAllStringFunc(s, func(ts string) string {
		if strings.Contains(ts, "T") {
			return "2026-03-02T09:30:00Z"
		}
		return "2026-03-02 09:30:00"
	})
	s = cursorPattern.ReplaceAllString(s, "${1}b3BhcXVlIGN1cnNvcg")
	return keyPrefixPattern.ReplaceAllString(s, "cdk_${1}_5f3a9c21")
}

// exampleMaxLines is how long a body may be on the page before it is
// shortened.
const exampleMaxLines = 80

// exampleMaxItems is how many items of a list a shortened body keeps.
const exampleMaxItems = 2

// body normalises a request or answer body: JSON keeps its field order and
// is indented; one longer than exampleMaxLines keeps the first items of
// each list, then loses its largest parts (each becomes "…") until it
// fits. Other text is kept as a string.
func (n *exampleNormaliser) body(contentType string, raw []byte) (json.RawMessage, bool) {
	ct := strings.TrimSpace(strings.Split(contentType, ";")[0])
	if ct != "application/json" && ct != "application/problem+json" {
		return json.RawMessage(marshalOrdered(n.text(string(raw)), "")), false
	}
	v, err := decodeOrdered(json.NewDecoder(bytes.NewReader(raw)))
	require.NoError(n.t, err, "%s", raw)
	cut := false
	if jsonLines(v) > exampleMaxLines {
		v, cut = capLists(v), true
		// The largest parts go first, the top level's fields last.
		for minDepth := 3; minDepth > 0 && jsonLines(v) > exampleMaxLines; minDepth-- {
			var parts []jsonPart
			collectParts(&v, 0, &parts)
			sort.SliceStable(parts, func(i, j int) bool { return parts[i].lines > parts[j].lines })
			total, elided := jsonLines(v), map[*any]bool{}
			for _, p := range parts {
				if total <= exampleMaxLines {
					break
				}
				if p.depth < minDepth || p.insideAny(elided) {
					continue
				}
				*p.at = "…"
				elided[p.at] = true
				total -= p.lines - 1
			}
		}
	}
	// Only what is shown is normalised, so the numbering of ids does not
	// depend on what was left out.
	return json.RawMessage(marshalOrdered(n.walk(v, ""), "")), cut
}

// jsonLines is how many lines v takes indented.
func jsonLines(v any) int {
	switch x := v.(type) {
	case orderedObject:
		if len(x) == 0 {
			return 1
		}
		n := 2
		for _, f := range x {
			n += jsonLines(f.value)
		}
		return n
	case []any:
		if len(x) == 0 {
			return 1
		}
		n := 2
		for _, e := range x {
			n += jsonLines(e)
		}
		return n
	}
	return 1
}

// capLists keeps the first exampleMaxItems items of every list.
func capLists(v any) any {
	switch x := v.(type) {
	case orderedObject:
		for i := range x {
			x[i].value = capLists(x[i].value)
		}
		return x
	case []any:
		if len(x) > exampleMaxItems {
			x = x[:exampleMaxItems]
		}
		for i := range x {
			x[i] = capLists(x[i])
		}
		return x
	}
	return v
}

// jsonPart is an object or list inside a body, with the lines it takes
// and the parts it is inside.
type jsonPart struct {
	at      *any
	depth   int
	lines   int
	parents []*any
}

func (p jsonPart) insideAny(elided map[*any]bool) bool {
	for _, a := range p.parents {
		if elided[a] {
			return true
		}
	}
	return false
}

// collectParts lists the non-empty objects and lists of v with their
// sizes.
func collectParts(v *any, depth int, parts *[]jsonPart) {
	var walk func(v *any, depth int, parents []*any) int
	walk = func(v *any, depth int, parents []*any) int {
		inner := append(append([]*any{}, parents...), v)
		n := 1
		switch x := (*v).(type) {
		case orderedObject:
			if len(x) == 0 {
				return 1
			}
			n = 2
			for i := range x {
				n += walk(&x[i].value, depth+1, inner)
			}
		case []any:
			if len(x) == 0 {
				return 1
			}
			n = 2
			for i := range x {
				n += walk(&x[i], depth+1, inner)
			}
		default:
			return 1
		}
		*parts = append(*parts, jsonPart{at: v, depth: depth, lines: n, parents: parents})
		return n
	}
	walk(v, depth, nil)
}

// walk normalises strings, and the values of fields that change on every
// run whatever they look like.
func (n *exampleNormaliser) walk(v any, field string) any {
	switch x := v.(type) {
	case orderedObject:
		for i := range x {
			x[i].value = n.walk(x[i].value, x[i].key)
		}
		return x
	case []any:
		for i := range x {
			x[i] = n.walk(x[i], field)
		}
		return x
	case string:
		switch field {
		case "requestId", "request_id":
			return "01JNQ4Z8K3D2W6V0R5T7Y9B1C4"
		case "next", "after": // cursors: a time and an id, encoded
			return "b3BhcXVlIGN1cnNvcg"
		}
		return n.text(x)
	}
	return v
}

// orderedObject is a JSON object with its fields in the order received.
type orderedObject []orderedField

type orderedField struct {
	key   string
	value any
}

func decodeOrdered(d *json.Decoder) (any, error) {
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := orderedObject{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			obj = append(obj, orderedField{k.(string), v})
		}
		_, err := d.Token()
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for d.More() {
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := d.Token()
		return arr, err
	}
	return tok, nil
}

func marshalOrdered(v any, indent string) string {
	inner := indent + "  "
	switch x := v.(type) {
	case orderedObject:
		if len(x) == 0 {
			return "{}"
		}
		var b strings.Builder
		b.WriteString("{\n")
		for i, f := range x {
			b.WriteString(inner + marshalOrdered(f.key, inner) + ": " + marshalOrdered(f.value, inner))
			if i < len(x)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		return b.String() + indent + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		var b strings.Builder
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(inner + marshalOrdered(e, inner))
			if i < len(x)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		return b.String() + indent + "]"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}
