package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAnalystBuildsAFlowFromABlankStart is the designer's whole journey
// from a blank flow and one pasted sample, clicks and typing only (no JSON
// import, no export): a lookup table, two validation rules, keys, a nested
// object, a for-each over the order lines with six child rows (a lookup
// and exact-decimal arithmetic among them), a second route with a
// condition to a second target, three test cases saved from samples, one
// accepted after an intentional change; publish; the exported definition
// equals a golden file. Then Enter in every kind of field changes nothing,
// leaving with unsaved edits is guarded, and a typo in the channel
// expression leaves every other live value visible.
func TestAnalystBuildsAFlowFromABlankStart(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	base := p.baseURL
	const slug = "/flows/web-orders"
	signIn(t, ctx, base, "ana@shop.example", "analyst password for e2e")
	defer func() {
		if t.Failed() {
			os.Stderr.WriteString(p.Logs())
		}
	}()

	must(t, ctx, "create a blank flow",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Web orders"),
		choose("#flow-template", "a blank flow"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	if loc := location(t, ctx); !strings.HasSuffix(loc, slug) {
		t.Fatalf("after creating the flow the browser is at %s, want %s", loc, slug)
	}

	// A lookup table, made and filled on its own page.
	must(t, ctx, "add a lookup table",
		openSection("#lookup-name"),
		chromedp.SendKeys(chromedp.CSS("#lookup-name"), "plants"),
		chromedp.Click(chromedp.CSS(`form:has(#lookup-name) button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#lookup")),
	)
	must(t, ctx, "fill the lookup table",
		chromedp.SendKeys(chromedp.CSS("#lk-description"), "warehouse plant per SKU"),
		chromedp.SendKeys(chromedp.CSS(`#lookup-rows tbody tr:nth-child(1) input[name=key]`), "tee"),
		chromedp.SendKeys(chromedp.CSS(`#lookup-rows tbody tr:nth-child(1) input[name=value]`), "P100"),
		chromedp.SendKeys(chromedp.CSS(`#lookup-rows tbody tr:nth-child(2) input[name=key]`), "mug"),
		chromedp.SendKeys(chromedp.CSS(`#lookup-rows tbody tr:nth-child(2) input[name=value]`), "P200"),
		chromedp.Click(chromedp.CSS(`#lookup button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#lookup")),
	)
	waitText(t, ctx, ".alert-ok", "Saved lookup table plants (2 rows).")
	must(t, ctx, "back to the designer",
		chromedp.Click(chromedp.CSS(`a[href="`+slug+`"].btn`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, "#lookups-h + *", "plants")
	pasteSample(t, ctx, "order 5001", `{"id": 5001, "name": "#5001", "vip": true, "ship": {"city": "Berlin", "zip": "10115"}, "lines": [{"sku": "tee", "qty": 2, "price": "19.99"}, {"sku": "mug", "qty": 3, "price": "8.5"}]}`)

	// Validation: two rules; keys.
	grow(t, ctx, byName("/validation/0/rule"), "add a rule", chromedp.Click(chromedp.CSS(byOp("add-rule:/validation/0"))))
	grow(t, ctx, byName("/validation/1/rule"), "fill the first rule and add a second",
		typeInto(byName("/validation/0/rule"), "len(source.lines) > 0"),
		typeInto(byName("/validation/0/message"), "an order needs at least one line"),
		chromedp.Click(chromedp.CSS(byOp("add-rule:/validation/1"))),
	)
	submit(t, ctx, "fill the second rule, name the source, set the keys",
		typeInto(byName("/validation/1/rule"), `source.ship.city != ""`),
		typeInto(byName("/validation/1/message"), "the ship-to city is missing"),
		typeInto(byName("/source/system"), "webshop"),
		typeInto(byName("/source/event"), "order.placed"),
		typeInto(byName("/keys/idempotency"), `"web-" + string(source.id)`),
		typeInto(byName("/keys/correlation"), "source.name"),
		typeInto(byName("/keys/channel"), `source.vip ? "vip" : "web"`),
		chromedp.Click(chromedp.CSS("#save")),
	)
	waitText(t, ctx, "#live-keys-idempotency", `"web-5001"`)
	waitText(t, ctx, "#live-keys-channel", `"vip"`)

	// A nested object with two fields.
	grow(t, ctx, byName("/routes/0/mapping/1/rows/0/target"), "add a nested object", chromedp.Click(chromedp.CSS(byOp("add-object:/routes/0/mapping/1"))))
	grow(t, ctx, byName("/routes/0/mapping/1/rows/1/target"), "fill the object's first field and add a second",
		typeInto(byName("/routes/0/mapping/1/target"), "shipTo"),
		typeInto(byName("/routes/0/mapping/1/rows/0/target"), "city"),
		typeInto(byName("/routes/0/mapping/1/rows/0/expr"), "source.ship.city"),
		chromedp.Click(chromedp.CSS(byOp("add-row:/routes/0/mapping/1/rows/1"))),
	)
	const fe = "/routes/0/mapping/2"
	grow(t, ctx, byName(fe+"/forEach"), "fill the second field and add a for-each",
		typeInto(byName("/routes/0/mapping/1/rows/1/target"), "zip"),
		typeInto(byName("/routes/0/mapping/1/rows/1/expr"), "source.ship.zip"),
		chromedp.Click(chromedp.CSS(byOp("add-foreach:/routes/0/mapping/2"))),
	)
	grow(t, ctx, byName(fe+"/rows/1/target"), "set the for-each over the lines and fill its first child row",
		typeInto(byName(fe+"/target"), "items"),
		typeInto(byName(fe+"/forEach"), "source.lines"),
		typeInto(byName(fe+"/as"), "line"),
		typeInto(byName(fe+"/index"), "i"),
		typeInto(byName(fe+"/rows/0/target"), "position"),
		typeInto(byName(fe+"/rows/0/expr"), "(i + 1) * 10"),
		chromedp.Click(chromedp.CSS(byOp("add-row:"+fe+"/rows/1"))),
	)
	children := [][2]string{
		{"material", "upper(line.sku)"},
		{"plant", `lookup("plants", line.sku)`},
		{"quantity", "line.qty"},
		{"unitPrice", "decRound(line.price, 2)"},
		{"amount", "decRound(decMul(line.price, line.qty), 2)"},
	}
	for n, row := range children {
		i := itoa(n + 1)
		fill := chromedp.Steps(typeInto(byName(fe+"/rows/"+i+"/target"), row[0]), typeInto(byName(fe+"/rows/"+i+"/expr"), row[1]))
		if n == len(children)-1 {
			submit(t, ctx, "child row "+i+" of the for-each, "+row[0]+", and save", fill, chromedp.Click(chromedp.CSS("#save")))
			break
		}
		next := fe + "/rows/" + itoa(n+2)
		grow(t, ctx, byName(next+"/target"), "child row "+i+" of the for-each, "+row[0]+", and one more", fill, chromedp.Click(chromedp.CSS(byOp("add-row:"+next))))
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('#draft input[name^="f:`+fe+`/rows/"][name$="/target"]').length`); n != 6 {
		t.Fatalf("the for-each has %d child rows, want 6", n)
	}
	// Live values: one per line for each child row.
	for sel, want := range map[string]string{
		"#live-routes-0-mapping-2-forEach":     "2 items",
		"#live-routes-0-mapping-2-rows-1-expr": `"MUG"`,
		"#live-routes-0-mapping-2-rows-2-expr": `"P200"`,
		"#live-routes-0-mapping-2-rows-4-expr": `"8.50"`,
		"#live-routes-0-mapping-2-rows-5-expr": `"39.98"`,
		"#output-0":                            `"city": "Berlin"`,
	} {
		waitText(t, ctx, sel, want)
	}
	waitText(t, ctx, "#live-routes-0-mapping-2-rows-5-expr", `"25.50"`)

	// A second route with a condition, to a second target.
	grow(t, ctx, byName("/targets/1/name"), "add a second target", chromedp.Click(chromedp.CSS("#add-target")))
	grow(t, ctx, byName("/routes/1/name"), "name it, and add a second route",
		typeInto(byName("/targets/1/name"), "crm"),
		choose(byName("/targets/1/kind"), "http"),
		chromedp.Click(chromedp.CSS("#add-route")),
	)
	submit(t, ctx, "route VIP orders to the CRM",
		typeInto(byName("/routes/1/name"), "crm-vip"),
		choose(byName("/routes/1/target"), "crm"),
		typeInto(byName("/routes/1/when"), "source.vip == true"),
		typeInto(byName("/routes/1/mapping/0/target"), "customerOrder"),
		typeInto(byName("/routes/1/mapping/0/expr"), "source.name"),
		chromedp.Click(chromedp.CSS("#save")),
	)
	waitText(t, ctx, "#route-crm-vip", "→ crm")
	waitText(t, ctx, "#output-1", `"customerOrder": "#5001"`)

	// Three test cases, each saved from a sample.
	saveTest(t, ctx, "VIP order goes to both targets")
	pasteSample(t, ctx, "order 5002", `{"id": 5002, "name": "#5002", "vip": false, "ship": {"city": "Hamburg", "zip": "20095"}, "lines": [{"sku": "tee", "qty": 1, "price": "19.99"}]}`)
	saveTest(t, ctx, "plain order goes to the ERP only")
	pasteSample(t, ctx, "order 5003", `{"id": 5003, "name": "#5003", "vip": false, "ship": {"city": "Munich", "zip": "80331"}, "lines": [{"sku": "mug", "qty": 4, "price": "8.5"}, {"sku": "tee", "qty": 1, "price": "19.99"}]}`)
	saveTest(t, ctx, "two lines, two plants")
	must(t, ctx, "select the VIP sample again", chromedp.Click(chromedp.CSS(".samples li:nth-child(2) a")))
	waitText(t, ctx, ".samples a[aria-current=true]", "order 5001")
	// The sample list comes before the test cases in the page: wait for
	// them rather than count a page still loading.
	waitInt(t, ctx, "test cases listed", `document.querySelectorAll('#tests li.test-case').length`, 3)

	// An intentional change to the CRM route: only the VIP case fails; its
	// actual output is accepted as expected.
	submit(t, ctx, "change the CRM's order reference on purpose",
		typeInto(byName("/routes/1/mapping/0/expr"), `"WEB-" + trimPrefix(source.name, "#")`),
		chromedp.Click(chromedp.CSS("#save")),
	)
	waitText(t, ctx, "#output-1", `"customerOrder": "WEB-5001"`)
	must(t, ctx, "run the test cases",
		chromedp.Click(chromedp.CSS("#run-tests")),
		chromedp.WaitVisible(chromedp.CSS("#accept-0")),
	)
	waitText(t, ctx, "#test-0 table.diff", "customerOrder")
	waitText(t, ctx, "#test-0 table.diff", `"WEB-5001"`)
	if n := evalInt(t, ctx, `document.querySelectorAll('#tests .badge-bad').length`); n != 1 {
		t.Fatalf("%d test cases fail after the change, want only the VIP one: %s", n, text(t, ctx, "#tests"))
	}
	must(t, ctx, "accept the VIP case's actual output",
		chromedp.Click(chromedp.CSS("#accept-0")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Accepted the actual result as expected")
	must(t, ctx, "run the test cases again",
		chromedp.Click(chromedp.CSS("#run-tests")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "3 of 3 test cases passed")

	must(t, ctx, "publish",
		chromedp.SendKeys(chromedp.CSS("#publish-note"), "built in the designer"),
		chromedp.Click(chromedp.CSS(`#publish button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Published version 1.")
	compareGolden(t, exportDefinition(t, ctx, slug+"/definition.json?version=1"), filepath.Join("testdata", "designer_journey.json"))

	// Enter in every kind of field changes nothing: the draft's definition
	// afterwards equals the published one.
	fields := []string{
		byName("/validation/0/rule"), byName("/validation/1/message"),
		byName("/source/system"), byName("/keys/idempotency"), "#sla-within", "#sla-objective", "#time-budget",
		byName("/targets/1/name"), byName("/routes/1/name"), byName("/routes/1/when"),
		byName("/routes/0/mapping/1/target"), byName("/routes/0/mapping/1/rows/0/expr"),
		byName(fe + "/forEach"), byName(fe + "/as"), byName(fe + "/index"),
		byName(fe + "/rows/2/target"), byName(fe + "/rows/5/expr"),
		byName("/targets/1/kind"), byName("/routes/1/target"),
		"#function-search", "#publish-note",
	}
	pressEnterIn(t, ctx, slug, fields)
	must(t, ctx, "reload", chromedp.Navigate(base+slug), chromedp.WaitVisible(chromedp.CSS("#draft")))
	draft := exportDefinition(t, ctx, slug+"/definition.json")
	if published := exportDefinition(t, ctx, slug+"/definition.json?version=1"); draft != published {
		t.Fatalf("after pressing Enter in every field the draft differs from version 1:\n%s", draft)
	}
	waitText(t, ctx, `#publish button[type=submit]`, "Publish version 2")

	must(t, ctx, "select the VIP sample", chromedp.Click(chromedp.CSS(".samples li:nth-child(2) a")))
	waitText(t, ctx, ".samples a[aria-current=true]", "order 5001")

	// A group the analyst collapsed stays collapsed when a row is added
	// above it, and the group now at its old position stays open; undo
	// takes the row away again.
	openOf := func(target string) int {
		return evalInt(t, ctx, `[...document.querySelectorAll('#draft details.map-group')].filter(d => d.querySelector(':scope > summary strong').textContent === '`+target+`').map(d => d.open ? 1 : 0)[0] ?? -1`)
	}
	summaryOf := func(pointer string) string {
		return `details.map-group:has(> .map-group-body ` + byName(pointer+"/target") + `) > summary`
	}
	must(t, ctx, "collapse the for-each, and add a row above the object",
		chromedp.Click(chromedp.CSS(summaryOf(fe))),
		chromedp.Click(chromedp.CSS(byOp("add-row:/routes/0/mapping/1"))),
		chromedp.WaitReady(chromedp.CSS(byName("/routes/0/mapping/3/forEach"))),
	)
	if openOf("items") != 0 || openOf("shipTo") != 1 {
		t.Fatalf("after adding a row above them the for-each is open=%d (want 0) and the object open=%d (want 1)", openOf("items"), openOf("shipTo"))
	}
	must(t, ctx, "undo the added row, and open the for-each again",
		chromedp.Click(chromedp.CSS("#undo")),
		chromedp.WaitReady(chromedp.CSS(byName(fe+"/forEach"))),
		chromedp.Click(chromedp.CSS(summaryOf(fe))),
		chromedp.WaitVisible(chromedp.CSS(editable(byName(fe+"/forEach")))),
	)

	// Leaving with an unsaved edit is guarded.
	leavingIsGuarded(t, ctx, slug, byName("/validation/0/message"), "edited but not saved")

	// A typo in the channel expression shows its own error; every other
	// live value stays.
	must(t, ctx, "make a typo in the channel", typeInto(byName("/keys/channel"), `source.vip ? "vip" : `))
	waitText(t, ctx, "#live-keys-channel .live-error", "")
	for sel, want := range map[string]string{
		"#live-keys-idempotency":               `"web-5001"`,
		"#live-keys-correlation":               `"#5001"`,
		"#live-routes-0-mapping-0-expr":        `"#5001"`,
		"#live-routes-0-mapping-1-rows-0-expr": `"Berlin"`,
		"#live-routes-0-mapping-2-rows-2-expr": `"P100"`,
		"#live-routes-0-mapping-2-rows-5-expr": `"39.98"`,
		"#live-routes-1-mapping-0-expr":        `"WEB-5001"`,
		"#output-0":                            `"zip": "10115"`,
		"#output-1":                            `"customerOrder": "WEB-5001"`,
	} {
		waitText(t, ctx, sel, want)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('#draft .live-error').length`); n != 1 {
		t.Fatalf("the channel typo shows %d live errors, want only its own", n)
	}
}

// grow runs steps ending in a click that adds to the draft's structure and
// waits for the field it adds (the draft is saved a moment later).
func grow(t *testing.T, ctx context.Context, added, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	must(t, ctx, what, append(steps, chromedp.WaitVisible(chromedp.CSS(editable(added))))...)
}

// pasteSample adds a sample by pasting its JSON and waits for it to be the
// selected one.
func pasteSample(t *testing.T, ctx context.Context, name, payload string) {
	t.Helper()
	must(t, ctx, "paste the sample "+name,
		openSection("#add-sample"),
		chromedp.SendKeys(chromedp.CSS("#sample-name"), name),
		chromedp.SendKeys(chromedp.CSS("#sample-payload"), payload),
		chromedp.Click(chromedp.CSS(`#add-sample button[type=submit]`)),
	)
	waitText(t, ctx, ".samples a[aria-current=true]", name)
}

// saveTest saves the selected sample and its current results as a test case.
func saveTest(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	must(t, ctx, "save the test case "+name,
		chromedp.SendKeys(chromedp.CSS("#test-name"), name),
		chromedp.Click(chromedp.CSS(`#save-test button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, "#tests", name)
}
