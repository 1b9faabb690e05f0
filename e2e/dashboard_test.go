package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const metricsToken = "e2e-metrics-token-0123456789"

// TestDashboardCountsWhatHappened is the operator's journey: 100 orders posted,
// 10 of them refused by the flow's validation; the dashboard shows 100
// received, 90 delivered, 10 exceptions and 90 % within the SLA (which
// misses the default 99 % objective). The admin then opens River's UI
// inside Crossdock, and /metrics passes promtool's check on both the main
// address (with the token) and the separate metrics address.
func TestDashboardCountsWhatHappened(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: `make test` installs Debian's prometheus package (scripts/ensure-promtool.sh)")
	}
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0",
		"CROSSDOCK_ROLLUP_EVERY=1s", "CROSSDOCK_METRICS_TOKEN="+metricsToken, "CROSSDOCK_METRICS_ADDR=127.0.0.1:0")
	m := regexp.MustCompile(`API key for dev, shown only now: (\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the demo seed printed no API key:\n%s", p.stdout.String())
	}
	order, err := os.ReadFile("../docs/demo-order.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(order), `"currency": "eur"`, `"currency": "usd"`, 1)
	if bad == string(order) {
		t.Fatal("the demo order has no currency to break")
	}
	for i := range 100 {
		body := string(order)
		if i%10 == 9 {
			body = bad
		}
		req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/api/v1/envs/dev/flows/storefront-orders/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+m[1])
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("dashboard-%03d", i))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("order %d answered %d: %s", i, res.StatusCode, answer)
		}
	}

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "admin@localhost", "admin password for e2e")
	deadline := time.Now().Add(60 * time.Second)
	for {
		must(t, ctx, "open the dashboard", chromedp.Navigate(p.baseURL+"/dashboard?env=dev&range=hour"), chromedp.WaitVisible(chromedp.CSS("#dashboard")))
		got := []string{text(t, ctx, "#tile-received .tile-value"), text(t, ctx, "#tile-delivered .tile-value"),
			text(t, ctx, "#tile-exceptions .tile-value"), text(t, ctx, "#tile-sla .tile-value")}
		// The ten rejects are data errors: deliveries only, all 90 were on time.
		if strings.Join(got, " ") == "100 90 10 100.0 %" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the dashboard shows received, delivered, exceptions, SLA = %q\n%s", got, p.Logs())
		}
		time.Sleep(time.Second)
	}
	sla := text(t, ctx, "table.sla")
	for _, want := range []string{"storefront orders", "100", "90", "100.0 %", "met", "99 % within 1 minute"} {
		if !strings.Contains(strings.ToLower(sla), strings.ToLower(want)) {
			t.Errorf("the SLA table lacks %q:\n%s", want, sla)
		}
	}
	if rule := text(t, ctx, "#sla-rule"); !strings.Contains(rule, "not a delivery missed") {
		t.Errorf("the page does not state the SLA rule: %q", rule)
	}
	// Counting every message, the rejects are misses.
	must(t, ctx, "count all messages",
		chromedp.SendKeys(chromedp.CSS("#dash-sla"), "all"), // typed: picks "all messages"
		chromedp.Click(chromedp.CSS(`form[action="/dashboard"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#dashboard")),
	)
	waitText(t, ctx, "#tile-sla .tile-value", "90.0 %")
	waitText(t, ctx, "table.sla", "missed")
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#tile-exceptions a"), "href"))
	if err != nil || !strings.HasPrefix(href.Value, "/inbox?env=dev&from=") {
		t.Errorf("the exceptions number links to %q (%v), want the inbox filtered to dev and the range", href.Value, err)
	}
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("#dashboard")))
	if !strings.Contains(html, `role="img"`) || !strings.Contains(html, "received 100") {
		t.Errorf("the dashboard has no accessible message chart:\n%.2000s", html)
	}

	// River's UI, inside Crossdock's session and content security policy.
	must(t, ctx, "open River's UI", chromedp.Navigate(p.baseURL+"/admin/river"), chromedp.WaitVisible(chromedp.CSS("#root nav")))
	waitText(t, ctx, "#root", "Jobs")
	waitText(t, ctx, "#root", "Queues")
	// Its API calls pass Crossdock's CSRF check without the token: cancelling
	// a job that does not exist is River's answer, not a 403.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`fetch("/admin/river/api/jobs/cancel", {method: "POST", body: JSON.stringify({ids: ["987654321"]})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || status == http.StatusForbidden || status >= 500 {
		t.Errorf("River UI's cancel call answered %d (%v)\n%s", status, err, p.Logs())
	}

	// /metrics: with the token on the main address, alone on the metrics
	// address; promtool accepts both.
	get := func(url, auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(p.baseURL+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token answered %d", code)
	}
	code, main := get(p.baseURL+"/metrics", "Bearer "+metricsToken)
	if code != http.StatusOK {
		t.Fatalf("/metrics with the token answered %d: %s", code, main)
	}
	for _, want := range []string{`crossdock_messages_accepted_total{environment="dev",flow="storefront-orders"} 100`,
		`crossdock_delivery_attempts_total{environment="dev",outcome="delivered",target="erp-sales-orders"} 90`,
		`crossdock_exceptions_open{environment="dev",kind="validation"} 10`, `crossdock_queue_jobs{queue="deliver",state="available"}`,
		"crossdock_delivery_latency_seconds_bucket", "crossdock_http_requests_total"} {
		if !strings.Contains(main, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(main, "crossdock_messages_accepted|crossdock_delivery_attempts_total"))
		}
	}
	var addr string
	for _, line := range strings.Split(p.Logs(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving metrics" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no metrics listener logged:\n%s", p.Logs())
	}
	code, alone := get("http://"+addr+"/metrics", "")
	if code != http.StatusOK || !strings.Contains(alone, "crossdock_messages_accepted_total") {
		t.Fatalf("the metrics address answered %d:\n%.500s", code, alone)
	}
	for name, body := range map[string]string{"main": main, "alone": alone} {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics rejects the %s /metrics: %v\n%s", name, err, out)
		}
	}
}

func grepLines(s, pattern string) string {
	re := regexp.MustCompile(pattern)
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
