package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDesignerVersionsAndPromotionFitAPhone opens the designer, the
// versions page and the promotion preview at 390 px, a phone's width: no
// page scrolls sideways, and the designer shows the mapping before its
// reference material (samples, fields, functions).
func TestDesignerVersionsAndPromotionFitAPhone(t *testing.T) {
	t.Parallel()
	const adminPassword = "admin password for e2e"
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD="+adminPassword, "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "admin@localhost", adminPassword)
	must(t, ctx, "a phone-sized window", chromedp.EmulateViewport(390, 844))

	pages := []struct{ name, path, ready string }{
		{"designer", "/flows/storefront-orders", "#draft"},
		{"versions", "/flows/storefront-orders/versions", "main"},
		{"promotion preview", "/promote?flow=storefront-orders&to=test", "#preview-result"},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			must(t, ctx, "open the "+pg.name, chromedp.Navigate(p.baseURL+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
			wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= w) return "";
  const over = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w + 1 && getComputedStyle(e).position !== "fixed")
    .slice(0, 6).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " " + Math.round(e.getBoundingClientRect().right));
  return document.documentElement.scrollWidth + "px wide at " + w + "px: " + over.join(", ");
})()`))
			if err != nil {
				t.Fatal(err)
			}
			if wide != "" {
				t.Errorf("the %s scrolls sideways: %s", pg.name, wide)
			}
		})
	}
	t.Run("the designer shows the mapping first", func(t *testing.T) {
		must(t, ctx, "open the designer", chromedp.Navigate(p.baseURL+"/flows/storefront-orders"), chromedp.WaitVisible(chromedp.CSS("#draft")))
		if n := evalInt(t, ctx, `document.querySelector("#draft").getBoundingClientRect().top < document.querySelector(".designer-side").getBoundingClientRect().top ? 1 : 0`); n != 1 {
			t.Error("at 390 px the samples, fields and functions come before the mapping")
		}
		narrow, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#draft input[data-expr]")].filter(i => i.offsetParent && i.getBoundingClientRect().width < 250).map(i => i.name + " " + Math.round(i.getBoundingClientRect().width) + "px").slice(0, 3).join(", ")`))
		if err != nil || narrow != "" {
			t.Errorf("expression inputs narrower than 250 px at 390 px: %s %v", narrow, err)
		}
	})
}
