package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// previewGate holds the designer's live-preview requests in the browser
// (DevTools' Fetch domain) while it is closed, so a test can make an
// answer arrive after things that happened later.
type previewGate struct {
	ctx  context.Context
	held chan fetch.RequestID
	mu   sync.Mutex
	open bool
}

func newPreviewGate(t *testing.T, ctx context.Context) *previewGate {
	t.Helper()
	g := &previewGate{ctx: ctx, held: make(chan fetch.RequestID, 64)}
	paused := make(chan fetch.RequestID, 64)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			paused <- e.RequestID
		}
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-paused:
				g.mu.Lock()
				open := g.open
				g.mu.Unlock()
				if open {
					g.release(id)
				} else {
					g.held <- id
				}
			}
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/preview"}}}); err != nil {
		t.Fatal(err)
	}
	return g
}

// next waits for the next preview request the gate holds.
func (g *previewGate) next(t *testing.T) fetch.RequestID {
	t.Helper()
	select {
	case id := <-g.held:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no preview request was sent")
	}
	return ""
}

// release lets one held request go to the server.
func (g *previewGate) release(id fetch.RequestID) {
	_, _ = chromedp.Call(g.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
}

// openAll lets every held request and every later one go.
func (g *previewGate) openAll() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
	for {
		select {
		case id := <-g.held:
			g.release(id)
		default:
			return
		}
	}
}

// previewsQuiet waits until no preview request has been under way for half
// a second.
func previewsQuiet(t *testing.T, ctx context.Context) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		busy, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("live-preview").classList.contains("htmx-request")`))
		if err != nil {
			t.Fatal(err)
		}
		if busy {
			quietSince = time.Now()
		} else if time.Since(quietSince) > 500*time.Millisecond {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the live preview never went quiet")
}

// TestDesignerPreviewAnswersInOrder checks the live preview's two
// guarantees with answers made to arrive late: a preview answer overtaken
// by an operation (here Save, sent with a newer keystroke) never replaces
// what that operation's answer shows, and a button pressed while a preview
// answer changes the fragment it is in is still the button released (the
// answer morphs the fragment instead of replacing it).
func TestDesignerPreviewAnswersInOrder(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "ana@shop.example", "analyst password for e2e")
	const field = `[name="f:/routes/0/mapping/1/expr"]`
	const cell = "#live-routes-0-mapping-1-expr"
	must(t, ctx, "create a flow from the storefront template",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Shop orders"),
		chromedp.SendKeys(chromedp.CSS("#flow-template"), "template: storefront-order-to-erp"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	must(t, ctx, "make the row a string literal",
		chromedp.Focus(chromedp.CSS(editable(field))),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.SendKeys(chromedp.CSS(editable(field)), `"k"`+kb.ArrowLeft),
	)
	waitText(t, ctx, cell, `"k"`)
	previewsQuiet(t, ctx)

	gate := newPreviewGate(t, ctx)
	// x: its preview is held. y: its preview waits behind the held one.
	// Save sends the form with "kxy" and shows its answer.
	must(t, ctx, "type x", chromedp.KeyEvent("x"))
	stale := gate.next(t)
	must(t, ctx, "type y, then save", chromedp.KeyEvent("y"), chromedp.Click(chromedp.CSS("#save")))
	waitText(t, ctx, cell, `"kxy"`)
	must(t, ctx, "watch the cell", script(`window.__shown = [];
		new MutationObserver(() => { const c = document.querySelector("`+cell+`"); window.__shown.push(c ? c.textContent : ""); })
			.observe(document.body, {subtree: true, childList: true, characterData: true})`))
	// The held answer ("kx") arrives now, after Save's.
	gate.release(stale)
	gate.openAll()
	previewsQuiet(t, ctx)
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__shown`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shown {
		if !strings.Contains(s, `"kxy"`) {
			t.Fatalf("after Save showed \"kxy\", the cell showed %q (all: %q): an older preview answer replaced a newer one", s, shown)
		}
	}
	waitText(t, ctx, cell, `"kxy"`)

	// Press companyCode's button in the destination pane; meanwhile the
	// first row's target becomes header.orderType, so the preview answers
	// a pane with a field more above it; release.
	const pressed = `document.getElementById("dest-0-companyCode").querySelector("button.dest-pick")`
	at, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const b = `+pressed+`;
		b.scrollIntoView({block: "center"});
		window.__pressed = b;
		window.__clicked = null;
		document.addEventListener("click", (ev) => {
			window.__clicked = ev.target;
			ev.preventDefault();
			ev.stopPropagation();
		}, {capture: true, once: true});
		const r = b.getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	mouse := func(typ input.DispatchMouseEventType) {
		t.Helper()
		if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{
			Type: typ, X: at[0], Y: at[1], Button: input.MouseButtonLeft, Buttons: 1, ClickCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	mouse(input.DispatchMouseEventTypeMousePressed)
	must(t, ctx, "retarget the first row while the button is down", script(`
		const i = document.querySelector('[name="f:/routes/0/mapping/0/target"]');
		i.value = "header.orderType";
		i.dispatchEvent(new Event("input", {bubbles: true}))`))
	must(t, ctx, "the pane shows the new field",
		chromedp.WaitReady(chromedp.CSS(`#dest-0 li[data-path="header.orderType"]`)))
	mouse(input.DispatchMouseEventTypeMouseReleased)
	same, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const b = `+pressed+`;
		if (b !== window.__pressed) { return "the answer replaced the pressed button"; }
		if (window.__clicked !== b) { return "the click went to " + (window.__clicked ? window.__clicked.outerHTML.slice(0, 120) : "nothing"); }
		return "";
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if same != "" {
		t.Fatal(same)
	}
}
