package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// overflow says how a page scrolls sideways, naming the widest elements,
// or "" when it does not.
const overflowJS = `(() => {
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= w) return "";
  const over = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w + 1 && getComputedStyle(e).position !== "fixed")
    .slice(0, 6).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " " + Math.round(e.getBoundingClientRect().right));
  return document.documentElement.scrollWidth + "px wide at " + w + "px: " + over.join(", ");
})()`

// TestSupportAndReleasePagesFitAPhone opens the pages support staff and
// release managers work in — the inbox (grouped and flat), an exception, a
// message, the promotion requests and one request — at a desktop's 1440 px
// and a phone's 390 px: none scrolls sideways, and a table's error column
// is not squeezed to a character per line.
func TestSupportAndReleasePagesFitAPhone(t *testing.T) {
	t.Parallel()
	const adminPassword = "admin password for e2e"
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD="+adminPassword, "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=1")
	key := demoKey(t, p)
	postOrder(t, p, key, "narrow-delivery", demoOrder(t))
	bad := strings.Replace(demoOrder(t), `"email": "Ana.Silva@Example.com"`, `"email": "not-an-address"`, 1)
	msg := postOrder(t, p, key, "narrow-validation", bad)

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "admin@localhost", adminPassword)
	// A request waiting in prod: configure prod, then ask for v1 there.
	must(t, ctx, "configure the ERP target in prod",
		chromedp.Navigate(p.baseURL+"/environments/prod/targets/erp-sales-orders"),
		chromedp.WaitVisible(chromedp.CSS("#target-form")),
		chromedp.SendKeys(chromedp.CSS("#t-url"), "http://127.0.0.1:9/erp/prod"),
		chromedp.Click(chromedp.CSS(`#target-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	must(t, ctx, "set ERP_COMPANY in prod",
		chromedp.WaitVisible(chromedp.CSS("#var-name-prod")),
		chromedp.SendKeys(chromedp.CSS("#var-name-prod"), "ERP_COMPANY"),
		chromedp.SendKeys(chromedp.CSS("#var-value-prod"), "2000"),
		chromedp.Click(chromedp.CSS("#env-admin-prod .variable-form button")),
	)
	// The target's confirmation is still on the page: wait for the
	// variable itself before leaving, or the navigation aborts its save.
	waitText(t, ctx, "#env-admin-prod", "ERP_COMPANY")
	must(t, ctx, "request v1 in prod",
		chromedp.Navigate(p.baseURL+"/promote?flow=storefront-orders&to=prod&version=1"),
		chromedp.WaitVisible(chromedp.CSS("#promote")),
		chromedp.SendKeys(chromedp.CSS("#p-reason"), "go live with the spring catalogue and the new ERP company code"),
		chromedp.Click(chromedp.CSS("#promote")),
		chromedp.WaitVisible(chromedp.CSS("#request")),
	)
	request := strings.TrimPrefix(location(t, ctx), p.baseURL)
	waitPage(t, ctx, p, "/inbox?view=list", "#exceptions", "malformed", 60*time.Second)
	waitPage(t, ctx, p, "/inbox?view=list", "#exceptions", "delivery", 60*time.Second)
	must(t, ctx, "the exception page", chromedp.Navigate(p.baseURL+"/inbox?view=list&kind=validation"), chromedp.WaitVisible(chromedp.CSS("#exceptions")))
	must(t, ctx, "open it", chromedp.Click(chromedp.CSS("#exceptions .exception-row a")), chromedp.WaitVisible(chromedp.CSS("#exception-actions")))
	exception := strings.TrimPrefix(location(t, ctx), p.baseURL)

	// Support searches the way the customer says it: the order number
	// without its "#", part of the name.
	for _, typed := range []string{"1001", "ana silv"} {
		must(t, ctx, "search messages for "+typed,
			chromedp.Navigate(p.baseURL+"/messages"),
			chromedp.WaitVisible(chromedp.CSS("#m-value")),
			chromedp.SendKeys(chromedp.CSS("#m-value"), typed+"\n"),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/messages/`+msg+`"]`)),
		)
	}

	pages := []struct{ name, path, ready string }{
		{"message search", "/messages?value=1001", "main"},
		{"inbox", "/inbox", "#groups"},
		{"flat inbox", "/inbox?view=list", "#exceptions"},
		{"exception", exception, "#exception-actions"},
		{"message", "/messages/" + msg, "#timeline"},
		{"promotion requests", "/promotions", "#requests"},
		{"promotion request", request, "#request"},
	}
	for _, width := range []int64{1440, 390} {
		must(t, ctx, "a window", chromedp.EmulateViewport(width, 900))
		for _, pg := range pages {
			t.Run(pg.name+" at "+strconv.FormatInt(width, 10), func(t *testing.T) {
				must(t, ctx, "open the "+pg.name, chromedp.Navigate(p.baseURL+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
				wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](overflowJS))
				if err != nil {
					t.Fatal(err)
				}
				if wide != "" {
					t.Errorf("the %s scrolls sideways: %s", pg.name, wide)
				}
				// No table cell squeezed to a few characters per line.
				thin, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main td")].filter(td => td.offsetParent && td.textContent.trim().length > 12 && td.getBoundingClientRect().width < 60).slice(0, 3).map(td => Math.round(td.getBoundingClientRect().width) + "px: " + td.textContent.trim().slice(0, 30)).join("; ")`))
				if err != nil {
					t.Fatal(err)
				}
				if thin != "" {
					t.Errorf("the %s squeezes table cells: %s", pg.name, thin)
				}
				// Nor does a table scroll sideways inside its frame at a phone's
				// width: records become stacked cards.
				if width < 640 {
					inner, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main .table-wrap")].filter(w => w.scrollWidth > w.clientWidth + 1).map(w => (w.querySelector("table") || {}).id + " " + w.scrollWidth + "px in " + w.clientWidth + "px").join("; ")`))
					if err != nil {
						t.Fatal(err)
					}
					if inner != "" {
						t.Errorf("the %s has a table scrolling sideways: %s", pg.name, inner)
					}
				}
			})
		}
	}
}
