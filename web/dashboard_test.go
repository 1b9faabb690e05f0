package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/metrics"
	"github.com/crossdock/crossdock/jobs/insight"
)

// tile reads the number a dashboard tile shows.
func tile(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `"[^>]*>\s*<div class="hint">[^<]*</div>\s*<(?:a|span) class="tile-value"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	require.NotNil(t, m, "no tile %s in:\n%s", id, body)
	return m[1]
}

func TestDashboardShowsTheRollupsWithLinks(t *testing.T) {
	t.Parallel()
	m := metrics.New(nil, nil)
	tb := setupTrigger(t, setupOpts{metrics: m})
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		res, _ := tb.post(t, "/api/v1/envs/dev/flows/shop-orders/messages", tb.devKey, "application/json", tb.sample, "Idempotency-Key", fmt.Sprintf("k%d", i))
		require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
		ids = append(ids, regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(res.body)[1])
	}
	require.Contains(t, tb.logs.String(), "message_id="+ids[0], "the trigger's log line names the message")
	// Three delivered within a second, one failed with an exception.
	for _, id := range ids[:3] {
		_, err := tb.db.Exec(ctx, `update messages set status = 'delivered' where id = $1`, id)
		require.NoError(t, err)
		_, err = tb.db.Exec(ctx, `insert into deliveries (id, message_id, route, target, target_kind, body, status, attempts, delivered_at)
			select gen_random_uuid(), id, 'erp', 'erp', 'http', '{}', 'delivered', 1, received_at + interval '300 milliseconds' from messages where id = $1`, id)
		require.NoError(t, err)
	}
	_, err := tb.db.Exec(ctx, `update messages set status = 'failed' where id = $1`, ids[3])
	require.NoError(t, err)
	_, err = tb.db.Exec(ctx, `insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, stage, error_class, message)
		select 'delivery', 'f', environment_id, flow_id, id, 'deliver', 'http_500', 'refused' from messages where id = $1`, ids[3])
	require.NoError(t, err)
	_, err = tb.db.Exec(ctx, `insert into target_circuits (environment_id, target, state, changed_at) select id, 'erp', 'open', now() from environments where name = 'dev'`)
	require.NoError(t, err)
	require.NoError(t, insight.Rollup(ctx, tb.db, time.Now().Add(-10*time.Minute), time.Now()))

	tb.user(t, "viewer@shop.example", account.RoleViewer)
	br := tb.browser(t)
	br.signIn("viewer@shop.example")
	res := br.get("/dashboard?env=dev")
	require.Equal(t, http.StatusOK, res.StatusCode, tb.logs.String())
	require.Equal(t, "4", tile(t, res.body, "tile-received"))
	require.Equal(t, "3", tile(t, res.body, "tile-delivered"))
	require.Equal(t, "1", tile(t, res.body, "tile-failed"))
	require.Equal(t, "1", tile(t, res.body, "tile-exceptions"))
	require.Equal(t, "75.0 %", tile(t, res.body, "tile-sla"))
	require.Equal(t, "0", tile(t, res.body, "tile-held"))
	require.Equal(t, "≤ 0.5 s", tile(t, res.body, "latency-p50"))
	require.Contains(t, res.body, `href="/messages?env=dev&amp;from=`)
	require.Contains(t, res.body, `status=delivered`)
	require.Contains(t, res.body, `href="/inbox?env=dev&amp;from=`)
	require.Contains(t, res.body, `hx-trigger="every 30s"`)
	require.Contains(t, res.body, `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`)
	require.Contains(t, res.body, "99 % within 1 minute", "the default SLA applies to a flow without one")
	require.Contains(t, res.body, "badge-bad\">missed")
	require.Regexp(t, `<code>erp</code></td>\s*<td>0</td>`, res.body)
	require.Contains(t, res.body, "open")
	require.Contains(t, res.body, "<code>process</code>")

	// Another environment is empty; the week range works; bad input is refused.
	res = br.get("/dashboard?env=prod&range=week")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "0", tile(t, res.body, "tile-received"))
	require.Contains(t, res.body, "No messages in this range.")
	require.Equal(t, http.StatusNotFound, br.get("/dashboard?env=nowhere").StatusCode)
	require.Equal(t, http.StatusUnprocessableEntity, br.get("/dashboard?env=dev&range=year").StatusCode)

	// Metrics counted the accepts and the requests by route pattern.
	var out strings.Builder
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out.WriteString(rec.Body.String())
	require.Contains(t, out.String(), `crossdock_messages_accepted_total{environment="dev",flow="shop-orders"} 4`)
	require.Contains(t, out.String(), `crossdock_http_requests_total{code="200",method="GET",route="/dashboard"} 2`)
}

// A validation reject is a data error at the source, not a delivery missed:
// SLA adherence leaves it out unless asked to count every message, and the
// page says which rule it applied.
func TestDashboardSLACountsDeliveriesOnly(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		res, _ := tb.post(t, "/api/v1/envs/dev/flows/shop-orders/messages", tb.devKey, "application/json", tb.sample, "Idempotency-Key", fmt.Sprintf("r%d", i))
		require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
		ids = append(ids, regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(res.body)[1])
	}
	// Two delivered on time, two rejected by a validation rule.
	for _, id := range ids[:2] {
		_, err := tb.db.Exec(ctx, `update messages set status = 'delivered' where id = $1`, id)
		require.NoError(t, err)
		_, err = tb.db.Exec(ctx, `insert into deliveries (id, message_id, route, target, target_kind, body, status, attempts, delivered_at)
			select gen_random_uuid(), id, 'erp', 'erp', 'http', '{}', 'delivered', 1, received_at + interval '300 milliseconds' from messages where id = $1`, id)
		require.NoError(t, err)
	}
	for _, id := range ids[2:] {
		_, err := tb.db.Exec(ctx, `update messages set status = 'rejected' where id = $1`, id)
		require.NoError(t, err)
	}
	require.NoError(t, insight.Rollup(ctx, tb.db, time.Now().Add(-10*time.Minute), time.Now()))
	tb.user(t, "viewer@shop.example", account.RoleViewer)
	br := tb.browser(t)
	br.signIn("viewer@shop.example")

	t.Run("held messages are counted now", func(t *testing.T) {
		_, err := tb.db.Exec(ctx, `update messages set status = 'held' where id = $1`, ids[0])
		require.NoError(t, err)
		defer func() {
			_, err := tb.db.Exec(ctx, `update messages set status = 'delivered' where id = $1`, ids[0])
			require.NoError(t, err)
		}()
		res := br.get("/dashboard?env=dev")
		require.Equal(t, "1", tile(t, res.body, "tile-held"))
		require.Contains(t, res.body, `status=held`)
	})
	t.Run("deliveries only by default", func(t *testing.T) {
		res := br.get("/dashboard?env=dev")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "100.0 %", tile(t, res.body, "tile-sla"), "both messages with something to deliver were on time")
		require.Contains(t, res.body, "2 validation rejects not counted")
		require.Contains(t, res.body, "is a data error at the source, not a delivery missed")
		require.Contains(t, res.body, "badge-ok\">met")
		require.Contains(t, res.body, `status=rejected`, "the rejects link to the messages")
	})
	t.Run("all messages on request", func(t *testing.T) {
		res := br.get("/dashboard?env=dev&sla=all")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "50.0 %", tile(t, res.body, "tile-sla"))
		require.Contains(t, res.body, "every message received, validation rejects included")
		require.Contains(t, res.body, `sla=all`, "the refresh keeps the choice")
	})
	t.Run("an unknown scope is refused", func(t *testing.T) {
		res := br.get("/dashboard?env=dev&sla=some")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "deliveries, all")
	})
}

func TestDashboardNeedsASignedInUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.browser(t).get("/dashboard")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestMetricsEndpointWantsTheToken(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-0123456789"
	b := setup(t, setupOpts{metricsToken: token, metrics: metrics.New(nil, nil)})
	get := func(auth string) response {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return b.browser(t).do(req)
	}
	res := get("")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.NotContains(t, res.body, "crossdock_")
	require.Equal(t, http.StatusUnauthorized, get("Bearer wrong-token-0123456789").StatusCode)
	res = get("Bearer " + token)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "# TYPE crossdock_http_requests_total counter")
	require.Contains(t, res.body, "go_goroutines")

	// Without a token the main address has no /metrics.
	off := setup(t, setupOpts{metrics: metrics.New(nil, nil)})
	require.Equal(t, http.StatusNotFound, off.browser(t).get("/metrics").StatusCode)
}

func TestRiverUIIsForAdminsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "support@shop.example", account.RoleSupport)
	br := b.browser(t)
	br.signIn("support@shop.example")
	require.Equal(t, http.StatusForbidden, br.get("/admin/river").StatusCode)
	b.user(t, "admin@shop.example", account.RoleAdmin)
	admin := b.browser(t)
	admin.signIn("admin@shop.example")
	// Not running in this test's server: a clear 404, not a crash.
	res := admin.get("/admin/river/queues")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, res.body, "River")
}

func TestRiverUICallsNeedThisOriginFromAScript(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "admin@shop.example", account.RoleAdmin)
	admin := b.browser(t)
	admin.signIn("admin@shop.example")
	call := func(origin, mode string) int {
		req := httptest.NewRequest(http.MethodPost, "/admin/river/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`))
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if mode != "" {
			req.Header.Set("Sec-Fetch-Mode", mode)
		}
		return admin.do(req).StatusCode
	}
	// Past the CSRF check, River's UI is not running in this test: 404.
	require.Equal(t, http.StatusNotFound, call("http://example.com", "cors"))
	require.Equal(t, http.StatusNotFound, call("http://example.com", "same-origin"))
	require.Equal(t, http.StatusForbidden, call("http://example.com", "navigate"), "a form post")
	require.Equal(t, http.StatusForbidden, call("http://example.com", ""), "no fetch metadata")
	require.Equal(t, http.StatusForbidden, call("https://evil.example", "cors"), "another site")
	require.Equal(t, http.StatusForbidden, call("", "cors"), "no origin")
}

// River's UI pages carry a way back into Crossdock; its API answers are
// left as they are.
func TestRiverUIHasAWayBack(t *testing.T) {
	t.Parallel()
	river := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/river/api/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":[]}`))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><body><div id="root"></div></body></html>`))
	})
	b := setup(t, setupOpts{riverUI: river})
	b.user(t, "admin@shop.example", account.RoleAdmin)
	admin := b.browser(t)
	admin.signIn("admin@shop.example")
	t.Run("the page links back", func(t *testing.T) {
		res := admin.get("/admin/river/jobs")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, `<a href="/admin" id="back-to-crossdock"`)
		require.Regexp(t, `Back to Crossdock</a></body>`, res.body)
	})
	t.Run("the API is untouched", func(t *testing.T) {
		res := admin.get("/admin/river/api/jobs")
		require.Equal(t, `{"data":[]}`, res.body)
	})
}
