package e2e

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// evalInt reads a number from the page.
func evalInt(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return n
}

// waitInt polls a number on the page until it equals want.
func waitInt(t *testing.T, ctx context.Context, what, js string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got int
	for time.Now().Before(deadline) {
		got = evalInt(t, ctx, js)
		if got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s is %d, want %d", what, got, want)
}

const (
	rulesJS    = `document.querySelectorAll('#draft input[name$="/rule"]').length`
	rowsJS     = `[...document.querySelectorAll('#draft input[name$="/target"]')].filter(i => /^f:\/routes\/0\/mapping\/\d+\/target$/.test(i.name)).length`
	revisionJS = `Number(document.querySelector('#draft input[name=revision]').value)`
	dirtyJS    = `document.getElementById('dirty').hidden ? 0 : 1`
)

// TestTheDraftBehavesLikeADocument: Enter never removes anything; a burst
// of row clicks keeps the scroll position and makes one draft revision;
// leaving with unsaved edits is guarded; Ctrl+S saves; undo and redo step
// through operations; "lines[].sku" as a target is explained and its
// button makes a for-each block. Clicks and typing only.
func TestTheDraftBehavesLikeADocument(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	base := p.baseURL
	signIn(t, ctx, base, "ana@shop.example", "analyst password for e2e")
	must(t, ctx, "create a flow",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Shop orders"),
		chromedp.SetValue(chromedp.CSS("#flow-template"), "storefront-order-to-erp"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	rules, rows := evalInt(t, ctx, rulesJS), evalInt(t, ctx, rowsJS)
	if rules < 2 || rows < 3 {
		t.Fatalf("the template has %d rules and %d rows", rules, rows)
	}
	firstRule, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="f:/validation/0/rule"]`)))

	// Enter in every kind of field of the form: expressions, text, numbers.
	pressEnterIn(t, ctx, "/flows/shop-orders", []string{
		`input[name="f:/validation/0/rule"]`,
		`input[name="f:/validation/0/message"]`,
		`input[name="f:/keys/idempotency"]`,
		`#sla-within`,
		`#time-budget`,
		`input[name="f:/routes/0/when"]`,
		`input[name="f:/routes/0/mapping/0/target"]`,
		`input[name="f:/routes/0/mapping/1/expr"]`,
		`#function-search`,
	})
	must(t, ctx, "reload", chromedp.Navigate(base+"/flows/shop-orders"), chromedp.WaitVisible(chromedp.CSS("#draft")))
	if n := evalInt(t, ctx, rulesJS); n != rules {
		t.Fatalf("after pressing Enter everywhere the saved draft has %d rules, want %d", n, rules)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="f:/validation/0/rule"]`))); v != firstRule {
		t.Fatalf("the first rule reads %q, want %q", v, firstRule)
	}

	// A burst of row operations: the page stays where it is, one revision.
	rev := evalInt(t, ctx, revisionJS)
	// Each click: the button is in view, the answer morphs in, and the
	// page stays where it was (not back at the top, as a reload would).
	click := func(what, sel string, wantRows int) {
		t.Helper()
		must(t, ctx, "scroll to "+what, chromedp.ScrollIntoView(chromedp.CSS(sel)))
		before := evalInt(t, ctx, `Math.round(window.scrollY)`)
		if before < 300 {
			t.Fatalf("%s is at scroll position %d; the page is too short to tell", what, before)
		}
		must(t, ctx, what, chromedp.Click(chromedp.CSS(sel)))
		waitInt(t, ctx, "rows after "+what, rowsJS, wantRows)
		if after := evalInt(t, ctx, `Math.round(window.scrollY)`); after < before-150 || after > before+150 {
			t.Fatalf("%s scrolled the page from %d to %d", what, before, after)
		}
	}
	click("add a row at the end", `button[value="add-row:/routes/0/mapping/`+itoa(rows)+`"]`, rows+1)
	click("add a row after the first", `button[value="add-row:/routes/0/mapping/1"]`, rows+2)
	click("remove the row just added", `button[value="remove:/routes/0/mapping/1"]`, rows+1)
	if evalInt(t, ctx, dirtyJS) != 1 {
		t.Fatal("no unsaved marker during the burst")
	}
	waitInt(t, ctx, "unsaved marker after the quiet time", dirtyJS, 0)
	if got := evalInt(t, ctx, revisionJS); got != rev+1 {
		t.Fatalf("the burst made revision %d from %d, want exactly one new revision", got, rev)
	}

	// Leaving with an unsaved edit asks first; staying keeps the edit.
	const msg = `input[name="f:/validation/0/message"]`
	dialogs := leavingIsGuarded(t, ctx, "/flows/shop-orders", msg, "Unsaved words")

	// Ctrl+S saves at once.
	rev = evalInt(t, ctx, revisionJS)
	must(t, ctx, "press Ctrl+S", chromedp.Click(chromedp.CSS(msg)), chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitText(t, ctx, "#draft-notice", "Saved draft revision "+itoa(rev+1)+".")
	waitInt(t, ctx, "unsaved marker after Ctrl+S", dirtyJS, 0)
	must(t, ctx, "leave without a question", chromedp.Click(chromedp.CSS(`a[href="/flows/shop-orders/versions"]`)))
	waitLocation(t, ctx, "/flows/shop-orders/versions")
	select {
	case typ := <-dialogs:
		t.Fatalf("a %s dialog opened after saving", typ)
	default:
	}
	must(t, ctx, "back to the designer", chromedp.Navigate(base+"/flows/shop-orders"), chromedp.WaitVisible(chromedp.CSS("#draft")))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(msg))); v != "Unsaved words" {
		t.Fatalf("the saved message reads %q", v)
	}

	// Undo and redo a removal, by button and by keyboard.
	must(t, ctx, "remove the first rule", chromedp.Click(chromedp.CSS(`button[value="remove:/validation/0"]`)))
	waitInt(t, ctx, "rules after removing", rulesJS, rules-1)
	must(t, ctx, "undo", chromedp.Click(chromedp.CSS("#undo")))
	waitInt(t, ctx, "rules after undo", rulesJS, rules)
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(msg))); v != "Unsaved words" {
		t.Fatalf("undo brought back %q", v)
	}
	must(t, ctx, "redo", chromedp.Click(chromedp.CSS("#redo")))
	waitInt(t, ctx, "rules after redo", rulesJS, rules-1)
	must(t, ctx, "Ctrl+Z outside a field", chromedp.Click(chromedp.CSS("#rules-h")), chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitInt(t, ctx, "rules after Ctrl+Z", rulesJS, rules)

	// A target path with [] is explained, and its button makes a for-each.
	const target = `input[name="f:/routes/0/mapping/0/target"]`
	must(t, ctx, "type lines[].sku", typeInto(target, "lines[].sku"))
	waitText(t, ctx, "#tcheck-routes-0-mapping-0", "use a for-each block for arrays")
	must(t, ctx, "make the for-each", chromedp.Click(chromedp.CSS("#tcheck-routes-0-mapping-0 button")))
	must(t, ctx, "the for-each and its child row appear",
		chromedp.WaitVisible(chromedp.CSS(editable(`input[name="f:/routes/0/mapping/0/forEach"]`))),
		chromedp.WaitVisible(chromedp.CSS(`input[name="f:/routes/0/mapping/0/rows/0/target"]`)),
	)
	for sel, want := range map[string]string{
		`input[name="f:/routes/0/mapping/0/forEach"]`:       "source.lines",
		`input[name="f:/routes/0/mapping/0/target"]`:        "lines",
		`input[name="f:/routes/0/mapping/0/rows/0/target"]`: "sku",
		`input[name="f:/routes/0/mapping/0/rows/0/expr"]`:   "item.sku",
	} {
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel))); v != want {
			t.Fatalf("%s reads %q, want %q", sel, v, want)
		}
	}
	waitInt(t, ctx, "unsaved marker after the quiet time", dirtyJS, 0)
	must(t, ctx, "reload", chromedp.Navigate(base+"/flows/shop-orders"), chromedp.WaitVisible(chromedp.CSS(editable(`input[name="f:/routes/0/mapping/0/forEach"]`))))
}

// pressEnterIn presses Enter in each field of the designer at path and
// checks that the page stays and no validation rule or route row goes.
func pressEnterIn(t *testing.T, ctx context.Context, path string, fields []string) {
	t.Helper()
	rules, rows := evalInt(t, ctx, rulesJS), evalInt(t, ctx, rowsJS)
	for _, sel := range fields {
		must(t, ctx, "press Enter in "+sel,
			chromedp.ScrollIntoView(chromedp.CSS(editable(sel))),
			chromedp.Click(chromedp.CSS(editable(sel))), chromedp.KeyEvent("\r"), chromedp.Sleep(400*time.Millisecond))
		if !atPath(t, ctx, path) {
			t.Fatalf("Enter in %s left the designer for %s", sel, location(t, ctx))
		}
		waitInt(t, ctx, "rules after Enter in "+sel, rulesJS, rules)
		waitInt(t, ctx, "rows after Enter in "+sel, rowsJS, rows)
	}
}

// leavingIsGuarded types words into field of the designer at path without
// saving, follows the link to the flow's versions and checks that the
// browser asks first; it answers "stay" and checks the edit is still
// there. It returns the dialogs the page opens from then on.
func leavingIsGuarded(t *testing.T, ctx context.Context, path, field, words string) <-chan string {
	t.Helper()
	dialogs := make(chan string, 4)
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			select {
			case dialogs <- string(d.Type):
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	must(t, ctx, "edit "+field, typeInto(field, words))
	if evalInt(t, ctx, dirtyJS) != 1 {
		t.Fatal("typing shows no unsaved marker")
	}
	// The click's mouse event returns only once the dialog is answered.
	clicked := make(chan error, 1)
	go func() {
		clicked <- chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="`+path+`/versions"]`)))
	}()
	select {
	case typ := <-dialogs:
		if typ != "beforeunload" {
			t.Fatalf("a %s dialog opened, want beforeunload", typ)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("leaving with an unsaved edit was not guarded")
	}
	if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}); err != nil {
		t.Fatalf("stay on the page: %v", err)
	}
	if err := <-clicked; err != nil {
		t.Fatalf("click the link: %v", err)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(field))); v != words || !atPath(t, ctx, path) {
		t.Fatalf("after staying the page is %s with %q", location(t, ctx), v)
	}
	return dialogs
}

// atPath says whether the browser's address has path, whatever its query.
func atPath(t *testing.T, ctx context.Context, path string) bool {
	t.Helper()
	u, err := url.Parse(location(t, ctx))
	return err == nil && u.Path == path
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
