package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web"
)

// triggerBundle is a handler-test bundle with the storefront flow published
// and deployed to dev, and API keys for dev and prod.
type triggerBundle struct {
	*testBundle
	devKey, prodKey, otherFlowKey string
	sample                        string
}

func setupTrigger(t testing.TB, opts ...setupOpts) *triggerBundle {
	t.Helper()
	b := setup(t, opts...)
	ctx := context.Background()
	ed := mappings.Editor{Email: "ana@shop.example"}
	tpl, _ := mappings.TemplateByID("storefront-order-to-erp")
	def, err := engine.ParseDefinition(tpl.Definition)
	require.NoError(t, err)
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "shop orders", Slug: "shop-orders", Definition: def}, ed)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, 1, "v1", ed)
	require.NoError(t, err)
	dev, err := release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)
	dbtest.Deploy(t, b.db, dev.ID, f.ID, 1)
	_, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "not deployed", Slug: "not-deployed"}, ed)
	require.NoError(t, err)

	tb := &triggerBundle{testBundle: b, sample: string(def.Source.Samples[0].Payload)}
	newKey := func(env string, flows []string, rate int) string {
		_, token, err := account.APIKeyCreate(ctx, b.db, account.NewAPIKey{Name: "k-" + env, Environment: env, Flows: flows, RatePerMinute: rate}, account.SystemActor)
		require.NoError(t, err)
		return token
	}
	tb.devKey = newKey("dev", nil, 100000)
	tb.prodKey = newKey("prod", nil, 100000)
	tb.otherFlowKey = newKey("dev", []string{"not-deployed"}, 100000)
	return tb
}

func (tb *triggerBundle) post(t *testing.T, path, key, contentType, body string, headers ...string) (response, web.Problem) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res := tb.browser(t).do(req)
	var p web.Problem
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		require.NoError(t, json.Unmarshal([]byte(res.body), &p))
	}
	return res, p
}

const devPath = "/api/v1/envs/dev/flows/shop-orders/messages"

func TestTriggerAcceptsDurably(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	res, _ := tb.post(t, devPath, tb.devKey, "application/json", tb.sample, "X-Correlation-ID", "corr-1", "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.body), &out))
	id := out["id"].(string)
	require.Equal(t, "corr-1", res.Header.Get("X-Correlation-ID"))
	require.Equal(t, "/api/v1/messages/"+id, res.Header.Get("Location"))
	require.Empty(t, res.Header.Get("Idempotent-Replayed"))

	var jobs int
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from river_job where kind = 'process'`).Scan(&jobs))
	require.Equal(t, 1, jobs, "the process job was enqueued with the message")

	// Same key, same payload: the original id, no new work.
	res, _ = tb.post(t, devPath, tb.devKey, "application/json", tb.sample, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	require.Equal(t, "true", res.Header.Get("Idempotent-Replayed"))
	require.Contains(t, res.body, id)
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from river_job where kind = 'process'`).Scan(&jobs))
	require.Equal(t, 1, jobs)

	// Same key, different payload: 422.
	res, p := tb.post(t, devPath, tb.devKey, "application/json", `{"id": 1}`, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, p.Detail, "different payload")

	// The status URL answers with the lineage, to the key and to a session.
	req := httptest.NewRequest(http.MethodGet, "/api/v1/messages/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tb.devKey)
	got := tb.browser(t).do(req)
	require.Equal(t, http.StatusOK, got.StatusCode, got.body)
	require.Contains(t, got.body, `"stage":"received"`)
	req = httptest.NewRequest(http.MethodGet, "/api/v1/messages/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tb.prodKey)
	require.Equal(t, http.StatusNotFound, tb.browser(t).do(req).StatusCode, "a prod key cannot read dev messages")

	tb.user(t, "sue@shop.example", account.RoleSupport)
	br := tb.browser(t)
	br.signIn("sue@shop.example")
	require.Equal(t, http.StatusOK, br.get("/captures?env=dev").StatusCode)
	require.Equal(t, http.StatusNotFound, br.get("/captures?env=nowhere").StatusCode)
	page := br.get("/messages/" + id)
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, `data-stage="received"`)
	require.Contains(t, page.body, "corr-1")
}

func TestTriggerRefusals(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t, setupOpts{maxMessageBytes: 4096})
	cases := []struct {
		name, path, key, ctype, body string
		status                       int
		detail                       string
	}{
		{"no key", devPath, "", "application/json", `{}`, 401, "send an API key"},
		{"unknown key", devPath, "cdk_dev_nope_xxxxxxxx", "application/json", `{}`, 401, ""},
		{"key for another environment", "/api/v1/envs/prod/flows/shop-orders/messages", tb.devKey, "application/json", `{}`, 403, "dev"},
		{"key for other flows", devPath, tb.otherFlowKey, "application/json", `{}`, 403, ""},
		{"not JSON media type", devPath, tb.devKey, "text/plain", `{}`, 415, "application/json"},
		{"bad JSON", devPath, tb.devKey, "application/json", `{"id": 1,,}`, 400, "not valid JSON"},
		{"too large", devPath, tb.devKey, "application/json", `{"pad": "` + strings.Repeat("x", 5000) + `"}`, 413, "at most 4096"},
		{"unknown flow", "/api/v1/envs/dev/flows/no-such-flow/messages", tb.devKey, "application/json", `{}`, 404, ""},
		{"nothing deployed", "/api/v1/envs/dev/flows/not-deployed/messages", tb.otherFlowKey, "application/json", `{}`, 409, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, p := tb.post(t, tc.path, tc.key, tc.ctype, tc.body)
			require.Equal(t, tc.status, res.StatusCode, res.body)
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
			require.Contains(t, p.Detail, tc.detail)
			require.NotEmpty(t, p.RequestID)
		})
	}
	var messages int
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from messages`).Scan(&messages))
	require.Zero(t, messages, "no refused request left a message")
}

// The Idempotency-Key and X-Correlation-ID headers share one limit,
// jobs.MaxKeyLength, checked before the body is read.
func TestTriggerKeyHeaderLimits(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	long := strings.Repeat("k", intake.MaxKeyLength)
	res, _ := tb.post(t, devPath, tb.devKey, "application/json", tb.sample, "Idempotency-Key", long, "X-Correlation-ID", long)
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	require.Equal(t, long, res.Header.Get("X-Correlation-ID"))
	for _, header := range []string{"Idempotency-Key", "X-Correlation-ID"} {
		res, p := tb.post(t, devPath, tb.devKey, "application/json", `not even JSON`, header, long+"k")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
		require.Contains(t, p.Detail, header)
		require.Contains(t, p.Detail, fmt.Sprintf("at most %d", intake.MaxKeyLength))
	}
}

func TestTriggerRateLimit(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	_, slow, err := account.APIKeyCreate(context.Background(), tb.db, account.NewAPIKey{Name: "slow", Environment: "dev", RatePerMinute: 2}, account.SystemActor)
	require.NoError(t, err)
	var last response
	var p web.Problem
	for i := range 5 {
		last, p = tb.post(t, devPath, slow, "application/json", `{"id": `+itoa(int64(i))+`}`)
	}
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode)
	require.NotEmpty(t, last.Header.Get("Retry-After"))
	require.Contains(t, p.Detail, "rate")
}

func TestTriggerConcurrentIdenticalRequestsMakeOneMessage(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	var wg sync.WaitGroup
	ids := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodPost, devPath, strings.NewReader(tb.sample))
			req.Header.Set("Authorization", "Bearer "+tb.devKey)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "same-order")
			res, err := tb.app.Test(req, -1)
			if err != nil || res.StatusCode != http.StatusAccepted {
				ids <- "error"
				return
			}
			var out map[string]any
			_ = json.NewDecoder(res.Body).Decode(&out)
			ids <- out["id"].(string)
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]int{}
	for id := range ids {
		seen[id]++
	}
	require.Len(t, seen, 1, "%v", seen)
	require.NotContains(t, seen, "error")
	var messages, jobs int
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from messages`).Scan(&messages))
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from river_job where kind = 'process'`).Scan(&jobs))
	require.Equal(t, 1, messages)
	require.Equal(t, 1, jobs)
}

func TestTriggerSynchronousAndBatch(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	res, _ := tb.post(t, devPath, tb.devKey, "application/json", tb.sample, "Prefer", "wait=5")
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, `"valid":true`)
	require.Contains(t, res.body, "erp-sales-order")

	t.Run("a synchronous validation refusal is a problem document", func(t *testing.T) {
		res, p := tb.post(t, devPath, tb.devKey, "application/json", `{"id": 5, "name": "#5", "line_items": []}`, "Prefer", "wait=5")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.Equal(t, fault.Invalid, p.Code)
		require.Equal(t, 422, p.Status)
		require.Contains(t, p.Detail, "the event failed 5 validation rules of the flow and was recorded as message")
		require.Contains(t, p.Detail, "with a validation exception. The order has no line items. The store is not mapped")
		require.NotEmpty(t, p.RequestID)
		require.Contains(t, res.body, "has-lines")
		require.Contains(t, res.body, `"valid":false`, "the recorded message's fields stay as extension members")
	})

	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, []byte(tb.sample)))
	line := compact.String()
	batch := strings.Replace(line, "5012345678901", "5012345678903", 1) + "\n" + `{"id": 77, broken` + "\n" + strings.Replace(line, "5012345678901", "5012345678902", 1) + "\n"
	res, _ = tb.post(t, devPath+`:batch`, tb.devKey, "application/x-ndjson", batch)
	require.Equal(t, http.StatusMultiStatus, res.StatusCode, res.body)
	var out struct {
		Accepted int              `json:"accepted"`
		Rejected int              `json:"rejected"`
		Results  []map[string]any `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &out))
	require.Equal(t, 2, out.Accepted, res.body)
	require.Equal(t, 1, out.Rejected)
	require.EqualValues(t, 400, out.Results[1]["status"])
}

func TestAdminAPIKeyPages(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	tb.user(t, "root@shop.example", account.RoleAdmin)
	tb.user(t, "ana@shop.example", account.RoleAnalyst)
	admin := tb.browser(t)
	admin.signIn("root@shop.example")
	page := admin.get("/admin/api-keys")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.NotContains(t, page.body, tb.devKey, "listed keys never show their secret")

	res := admin.post("/admin/api-keys", map[string][]string{"name": {"pos"}, "environment": {"dev"}, "flows": {"shop-orders"}, "rate": {"120"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	m := regexp.MustCompile(`<code class="mono">(cdk_dev_[^<]+)</code>`).FindStringSubmatch(res.body)
	require.NotNil(t, m)
	token := m[1]
	require.NotContains(t, admin.get("/admin/api-keys").body, token, "shown once")
	got, _ := tb.post(t, devPath, token, "application/json", `{"id": 42}`)
	require.Equal(t, http.StatusAccepted, got.StatusCode, got.body)

	prefix := token[:len("cdk_dev_")+8]
	res = admin.post("/admin/api-keys/"+prefix+"/revoke", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	got, _ = tb.post(t, devPath, token, "application/json", `{"id": 43}`)
	require.Equal(t, http.StatusUnauthorized, got.StatusCode, "a revoked key gets 401")

	res = admin.post("/admin/api-keys", map[string][]string{"name": {"x"}, "environment": {"nowhere"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	analyst := tb.browser(t)
	analyst.signIn("ana@shop.example")
	require.Equal(t, http.StatusForbidden, analyst.get("/admin/api-keys").StatusCode)
	require.NotContains(t, tb.logs.String(), token, "keys never reach the log")
}
