package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const supportPassword = "support password for e2e"

// postOrder posts an order to the demo flow with its own idempotency key
// and returns the message id.
func postOrder(t *testing.T, p *program, key, idemKey, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/api/v1/envs/dev/flows/storefront-orders/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("posting an order answered %d: %s\n%s", res.StatusCode, answer, p.Logs())
	}
	id := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindStringSubmatch(string(answer))
	if id == nil {
		t.Fatalf("no message id in %s", answer)
	}
	return id[1]
}

func demoKey(t *testing.T, p *program) string {
	t.Helper()
	m := regexp.MustCompile(`API key for dev, shown only now: (\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the demo seed printed no API key:\n%s", p.stdout.String())
	}
	return m[1]
}

func demoOrder(t *testing.T) string {
	t.Helper()
	order, err := os.ReadFile("../docs/demo-order.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(order)
}

// waitPage reloads url until sel's text contains want (or fails after
// limit).
func waitPage(t *testing.T, ctx context.Context, p *program, url, sel, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		must(t, ctx, "open "+url, chromedp.Navigate(p.baseURL+url), chromedp.WaitVisible(chromedp.CSS("main")))
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err == nil && strings.Contains(s, want) {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("after %s %s shows no %q in %s:\n%.1500s\n%s", limit, url, want, sel, body, p.Logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestDeliveryExceptionGroupIsRetriedAndResolvesItself is the inbox's first
// journey: the demo ERP fails every request, the orders pile up as one
// delivery exception group; support opens it, reads the timeline and the
// 503 answers; the target's configuration is fixed; support retries the
// whole group, watches the progress, and the exceptions resolve themselves
// as the deliveries succeed.
func TestDeliveryExceptionGroupIsRetriedAndResolvesItself(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=1")
	p.addUser(t, "sam@shop.example", "support", supportPassword)
	key := demoKey(t, p)
	// The ERP that works, where the fixed configuration points.
	var got atomic.Int64
	erp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"documentNumber": "ERP-1"}`))
	}))
	t.Cleanup(erp.Close)

	ctx := newBrowser(t)
	// Give up after the first failure, so the test need not wait out the
	// retry budget.
	signIn(t, ctx, p.baseURL, "admin@localhost", "admin password for e2e")
	must(t, ctx, "make the ERP target give up at once",
		chromedp.Navigate(p.baseURL+"/environments/dev/targets/erp-sales-orders"),
		chromedp.WaitVisible(chromedp.CSS("#t-url")),
		chromedp.SetValue(chromedp.CSS("#t-attempts"), "1"),
		chromedp.SetValue(chromedp.CSS("#t-bfails"), "100"),
		chromedp.Submit(chromedp.CSS("#t-url")),
		chromedp.WaitVisible(chromedp.CSS("main")),
	)
	signOut(t, ctx)

	order := demoOrder(t)
	for _, k := range []string{"e2e-1", "e2e-2", "e2e-3"} {
		postOrder(t, p, key, k, order)
	}

	signIn(t, ctx, p.baseURL, "sam@shop.example", supportPassword)
	waitPage(t, ctx, p, "/inbox?kind=delivery", "#groups", "http 503", 60*time.Second)
	waitPage(t, ctx, p, "/inbox?kind=delivery", ".group-row .group-link", "3", 30*time.Second)
	must(t, ctx, "open the group",
		chromedp.Click(chromedp.CSS(".group-row .group-link")),
		chromedp.WaitVisible(chromedp.CSS("#group-head")),
	)
	waitText(t, ctx, "#group-head", "3 open")
	// Resolving a selection without a reason is refused in the bulk panel;
	// the ticks stay where they were.
	must(t, ctx, "resolve two without a reason",
		chromedp.Click(chromedp.CSS(`.exception-row:nth-child(1) input[name="ids"]`)),
		chromedp.Click(chromedp.CSS(`.exception-row:nth-child(2) input[name="ids"]`)),
		chromedp.Click(chromedp.CSS(`#bulk-panel button[value="resolve"]`)),
		chromedp.WaitVisible(chromedp.CSS("#bulk-refusal")),
	)
	waitText(t, ctx, "#bulk-refusal", "a reason is required")
	ticked, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#exceptions input[name="ids"]:checked').length`))
	if err != nil || ticked != 2 {
		t.Fatalf("after the refusal %d exceptions are ticked (%v), want the 2 still ticked", ticked, err)
	}
	waitText(t, ctx, "#group-head", "3 open")
	must(t, ctx, "open one exception",
		chromedp.Click(chromedp.CSS(".exception-row a")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")),
	)
	waitText(t, ctx, "#timeline", "Failed delivering to erp-sales-orders")
	waitText(t, ctx, ".delivery", "503")
	waitText(t, ctx, ".delivery", "the demo ERP is busy")
	signOut(t, ctx)

	// The fix: the target's configuration points at the ERP that works.
	signIn(t, ctx, p.baseURL, "admin@localhost", "admin password for e2e")
	must(t, ctx, "point the ERP target at the working ERP",
		chromedp.Navigate(p.baseURL+"/environments/dev/targets/erp-sales-orders"),
		chromedp.WaitVisible(chromedp.CSS("#t-url")),
		chromedp.SetValue(chromedp.CSS("#t-url"), erp.URL+"/erp/sales-orders"),
		chromedp.SetValue(chromedp.CSS("#t-attempts"), "5"),
		chromedp.Submit(chromedp.CSS("#t-url")),
		chromedp.WaitVisible(chromedp.CSS("main")),
	)
	signOut(t, ctx)

	signIn(t, ctx, p.baseURL, "sam@shop.example", supportPassword)
	waitPage(t, ctx, p, "/inbox?kind=delivery", "#groups", "http 503", 10*time.Second)
	must(t, ctx, "retry the whole group",
		chromedp.Click(chromedp.CSS(".group-row .group-link")),
		chromedp.WaitVisible(chromedp.CSS("#retry-group")),
		chromedp.Click(chromedp.CSS("#retry-group")),
		chromedp.WaitVisible(chromedp.CSS("#bulk-progress")),
	)
	// htmx refreshes the progress until the job is done.
	deadline := time.Now().Add(30 * time.Second)
	for {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("#bulk-progress")))
		if strings.Contains(html, `data-status="done"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bulk retry did not finish:\n%s\n%s", html, p.Logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
	waitText(t, ctx, "#bulk-done", "3")
	// The exceptions resolve themselves as the deliveries succeed.
	waitPage(t, ctx, p, "/inbox?kind=delivery&status=resolved&view=list", "#exceptions", "resolved", 30*time.Second)
	waitPage(t, ctx, p, "/inbox?kind=delivery", "main", "Nothing needs attention", 30*time.Second)
	if n := got.Load(); n < 3 {
		t.Fatalf("the working ERP got %d requests, want 3", n)
	}
}

// TestValidationExceptionIsEditedAndReplayed is the inbox's second journey:
// an order fails validation; support edits the payload in the inbox,
// previews, replays it, and it is delivered; the history shows the
// original, the edit and who made it.
func TestValidationExceptionIsEditedAndReplayed(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	p.addUser(t, "sam@shop.example", "support", supportPassword)
	bad := strings.Replace(demoOrder(t), `"email": "Ana.Silva@Example.com"`, `"email": "not-an-address"`, 1)
	id := postOrder(t, p, demoKey(t, p), "e2e-bad-email", bad)

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "sam@shop.example", supportPassword)
	waitPage(t, ctx, p, "/inbox?view=list&kind=validation", "#exceptions", "e-mail address", 30*time.Second)
	must(t, ctx, "open the exception",
		chromedp.Click(chromedp.CSS(".exception-row a")),
		chromedp.WaitVisible(chromedp.CSS("#payload-editor")),
	)
	waitText(t, ctx, "#exception-error", "valid-email")
	exceptionURL := location(t, ctx)
	payload, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#payload-editor")))
	if err != nil || !strings.Contains(payload, "not-an-address") {
		t.Fatalf("the editor holds %q (%v)", payload, err)
	}
	must(t, ctx, "edit the payload and preview",
		chromedp.SetValue(chromedp.CSS("#payload-editor"), strings.Replace(payload, "not-an-address", "ana.silva@example.com", 1)),
		chromedp.SetValue(chromedp.CSS("#replay-reason"), "customer gave the right address"),
		chromedp.Click(chromedp.CSS("#preview-replay")),
		chromedp.WaitVisible(chromedp.CSS("#preview-result")),
	)
	waitText(t, ctx, "#preview-result", "ana.silva@example.com")
	waitText(t, ctx, "#preview-result", "erp-sales-orders")
	// The exception page shows the message's timeline too, so wait for
	// the address to change rather than for #timeline.
	must(t, ctx, "replay", chromedp.Click(chromedp.CSS("#replay")))
	waitLocation(t, ctx, "/messages/")
	if loc := location(t, ctx); strings.Contains(loc, id) {
		t.Fatalf("after the replay the browser is at %s, want the new revision's page", loc)
	}
	must(t, ctx, "the new revision's page", chromedp.WaitVisible(chromedp.CSS("#timeline")))
	newURL := strings.TrimPrefix(location(t, ctx), p.baseURL)
	waitPage(t, ctx, p, newURL, "#message-status", "delivered", 30*time.Second)

	must(t, ctx, "back to the exception", chromedp.Navigate(exceptionURL), chromedp.WaitVisible(chromedp.CSS("#history")))
	waitText(t, ctx, "#exception-status", "resolved")
	waitText(t, ctx, "#history", "revision 1")
	waitText(t, ctx, "#history", "payload edited")
	waitText(t, ctx, ".revision-by", "sam@shop.example")
	waitText(t, ctx, ".revision-diff", `-   "email": "not-an-address"`)
	waitText(t, ctx, ".revision-diff", `+   "email": "ana.silva@example.com"`)
	waitText(t, ctx, "#actions", "Replayed as a new message on v")
	waitText(t, ctx, "#timeline", "Replayed as a new message (revision 1) by sam@shop.example")
	// Refreshing the timeline stays on the exception.
	must(t, ctx, "refresh the timeline", chromedp.Click(chromedp.CSS("#timeline-refresh")))
	waitText(t, ctx, "#timeline", "Replayed as a new message")
	if loc := location(t, ctx); loc != exceptionURL {
		t.Fatalf("refreshing the timeline went to %s, want to stay at %s", loc, exceptionURL)
	}

	// The replay and its original link to each other.
	must(t, ctx, "follow the replay",
		chromedp.Click(chromedp.CSS(`#timeline a.timeline-link[href="`+newURL+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-stage="received"]`)),
	)
	waitText(t, ctx, "#timeline", "Received as a replay (revision 1), payload edited by sam@shop.example")
	must(t, ctx, "back to the original",
		chromedp.Click(chromedp.CSS(`#timeline a.timeline-link[href="/messages/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#closed-exceptions")),
	)
	waitText(t, ctx, "#closed-exceptions", "resolved")
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, `id="needs-attention"`) {
		t.Fatal("a message whose exception is resolved still shows Needs attention")
	}
}
