package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// waitText polls until the element's text contains want, or fails with
// what it last saw.
func waitText(t testing.TB, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			last = s
			if strings.Contains(s, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q; last text: %q", sel, want, last)
}

// editable selects what a person types into for the field sel: the
// expression editor that stands in for an expression input, or the input
// itself when it has none.
func editable(sel string) string {
	return sel + `:not(:has(+ .expr-editor)), ` + sel + ` + .expr-editor .cm-content`
}

// typeInto replaces a field's text the way a person does: select all, type,
// and Escape to close a completion list that would cover what is below;
// then it waits for the live values, as a person sees them before going on.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	sel = editable(sel)
	return chromedp.Steps(
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.SendKeys(chromedp.CSS(sel), text),
		chromedp.KeyEvent(kb.Escape),
		previewAnswered())
}

// previewAnswered waits until the designer's live preview has answered the
// last keystroke (no preview under way once the delay before one is asked
// for has passed); elsewhere it returns at once. A click sent milliseconds
// after typing would otherwise aim at where a button was before the live
// values above it changed height: chromedp reads the button's box, then
// presses the mouse there.
func previewAnswered() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		time.Sleep(80 * time.Millisecond) // past the 30 ms before a preview is asked for
		for {
			busy, err := chromedp.Evaluate[bool](`!!document.querySelector("#live-preview.htmx-request")`)(ctx, t)
			if err != nil || !busy {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// choose picks the option of a select whose label starts with label by
// typing it into the focused select, as a keyboard user does.
func choose(sel, label string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), label)
}

// openSection clicks the summary of the collapsed section holding sel.
func openSection(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(`details:has(` + sel + `) > summary`))
}

// script runs JavaScript for its effect.
func script(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { ` + js + `; return {}; })()`)
}

// TestAnalystBuildsTestsPublishesAndRestoresAFlow is the designer's journey:
// template → sample → live value → typo with caret → fix →
// test case → v1 → change a row → v2 → diff shows exactly that row →
// restore v1 as draft.
func TestAnalystBuildsTestsPublishesAndRestoresAFlow(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	base := p.baseURL
	signIn(t, ctx, base, "ana@shop.example", "analyst password for e2e")

	must(t, ctx, "create a flow from the storefront template",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Shop orders to ERP"),
		chromedp.SetValue(chromedp.CSS("#flow-template"), "storefront-order-to-erp"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/flows/shop-orders-to-erp") {
		t.Fatalf("after creating, the browser is at %s", loc)
	}

	sample := `{"id": 7001, "name": "#7001", "email": "kim@example.com", "currency": "EUR", "store_id": "store-berlin", "created_at": "2026-03-14T10:00:00+01:00", "financial_status": "paid", "subtotal_price": "10.00", "total_price": "10.00", "total_tax": "1.60", "discount_codes": [], "shipping_lines": [], "customer": {"id": 1, "first_name": "Kim", "last_name": "Lee"}, "billing_address": {"name": "Kim Lee", "address1": "Main St 1", "city": "Berlin", "zip": "10115", "country_code": "DE"}, "shipping_address": {"name": "Kim Lee", "address1": "Main St 1", "city": "Berlin", "zip": "10115", "country_code": "DE"}, "line_items": [{"id": 1, "sku": "mug-1", "title": "Mug", "quantity": 1, "price": "10.00", "tax_lines": [{"rate": 0.19, "price": "1.60", "title": "MwSt"}], "discount_allocations": []}]}`
	must(t, ctx, "open the add-sample form",
		script(`document.querySelector('#add-sample').closest('details').open = true`),
		chromedp.SendKeys(chromedp.CSS("#sample-name"), "order 7001"),
		chromedp.SetValue(chromedp.CSS("#sample-payload"), sample),
		chromedp.Click(chromedp.CSS(`#add-sample button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".samples a[aria-current=true]", "order 7001")

	const cell = "#live-routes-0-mapping-1-expr"
	const input = "#inlive-routes-0-mapping-1-expr"
	waitText(t, ctx, cell, `"7001"`)
	must(t, ctx, "change an expression", typeInto(input, `"WEB-" + trimPrefix(source.name, "#")`))
	waitText(t, ctx, cell, `"WEB-7001"`)

	must(t, ctx, "make a typo", typeInto(input, `trimPrefix(source.nmae, "#"`))
	waitText(t, ctx, cell, "")
	// The cell is replaced by each preview while the typo is typed: wait
	// for the finished expression's caret snippet.
	waitText(t, ctx, cell+" .live-error", "")
	waitText(t, ctx, cell+" pre.caret", "^")
	waitText(t, ctx, "#problems", "problem")

	must(t, ctx, "fix it", typeInto(input, `trimPrefix(source.name, "#")`))
	waitText(t, ctx, cell, `"7001"`)

	// What the analyst sees before going on: the draft saved (the dirty
	// marker gone), so the test case is saved against the fixed draft.
	must(t, ctx, "the fix is saved", chromedp.WaitVisible(chromedp.CSS(`#draft[data-dirty="false"]`)))
	must(t, ctx, "save the sample as a test case",
		chromedp.SendKeys(chromedp.CSS("#test-name"), "order 7001 maps"),
		chromedp.Click(chromedp.CSS(`#save-test button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, "#tests", "order 7001 maps")

	must(t, ctx, "publish v1",
		chromedp.SendKeys(chromedp.CSS("#publish-note"), "first release"),
		chromedp.Click(chromedp.CSS(`#publish button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Published version 1.")

	must(t, ctx, "change a row and save",
		typeInto(input, `trimPrefix(trim(source.name), "#")`),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Saved draft revision")
	must(t, ctx, "publish v2",
		chromedp.SendKeys(chromedp.CSS("#publish-note"), "trim the order name"),
		chromedp.Click(chromedp.CSS(`#publish button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Published version 2.")

	must(t, ctx, "compare v1 with v2",
		chromedp.Navigate(base+"/flows/shop-orders-to-erp/versions?a=1&b=2"),
		chromedp.WaitVisible(chromedp.CSS("#diff")),
	)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#diff tbody tr').length`))
	if err != nil || rows != 1 {
		diff, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#diff")))
		t.Fatalf("the diff has %d rows, want exactly the one changed row (%v):\n%s", rows, err, diff)
	}
	waitText(t, ctx, "#diff", "externalReference")
	waitText(t, ctx, "#diff", `trimPrefix(trim(source.name), "#")`)

	must(t, ctx, "restore v1 as the draft",
		script(`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`form[action$="/versions/1/restore"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Restored version 1 as the draft.")
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(input)))
	if err != nil || v != `trimPrefix(source.name, "#")` {
		t.Fatalf("after restoring v1 the row reads %q (%v)", v, err)
	}
}
