package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestVersionDiffShowsExactlyWhatChanged publishes two versions of the
// storefront flow that differ in one child row of the order-lines for-each
// and one test case's expectation, and compares them on the versions page:
// exactly those two changes show, each in its part (the route, the test
// cases), field by field, and the page does not scroll sideways at 1440 px
// or at 390 px.
func TestVersionDiffShowsExactlyWhatChanged(t *testing.T) {
	t.Parallel()
	const adminPassword = "admin password for e2e"
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD="+adminPassword, "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	tpl, err := os.ReadFile("../mappings/templates/storefront-order-to-erp.json")
	if err != nil {
		t.Fatal(err)
	}
	publish := func(note string, edit func(def map[string]any)) string {
		var def map[string]any
		if err := json.Unmarshal(tpl, &def); err != nil {
			t.Fatal(err)
		}
		def["name"], def["description"] = "storefront-orders", "Storefront orders, compared in the versions page."
		edit(def)
		b, _ := json.Marshal(def)
		file := filepath.Join(t.TempDir(), "flow.json")
		_ = os.WriteFile(file, b, 0o600)
		return p.cli(t, "flow", "import", file, "--publish", "--note", note)
	}
	out := publish("the template as it is", func(map[string]any) {})
	before := versionIn(t, out)
	out = publish("same material, one more expectation", func(def map[string]any) {
		rows := def["routes"].([]any)[0].(map[string]any)["mapping"].([]any)
		for _, r := range rows {
			row := r.(map[string]any)
			if row["target"] != "items" {
				continue
			}
			for _, c := range row["rows"].([]any) {
				if child := c.(map[string]any); child["target"] == "material" {
					child["expr"] = "trim(upper(line.sku))"
				}
			}
		}
		vip := def["tests"].([]any)[1].(map[string]any)
		vip["expect"].(map[string]any)["correlationId"] = "#1077"
	})
	after := versionIn(t, out)

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "admin@localhost", adminPassword)
	for _, width := range []int64{1440, 390} {
		t.Run(itoa(int(width))+" px", func(t *testing.T) {
			must(t, ctx, "compare v"+before+" with v"+after,
				chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(p.baseURL+"/flows/storefront-orders/versions?a="+before+"&b="+after),
				chromedp.WaitVisible(chromedp.CSS("#diff")),
			)
			if n := evalInt(t, ctx, `document.querySelectorAll('#diff tbody tr').length`); n != 2 {
				t.Fatalf("the comparison shows %d changes, want 2: %s", n, text(t, ctx, "#diff"))
			}
			groups := text(t, ctx, "#diff")
			for _, want := range []string{"Route erp-sales-order", "items[].material", "upper(trim(line.sku))", "trim(upper(line.sku))",
				"Test cases", "VIP order from Zurich also notifies the CRM", "expect.correlationId", `"#1077"`, "Unchanged:"} {
				if !strings.Contains(groups, want) {
					t.Errorf("the comparison lacks %q: %s", want, groups)
				}
			}
			if n := evalInt(t, ctx, `document.documentElement.scrollWidth > document.documentElement.clientWidth ? document.documentElement.scrollWidth : 0`); n != 0 {
				t.Errorf("at %d px the page is %d px wide", width, n)
			}
		})
	}
}

// versionIn reads the version number `crossdock flow import --publish`
// says it published.
func versionIn(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "published version ")
	if i < 0 {
		t.Fatalf("flow import published nothing: %s", out)
	}
	rest := out[i+len("published version "):]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		t.Fatalf("no version number in %q", out)
	}
	return rest[:end]
}
