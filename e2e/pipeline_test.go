package e2e

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoOrderIsDeliveredAndVisible is the pipeline's journey: the demo seed
// prints an API key; an order posted with it is accepted (202), processed
// and delivered to the fake ERP; its message page shows the timeline
// reaching delivered and what the capture target recorded.
func TestDemoOrderIsDeliveredAndVisible(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	m := regexp.MustCompile(`API key for dev, shown only now: (\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the demo seed printed no API key:\n%s", p.stdout.String())
	}
	key := m[1]

	order, err := os.ReadFile("../docs/demo-order.json")
	if err != nil {
		t.Fatal(err)
	}
	// A VIP tag makes the order take the capture route too.
	body := strings.Replace(string(order), `"tags": "newsletter"`, `"tags": "newsletter, vip"`, 1)
	req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/api/v1/envs/dev/flows/storefront-orders/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("posting the demo order answered %d: %s\n%s", res.StatusCode, answer, p.Logs())
	}
	id := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindStringSubmatch(string(answer))
	if id == nil {
		t.Fatalf("no message id in %s", answer)
	}

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "admin@localhost", "admin password for e2e")
	deadline := time.Now().Add(30 * time.Second)
	for {
		must(t, ctx, "open the message page", chromedp.Navigate(p.baseURL+"/messages/"+id[1]), chromedp.WaitVisible(chromedp.CSS("#timeline")))
		status := text(t, ctx, "#message-status")
		if status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			tl := text(t, ctx, "#timeline")
			t.Fatalf("after 30 s the message is %q; timeline:\n%s\n%s", status, tl, p.Logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
	waitText(t, ctx, "#timeline", "Received")
	waitText(t, ctx, "#timeline", "Delivered to")
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("#timeline"))); !strings.Contains(html, `data-stage="delivered"`) {
		t.Fatalf("the timeline has no delivered step:\n%s", html)
	}
	waitText(t, ctx, "#capture", "Captured request")
	waitText(t, ctx, "#capture", "crm-vip-orders")

	must(t, ctx, "open the environment's captured requests", chromedp.Navigate(p.baseURL+"/captures?env=dev"), chromedp.WaitVisible(chromedp.CSS("main")))
	waitText(t, ctx, "main", "crm-vip-orders")
	waitText(t, ctx, "main", id[1])
}
