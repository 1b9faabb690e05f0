package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAnalystAcceptsChangedOutputAndSavesAMessageAsSample is the test case
// journey: an intentional change makes the demo flow's test cases fail and
// publishing is refused; the analyst reads the field diff, accepts the
// actual output for one case and then for all failing ones, and publishes.
// Then, from a message's page, the analyst saves its payload as a sample
// of the flow and finds it selected in the designer. Clicks and typing
// only.
func TestAnalystAcceptsChangedOutputAndSavesAMessageAsSample(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	order := strings.Replace(demoOrder(t), `"name": "#1001"`, `"name": "#4242"`, 1)
	id := postOrder(t, p, demoKey(t, p), "e2e-sample-4242", order)

	ctx := newBrowser(t)
	base := p.baseURL
	signIn(t, ctx, base, "ana@shop.example", "analyst password for e2e")

	const input = "#inlive-routes-0-mapping-1-expr"
	must(t, ctx, "open the demo flow and change a row on purpose",
		chromedp.Navigate(base+"/flows/storefront-orders"),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
		typeInto(input, `"WEB-" + trimPrefix(source.name, "#")`),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Saved draft revision")

	must(t, ctx, "try to publish",
		chromedp.SendKeys(chromedp.CSS("#publish-note"), "prefix web orders"),
		chromedp.Click(chromedp.CSS(`#publish button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, "main", "failing test case")

	must(t, ctx, "run the test cases", chromedp.Click(chromedp.CSS("#run-tests")))
	// The refused publish already showed the failing case and its accept
	// button: wait for the run's own page before using them.
	waitLocation(t, ctx, "/tests/run")
	must(t, ctx, "the run's results", chromedp.WaitVisible(chromedp.CSS("#accept-0")))
	waitText(t, ctx, "#test-0 table.diff", `"WEB-`)
	waitText(t, ctx, "#test-0 table.diff", "externalReference")

	must(t, ctx, "accept the first case's actual output",
		chromedp.Click(chromedp.CSS("#accept-0")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Accepted the actual result as expected")
	must(t, ctx, "run again", chromedp.Click(chromedp.CSS("#run-tests")))
	waitText(t, ctx, "main", "test cases passed.")
	if !strings.Contains(text(t, ctx, "#test-0"), "passed") {
		t.Fatalf("the accepted case still fails: %s", text(t, ctx, "#test-0"))
	}
	must(t, ctx, "accept all failing",
		chromedp.Click(chromedp.CSS("#accept-all")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Accepted the actual result as expected")
	must(t, ctx, "run once more",
		chromedp.Click(chromedp.CSS("#run-tests")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "test cases passed")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#tests .badge-bad').length`)); err != nil || n != 0 {
		t.Fatalf("%d cases still fail (%v): %s", n, err, text(t, ctx, "#tests"))
	}

	must(t, ctx, "publish",
		chromedp.SendKeys(chromedp.CSS("#publish-note"), "prefix web orders"),
		chromedp.Click(chromedp.CSS(`#publish button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Published version")

	must(t, ctx, "save the message as a sample",
		chromedp.Navigate(base+"/messages/"+id),
		chromedp.WaitVisible(chromedp.CSS("#save-sample")),
		chromedp.SendKeys(chromedp.CSS("#save-sample-name"), "order 4242 from dev"),
		chromedp.Click(chromedp.CSS("#save-sample-submit")),
	)
	waitLocation(t, ctx, "/flows/storefront-orders")
	must(t, ctx, "the designer shows it", chromedp.WaitVisible(chromedp.CSS("#draft")))
	waitText(t, ctx, ".alert-ok", "Added sample “order 4242 from dev”")
	waitText(t, ctx, ".samples a[aria-current=true]", "order 4242 from dev")
	must(t, ctx, "view its JSON",
		chromedp.Click(chromedp.CSS("#view-sample")),
		chromedp.WaitVisible(chromedp.CSS("#sample-json")),
	)
	waitText(t, ctx, "#sample-json", "#4242")

	must(t, ctx, "saving under the same name again is refused",
		chromedp.Navigate(base+"/messages/"+id),
		chromedp.WaitVisible(chromedp.CSS("#save-sample")),
		chromedp.SendKeys(chromedp.CSS("#save-sample-name"), "order 4242 from dev"),
		chromedp.Click(chromedp.CSS("#save-sample-submit")),
	)
	waitText(t, ctx, "main", "replace a sample with the same name")
}
