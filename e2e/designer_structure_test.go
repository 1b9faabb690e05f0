package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// revision is the draft revision the designer page was rendered with.
func revision(ctx context.Context) string {
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#draft input[name=revision]') || {}).value || ""`))
	return v
}

// byName selects the designer field a JSON pointer names.
func byName(pointer string) string { return `[name="f:` + pointer + `"]` }

// byOp selects the designer button that sends op.
func byOp(op string) string { return `button[value="` + op + `"]` }

// submit runs steps ending in a click that saves the draft, and waits for
// the designer to come back with a newer revision.
func submit(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	before := revision(ctx)
	must(t, ctx, what, steps...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if now := revision(ctx); now != "" && now != before {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: the draft stayed at revision %s; page text: %.1500s", what, before, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAnalystBuildsAMappingByClicksAndTyping builds, from a blank flow and
// one pasted sample, a nested object, a for-each over the order lines with
// child rows, a constant and a second route with a condition to a second
// target — clicks and typing only — publishes, and compares the exported
// definition with a golden file.
func TestAnalystBuildsAMappingByClicksAndTyping(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "ana@shop.example", "analyst password for e2e")

	must(t, ctx, "create a blank flow",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Web orders to ERP"),
		chromedp.SetValue(chromedp.CSS("#flow-template"), ""),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	sample := `{"id": 5001, "name": "#5001", "vip": true, "ship": {"city": "Berlin", "zip": "10115"}, "lines": [{"sku": "tee", "qty": 2, "price": "19.99"}, {"sku": "mug", "qty": 1, "price": "8.5"}]}`
	submit(t, ctx, "paste a sample",
		script(`document.querySelector('#add-sample').closest('details').open = true`),
		chromedp.SendKeys(chromedp.CSS("#sample-name"), "order 5001"),
		chromedp.SetValue(chromedp.CSS("#sample-payload"), sample),
		chromedp.Click(chromedp.CSS(`#add-sample button[type=submit]`)),
	)
	waitText(t, ctx, ".samples a[aria-current=true]", "order 5001")

	submit(t, ctx, "name the source and add a nested object",
		typeInto(byName("/source/system"), "webshop"),
		typeInto(byName("/source/event"), "order.placed"),
		chromedp.Click(chromedp.CSS(byOp("add-object:/routes/0/mapping/1"))),
	)
	submit(t, ctx, "fill the object's first field and add a second",
		typeInto(byName("/routes/0/mapping/1/target"), "shipTo"),
		typeInto(byName("/routes/0/mapping/1/rows/0/target"), "city"),
		typeInto(byName("/routes/0/mapping/1/rows/0/expr"), "source.ship.city"),
		chromedp.Click(chromedp.CSS(byOp("add-row:/routes/0/mapping/1/rows/1"))),
	)
	submit(t, ctx, "fill the second field and add a for-each",
		typeInto(byName("/routes/0/mapping/1/rows/1/target"), "zip"),
		typeInto(byName("/routes/0/mapping/1/rows/1/expr"), "source.ship.zip"),
		chromedp.Click(chromedp.CSS(byOp("add-foreach:/routes/0/mapping/2"))),
	)
	submit(t, ctx, "set the for-each over the lines and add a child row",
		typeInto(byName("/routes/0/mapping/2/target"), "items"),
		typeInto(byName("/routes/0/mapping/2/forEach"), "source.lines"),
		typeInto(byName("/routes/0/mapping/2/as"), "line"),
		typeInto(byName("/routes/0/mapping/2/index"), "i"),
		typeInto(byName("/routes/0/mapping/2/rows/0/target"), "material"),
		typeInto(byName("/routes/0/mapping/2/rows/0/expr"), "upper(line.sku)"),
		chromedp.Click(chromedp.CSS(byOp("add-row:/routes/0/mapping/2/rows/1"))),
	)
	submit(t, ctx, "a second child row, and a third",
		typeInto(byName("/routes/0/mapping/2/rows/1/target"), "position"),
		typeInto(byName("/routes/0/mapping/2/rows/1/expr"), "(i + 1) * 10"),
		chromedp.Click(chromedp.CSS(byOp("add-row:/routes/0/mapping/2/rows/2"))),
	)
	submit(t, ctx, "the third child row, then a constant",
		typeInto(byName("/routes/0/mapping/2/rows/2/target"), "amount"),
		typeInto(byName("/routes/0/mapping/2/rows/2/expr"), "decRound(decMul(line.price, line.qty), 2)"),
		chromedp.Click(chromedp.CSS(byOp("add-constant:/routes/0/mapping/3"))),
	)
	// Not JSON: refused, naming the field, with everything as typed.
	must(t, ctx, "a constant that is not JSON",
		typeInto(byName("/routes/0/mapping/3/target"), "orderType"),
		typeInto(byName("/routes/0/mapping/3/value"), "ZWEB"),
		chromedp.Click(chromedp.CSS("#save")),
	)
	waitText(t, ctx, "#draft-error", "/routes/0/mapping/3/value is not valid JSON")
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(byName("/routes/0/mapping/3/target")))); v != "orderType" {
		t.Fatalf("after the refused save the constant's target reads %q", v)
	}
	submit(t, ctx, "the constant as JSON text",
		typeInto(byName("/routes/0/mapping/3/value"), `"ZWEB"`),
		chromedp.Click(chromedp.CSS("#save")),
	)
	// Live values: each child row of the for-each shows one per line.
	waitText(t, ctx, "#live-routes-0-mapping-2-rows-0-expr", `"TEE"`)
	waitText(t, ctx, "#live-routes-0-mapping-2-rows-0-expr", `"MUG"`)
	waitText(t, ctx, "#live-routes-0-mapping-2-rows-2-expr", `"8.50"`)
	waitText(t, ctx, "#live-routes-0-mapping-2-forEach", "2 items")
	waitText(t, ctx, "#output-0", `"city": "Berlin"`)

	submit(t, ctx, "add a second target", chromedp.Click(chromedp.CSS("#add-target")))
	submit(t, ctx, "name it, and add a second route",
		typeInto(byName("/targets/1/name"), "crm"),
		chromedp.SetValue(chromedp.CSS(byName("/targets/1/kind")), "http"),
		chromedp.Click(chromedp.CSS("#add-route")),
	)
	submit(t, ctx, "route VIP orders to the CRM",
		typeInto(byName("/routes/1/name"), "crm-vip"),
		chromedp.SetValue(chromedp.CSS(byName("/routes/1/target")), "crm"),
		typeInto(byName("/routes/1/when"), "source.vip == true"),
		typeInto(byName("/routes/1/mapping/0/target"), "customerOrder"),
		typeInto(byName("/routes/1/mapping/0/expr"), "source.name"),
		chromedp.Click(chromedp.CSS("#save")),
	)
	waitText(t, ctx, "#route-crm-vip", "→ crm")
	waitText(t, ctx, "#output-1", `"customerOrder": "#5001"`)

	// Enter in a field is the form's default action: save, nothing else
	// (the golden file below shows nothing was added or removed).
	submit(t, ctx, "press Enter in a row's target field",
		chromedp.SendKeys(chromedp.CSS(byName("/routes/0/mapping/3/target")), kb.Enter))

	must(t, ctx, "publish",
		chromedp.SendKeys(chromedp.CSS("#publish-note"), "built in the designer"),
		chromedp.Click(chromedp.CSS(`#publish button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, ctx, ".alert-ok", "Published version 1.")

	compareGolden(t, exportDefinition(t, ctx, "/flows/web-orders-to-erp/definition.json?version=1"), filepath.Join("testdata", "designer_structure.json"))
	if t.Failed() {
		os.Stderr.WriteString(p.Logs())
	}
}

// exportDefinition fetches a definition export from the page's origin.
func exportDefinition(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	q, _ := json.Marshal(path)
	exported, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`fetch(`+string(q)+`).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("export %s: %v", path, err)
	}
	return exported
}

// compareGolden compares an exported definition with a golden file as
// JSON values (the order of keys inside sample payloads is not part of
// what was built); -update rewrites the file.
func compareGolden(t *testing.T, exported, golden string) {
	t.Helper()
	var got any
	if err := json.Unmarshal([]byte(exported), &got); err != nil {
		t.Fatalf("the export is not JSON: %v\n%s", err, exported)
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	if *update {
		if err := os.WriteFile(golden, append(g, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	var expected any
	if err := json.Unmarshal(want, &expected); err != nil {
		t.Fatal(err)
	}
	if w, _ := json.MarshalIndent(expected, "", "  "); string(g) != string(w) {
		t.Fatalf("the exported definition differs from %s:\n%s", golden, g)
	}
}
