package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestAnalystMapsFieldsOnTwoPanes builds a route's mapping against a target
// schema from a blank flow, clicks and typing only: the schema is inferred
// from a typed example output, then each required field is mapped by
// choosing a source field on the left and a destination field on the right
// (once with the keyboard alone), and "Map each" makes the for-each over
// the order lines. The list of required fields not mapped shrinks with
// every row until it is empty; the live value's type is checked against
// the schema, and each mapped pair carries the same number on both sides.
// Last, a schema file chosen for the route fills its schema field.
func TestAnalystMapsFieldsOnTwoPanes(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password for e2e")
	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "ana@shop.example", "analyst password for e2e")
	defer func() {
		if t.Failed() {
			os.Stderr.WriteString(p.Logs())
		}
	}()

	must(t, ctx, "create a blank flow",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Pane orders"),
		choose("#flow-template", "a blank flow"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	pasteSample(t, ctx, "order 7001", `{"id": 7001, "customer": {"email": "ana@example.com"}, "lines": [{"sku": "tee", "qty": 2}, {"sku": "mug", "qty": 3}]}`)

	const (
		unmapped = `document.querySelectorAll('#unmapped-0 .unmapped-list li').length`
		pick     = `#panes-0 input[name="pick:/routes/0"]`
	)
	source := func(path string) string { return pick + `[value="` + path + `"]` }
	dest := func(path string) string { return `#dest-0 li[data-path="` + path + `"] > button.dest-pick` }
	mapEach := func(path string) string {
		return `#dest-0 li[data-path="` + path + `"] > button[aria-label^="Map each"]`
	}

	must(t, ctx, "infer the target schema from a typed example output",
		openSection("#example-0"),
		chromedp.SendKeys(chromedp.CSS("#example-0"), `{"reference": "7001", "email": "x@example.com", "items": [{"material": "TEE", "quantity": 1}]}`),
		chromedp.Click(chromedp.CSS("#infer-target-schema-0")),
	)
	waitInt(t, ctx, "required fields not mapped after inferring the schema", unmapped, 3)
	waitText(t, ctx, "#unmapped-0", "3 required fields not mapped")
	waitText(t, ctx, `#dest-0 li[data-path="orderNumber"]`, "not in the schema")

	t.Run("choosing a source field, then a destination field, makes a row", func(t *testing.T) {
		must(t, ctx, "map source.id to reference with two clicks",
			chromedp.Click(chromedp.CSS(source("source.id"))),
			chromedp.Click(chromedp.CSS(dest("reference"))),
		)
		waitInt(t, ctx, "required fields not mapped after mapping reference", unmapped, 2)
		waitText(t, ctx, `#dest-0 li[data-path="reference"]`, "7001 is a whole number; the schema wants text")
		// The pair is linked: the same number on both sides.
		waitText(t, ctx, `#dest-0 li[data-path="reference"] .link-badge`, "1")
		waitText(t, ctx, `#source-pane-0 li[data-path="source.id"] .link-badge`, "1")
	})

	t.Run("the keyboard alone maps a field", func(t *testing.T) {
		must(t, ctx, "map source.customer.email to email from the keyboard",
			chromedp.Focus(chromedp.CSS(source("source.customer.email"))),
			chromedp.KeyEvent(" "),
			chromedp.Focus(chromedp.CSS(dest("email"))),
			chromedp.KeyEvent(kb.Enter),
		)
		waitInt(t, ctx, "required fields not mapped after mapping email", unmapped, 1)
		waitText(t, ctx, "#unmapped-0", "items")
	})

	t.Run("map each makes a for-each, then item fields map inside it", func(t *testing.T) {
		must(t, ctx, "map each line to items",
			chromedp.Click(chromedp.CSS(source("source.lines"))),
			chromedp.Click(chromedp.CSS(mapEach("items"))),
		)
		// The block starts with the first required item field to fill; the
		// other one is now required and not mapped.
		waitText(t, ctx, "#unmapped-0", "items[].quantity")
		waitInt(t, ctx, "required fields not mapped after map each", unmapped, 1)
		forEach := evalString(t, ctx, `(document.querySelector('[name="f:/routes/0/mapping/3/forEach"]') || {}).value || ""`)
		if forEach != "source.lines" {
			t.Fatalf("the for-each runs over %q, want source.lines", forEach)
		}
		must(t, ctx, "map each line's qty and sku",
			chromedp.Click(chromedp.CSS(source("source.lines[].qty"))),
			chromedp.Click(chromedp.CSS(dest("items[].quantity"))),
		)
		waitText(t, ctx, "#unmapped-0", "Every required field is mapped.")
		must(t, ctx, "map each line's sku over the placeholder",
			chromedp.Click(chromedp.CSS(source("source.lines[].sku"))),
			chromedp.Click(chromedp.CSS(dest("items[].material"))),
		)
		out := `document.querySelector('#output-0').textContent`
		waitInt(t, ctx, "the output's mapped item fields", `(`+out+`.includes('"material": "mug"') && `+out+`.includes('"quantity": 3')) ? 1 : 0`, 1)
		if n := evalInt(t, ctx, `document.querySelectorAll('#unmapped-0 .unmapped-list li').length`); n != 0 {
			t.Fatalf("%d required fields still listed as not mapped", n)
		}
	})

	t.Run("the rows are saved as a for-each over the lines", func(t *testing.T) {
		submit(t, ctx, "save the draft", chromedp.Click(chromedp.CSS("#save")))
		def := exportDefinition(t, ctx, "/flows/pane-orders/definition.json")
		for _, want := range []string{
			`"target": "reference"`, `"expr": "source.id"`,
			`"target": "email"`, `"expr": "source.customer.email"`,
			`"forEach": "source.lines"`, `"as": "line"`, `"expr": "line.sku"`, `"expr": "line.qty"`,
			`"targetSchema"`,
		} {
			if !strings.Contains(def, want) {
				t.Errorf("the exported definition lacks %s:\n%s", want, def)
			}
		}
	})

	t.Run("a schema file loads into the route's schema field", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "erp-order.schema.json")
		if err := os.WriteFile(file, []byte(`{"type": "object", "required": ["reference", "plant"], "properties": {"reference": {"type": "string"}, "plant": {"type": "string"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		must(t, ctx, "choose the schema file",
			chromedp.SetUploadFiles(chromedp.CSS("#schema-file-0"), []string{file}),
		)
		waitInt(t, ctx, "the schema field holding the file", `document.querySelector('[name="f:/routes/0/targetSchema"]').value.includes('"plant"') ? 1 : 0`, 1)
		waitText(t, ctx, "#unmapped-0", "plant")
	})

}

// evalString reads a string from the page.
func evalString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}
