package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// completionOffers waits for the open completion list to show an option
// whose text (label and detail) contains want, and reads it a moment as a
// person does: CodeMirror ignores Enter in a list opened less than 75 ms
// ago, so that a list appearing as one presses Enter to save does not
// take the key.
func completionOffers(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	waitText(t, ctx, ".cm-tooltip-autocomplete", want)
	time.Sleep(150 * time.Millisecond)
}

// TestExpressionEditorCompletes types into the designer's expression
// editors of the storefront template and accepts completions with the
// keyboard: source fields, the fields of a for-each's item under its name,
// and functions with their signature, inserted where the cursor is; a
// field clicked in the field tree goes in at the cursor too, and a problem
// is underlined where the engine found it.
func TestExpressionEditorCompletes(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "ana@shop.example", "analyst password for e2e")
	must(t, ctx, "create a flow from the storefront template",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Shop orders"),
		chromedp.SendKeys(chromedp.CSS("#flow-template"), "template: storefront-order-to-erp"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	value := func(pointer string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(byName(pointer))))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// clear empties the editor of pointer and leaves the cursor in it.
	clear := func(pointer string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.ScrollIntoView(chromedp.CSS(editable(byName(pointer)))),
			chromedp.Click(chromedp.CSS(editable(byName(pointer)))),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.KeyEvent(kb.Delete))
	}

	t.Run("source fields", func(t *testing.T) {
		const row = "/routes/0/mapping/1/expr"
		must(t, ctx, "type source.line", clear(row), chromedp.KeyEvent("source.line"))
		completionOffers(t, ctx, "line_items")
		must(t, ctx, "accept with Enter", chromedp.KeyEvent(kb.Enter))
		if v := value(row); v != "source.line_items" {
			t.Fatalf("after accepting the field reads %q, want source.line_items", v)
		}
		// The field is the form's: the live value follows it.
		waitText(t, ctx, "#live-routes-0-mapping-1-expr", `"sku"`)
	})

	t.Run("the for-each item's fields", func(t *testing.T) {
		// Row 12 of the ERP route is the for-each over source.line_items
		// with the item named line.
		const row = "/routes/0/mapping/12/rows/0/expr"
		if v := value("/routes/0/mapping/12/forEach"); v != "source.line_items" {
			t.Fatalf("row 12 is a for-each over %q, want source.line_items", v)
		}
		must(t, ctx, "type li", clear(row), chromedp.KeyEvent("li"))
		completionOffers(t, ctx, "each item of the for-each")
		must(t, ctx, "accept line and type a dot", chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent("."))
		completionOffers(t, ctx, "quantity")
		completionOffers(t, ctx, "sku")
		must(t, ctx, "narrow to qu and accept", chromedp.KeyEvent("qu"), chromedp.KeyEvent(kb.Enter))
		if v := value(row); v != "line.quantity" {
			t.Fatalf("after accepting the field reads %q, want line.quantity", v)
		}
	})

	t.Run("functions with their signature, at the cursor", func(t *testing.T) {
		const row = "/routes/0/mapping/8/expr" // currency
		must(t, ctx, "type source.total_price, go to its start and type decR",
			clear(row), chromedp.KeyEvent("source.total_price"), chromedp.KeyEvent(kb.Escape),
			chromedp.KeyEvent(kb.Home), chromedp.KeyEvent("decR"))
		completionOffers(t, ctx, "decRound(x any, places int[, mode string]) string")
		completionOffers(t, ctx, "Rounds to places decimals")
		must(t, ctx, "accept, go to the end and close the call",
			chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.End), chromedp.KeyEvent(", 1)"))
		if v := value(row); v != "decRound(source.total_price, 1)" {
			t.Fatalf("the field reads %q, want decRound(source.total_price, 1)", v)
		}
		waitText(t, ctx, "#live-routes-0-mapping-8-expr", `"64.9"`)
	})

	t.Run("a field clicked in the field tree goes in at the cursor", func(t *testing.T) {
		const row = "/routes/0/mapping/8/expr"
		must(t, ctx, "type upper() and step into it",
			clear(row), chromedp.KeyEvent("upper()"), chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.ArrowLeft),
			chromedp.ScrollIntoView(chromedp.CSS(`[data-insert-path="source.currency"]`)),
			chromedp.Click(chromedp.CSS(`[data-insert-path="source.currency"]`)))
		if v := value(row); v != "upper(source.currency)" {
			t.Fatalf("the field reads %q, want upper(source.currency)", v)
		}
	})

	t.Run("a problem is underlined at its column", func(t *testing.T) {
		const row = "/routes/0/mapping/8/expr"
		must(t, ctx, "type an unknown function", clear(row), chromedp.KeyEvent("upper(source.name) + lowr(source.email)"), chromedp.KeyEvent(kb.Escape))
		waitText(t, ctx, byName(row)+" + .expr-editor .cm-lintRange-error", "lowr")
	})
}
