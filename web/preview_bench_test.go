package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crossdock/crossdock/account"
)

// BenchmarkDesignerPreview measures the live-preview round trip through the
// router: the analyst edits one expression of the storefront template's
// mapping (nested objects, for-each lines, lookups), the server applies the
// edit to the saved draft, compiles, runs the selected sample and renders
// every live cell. Besides ns/op it reports the 95th percentile as p95-ms.
func BenchmarkDesignerPreview(b *testing.B) {
	bundle := setup(b)
	bundle.user(b, "ana@shop.example", account.RoleAnalyst)
	br := bundle.browser(b)
	br.signIn("ana@shop.example")
	createStorefrontFlow(b, br)
	br.get("/flows/shop-orders")
	rev := br.revision()

	var durations []time.Duration
	i := 0
	for b.Loop() {
		i++
		form := url.Values{"revision": {rev}, "sample": {"0"},
			"f:/routes/0/mapping/1/expr": {`"WEB-" + trimPrefix(source.name, "#") + "` + strings.Repeat("x", i%7) + `"`}}
		req := httptest.NewRequest(http.MethodPost, "/flows/shop-orders/preview", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", br.csrf)
		res := br.do(req)
		durations = append(durations, serverTime(b, res))
		if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "WEB-") {
			b.Fatalf("preview answered %d", res.StatusCode)
		}
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	p95 := durations[len(durations)*95/100]
	var total time.Duration
	for _, d := range durations {
		total += d
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(len(durations)), "server-ms")
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-server-ms")
}

// serverTime reads the Server-Timing header: the time spent in the server,
// without the test client's overhead.
func serverTime(b *testing.B, res response) time.Duration {
	h := res.Header.Get("Server-Timing")
	ms, err := strconv.ParseFloat(strings.TrimPrefix(h, "app;dur="), 64)
	if err != nil {
		b.Fatalf("no Server-Timing header: %q", h)
	}
	return time.Duration(ms * float64(time.Millisecond))
}
