package e2e

import (
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// keystrokeProbe is installed in the designer page: it notes the time of
// every input event, and waitLive(sel, want) resolves with the
// milliseconds from the last input event to the moment the element sel
// first contains want, watching the DOM for the change.
const keystrokeProbe = `(() => {
  window.__lastInput = 0;
  document.addEventListener("input", () => { window.__lastInput = performance.now(); }, true);
  // requests holds each preview request's round trip (ms), from htmx
  // sending it to the answer arriving.
  window.__requests = [];
  window.__answers = [];
  let sent = 0;
  document.addEventListener("htmx:beforeSwap", (e) => { if ((e.detail.requestConfig.path || "").includes("/preview")) window.__answers.push(performance.now() - sent); });
  document.addEventListener("htmx:beforeRequest", (e) => { if ((e.detail.requestConfig.path || "").includes("/preview")) sent = performance.now(); });
  document.addEventListener("htmx:afterRequest", (e) => { if ((e.detail.requestConfig.path || "").includes("/preview")) window.__requests.push(performance.now() - sent); });
  window.waitLive = (sel, want) => new Promise((resolve) => {
    const seen = () => {
      const el = document.querySelector(sel);
      return el && el.textContent.includes(want);
    };
    if (seen()) { resolve(performance.now() - window.__lastInput); return; }
    const obs = new MutationObserver(() => {
      if (seen()) { obs.disconnect(); resolve(performance.now() - window.__lastInput); }
    });
    obs.observe(document.body, {subtree: true, childList: true, characterData: true});
  });
  return {};
})()`

// BenchmarkKeystrokeToLiveValue measures, in the browser, the time from a
// keystroke in an expression editor of the storefront template (two routes, 44
// rows with nested objects, for-each lines and lookups) to the moment the
// row's live value shows the new result: the debounce, the preview request,
// the server's work and the page update together. Each iteration types one
// character into a string literal, so every keystroke changes the value.
// It reports the median and the 95th percentile as p50-ms and p95-ms, the
// median time from sending a preview request to its answer arriving
// (answer-p50-ms: the server and the network) and to the page having
// swapped it in (request-p50-ms), to tell the server's part from the
// page's.
//
//	go test -run XXX -bench KeystrokeToLiveValue -benchtime 60x ./e2e/
func BenchmarkKeystrokeToLiveValue(b *testing.B) {
	p := startProgram(b, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(b, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(b)
	signIn(b, ctx, p.baseURL, "ana@shop.example", "analyst password for e2e")
	const input = `[name="f:/routes/0/mapping/1/expr"]`
	const cell = "#live-routes-0-mapping-1-expr"
	must(b, ctx, "create a flow from the storefront template",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Shop orders"),
		chromedp.SendKeys(chromedp.CSS("#flow-template"), "template: storefront-order-to-erp"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
		chromedp.Evaluate[chromedp.Void](keystrokeProbe),
	)
	// The expression becomes the literal "k"; each keystroke then adds an
	// x before its closing quote.
	must(b, ctx, "make the row a string literal",
		chromedp.Focus(chromedp.CSS(editable(input))),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.SendKeys(chromedp.CSS(editable(input)), `"k"`+kb.ArrowLeft),
	)
	waitText(b, ctx, cell, `"k"`)

	var took []float64
	value := "k"
	for b.Loop() {
		value += "x"
		if err := chromedp.Do(ctx, chromedp.KeyEvent("x")); err != nil {
			b.Fatal(err)
		}
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](
			`waitLive("`+cell+`", '"`+value+`"')`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatalf("the live value never showed %q: %v", value, err)
		}
		took = append(took, ms)
		// Let the answer settle before the next keystroke, as a person
		// typing a few characters a second would.
		time.Sleep(50 * time.Millisecond)
	}
	requests, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`window.__requests`))
	if err != nil || len(requests) == 0 {
		b.Fatalf("no preview request was seen: %v", err)
	}
	answers, _ := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`window.__answers`))
	sort.Float64s(answers)
	if len(answers) > 0 {
		b.ReportMetric(answers[len(answers)/2], "answer-p50-ms")
	}
	sort.Float64s(took)
	sort.Float64s(requests)
	b.ReportMetric(took[len(took)/2], "p50-ms")
	b.ReportMetric(took[len(took)*95/100], "p95-ms")
	b.ReportMetric(requests[len(requests)/2], "request-p50-ms")
	b.ReportMetric(0, "ns/op")
}
