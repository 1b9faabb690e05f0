package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings/release"
)

// cli runs a crossdock subcommand against the program's database.
func (p *program) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+p.dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("crossdock %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// brokenBundle writes a bundle with flow broken-orders whose only test case
// fails: such a version can only come from elsewhere (publishing refuses it).
func brokenBundle(t *testing.T) string {
	t.Helper()
	def, err := engine.ParseDefinition([]byte(`{"formatVersion": 1, "name": "broken-orders",
		"source": {"system": "storefront", "event": "order.created"},
		"targets": [{"name": "audit-log", "kind": "capture"}],
		"routes": [{"name": "audit", "target": "audit-log", "mapping": [{"target": "id", "expr": "source.id"}]}],
		"tests": [{"name": "order 7 keeps its id", "input": {"id": 7}, "expect": {"routes": {"audit": {"id": 8}}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := def.Checksum()
	canonical, _ := def.Canonical()
	b := release.Bundle{Format: release.BundleFormat, Source: "https://other.example", Flows: []release.BundleFlow{{
		Slug: "broken-orders", Name: "Broken orders", Versions: []release.BundleVersion{{Number: 1, Checksum: sum, Definition: canonical}}}}}
	data, _ := json.Marshal(b)
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// postOrder posts the demo order to env with key and returns the version
// the trigger says the message runs on.
func postOrderOnVersion(t *testing.T, base, env, key, idem string) (id string, version int) {
	t.Helper()
	order, err := os.ReadFile("../docs/demo-order.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/envs/"+env+"/flows/storefront-orders/messages", strings.NewReader(string(order)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("posting to %s answered %d: %s", env, res.StatusCode, body)
	}
	var out struct {
		ID      string
		Version int
	}
	_ = json.Unmarshal(body, &out)
	return out.ID, out.Version
}

// TestReleaseManagerPromotesApprovesAndRollsBack is the release manager's journey: an
// analyst promotes v2 from dev to test (gates pass); a flow with a failing
// test case cannot be promoted and the page names the case; a promotion to
// prod waits for an approver, the requester cannot approve it, another
// approver can; a rollback restores the previous version and new messages
// use it while accepted ones keep theirs.
func TestReleaseManagerPromotesApprovesAndRollsBack(t *testing.T) {
	t.Parallel()
	const adminPassword, pw = "admin password for e2e", "a password for e2e users"
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD="+adminPassword, "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	p.addUser(t, "ana@shop.example", "analyst", pw)
	p.addUser(t, "amy@shop.example", "approver", pw)
	p.addUser(t, "bob@shop.example", "approver", pw)
	base := p.baseURL
	ctx := newBrowser(t)
	defer func() {
		if t.Failed() {
			os.Stderr.WriteString(p.Logs())
		}
	}()

	// The admin configures test and prod: the ERP target and ERP_COMPANY.
	signIn(t, ctx, base, "admin@localhost", adminPassword)
	for _, env := range []string{"test", "prod"} {
		must(t, ctx, "configure the ERP target in "+env,
			chromedp.Navigate(base+"/environments/"+env+"/targets/erp-sales-orders"),
			chromedp.WaitVisible(chromedp.CSS("#target-form")),
			chromedp.SendKeys(chromedp.CSS("#t-url"), "http://127.0.0.1:9/erp/"+env),
			chromedp.Click(chromedp.CSS(`#target-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
		)
		must(t, ctx, "set ERP_COMPANY in "+env,
			chromedp.WaitVisible(chromedp.CSS("#var-name-"+env)),
			chromedp.SendKeys(chromedp.CSS("#var-name-"+env), "ERP_COMPANY"),
			chromedp.SendKeys(chromedp.CSS("#var-value-"+env), "2000"),
			chromedp.Click(chromedp.CSS("#env-admin-"+env+" .variable-form button")),
			chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
		)
		waitText(t, ctx, "#env-admin-"+env, "ERP_COMPANY")
	}
	signOut(t, ctx)

	// The analyst promotes v1 (what dev runs) to test.
	signIn(t, ctx, base, "ana@shop.example", pw)
	must(t, ctx, "preview v1 → test",
		chromedp.Navigate(base+"/promote?flow=storefront-orders&to=test"),
		chromedp.WaitVisible(chromedp.CSS("#preview-result")),
	)
	waitText(t, ctx, "#gates-verdict", "passed")
	must(t, ctx, "promote v1 to test", chromedp.Click(chromedp.CSS("#promote")), chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	waitText(t, ctx, ".alert-ok", "Promoted storefront-orders v1 to test")

	// v2 is published and runs in dev; the matrix marks test as behind.
	tpl, err := os.ReadFile("../mappings/templates/storefront-order-to-erp.json")
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	_ = json.Unmarshal(tpl, &def)
	def["name"], def["description"] = "storefront-orders", "Second release: same mapping, new description."
	v2, _ := json.Marshal(def)
	v2file := filepath.Join(t.TempDir(), "v2.json")
	_ = os.WriteFile(v2file, v2, 0o600)
	out := p.cli(t, "flow", "import", v2file, "--publish", "--note", "second release", "--deploy", "dev")
	if !strings.Contains(out, "deployed version 2 to dev") {
		t.Fatalf("flow import: %s", out)
	}
	must(t, ctx, "open the matrix", chromedp.Navigate(base+"/environments"), chromedp.WaitVisible(chromedp.CSS("#matrix")))
	waitText(t, ctx, `#matrix tr[data-flow="storefront-orders"] td[data-env="test"]`, "drift")

	// v2 from dev to test: the default is what dev runs; the gates pass.
	must(t, ctx, "promote from the test cell",
		chromedp.Click(chromedp.CSS(`#matrix tr[data-flow="storefront-orders"] td[data-env="test"] .promote-link`)),
		chromedp.WaitVisible(chromedp.CSS("#preview-result")),
	)
	waitText(t, ctx, "#preview-result h2", "storefront-orders v2 → test")
	waitText(t, ctx, "#diff", "Second release")
	waitText(t, ctx, "#gates-verdict", "passed")
	must(t, ctx, "promote v2 to test",
		chromedp.SendKeys(chromedp.CSS("#p-reason"), "release 2"),
		chromedp.Click(chromedp.CSS("#promote")),
		chromedp.WaitVisible(chromedp.CSS("#history")),
	)
	waitText(t, ctx, ".alert-ok", "Promoted storefront-orders v2 to test")
	waitText(t, ctx, "#history tbody tr:first-child", "release 2")
	waitText(t, ctx, "#history tbody tr:first-child", "passed")

	// A flow whose test case fails (imported from elsewhere) cannot be promoted.
	must(t, ctx, "upload a bundle (dry run)",
		chromedp.Navigate(base+"/bundles"),
		chromedp.WaitVisible(chromedp.CSS("#import-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle-file"), []string{brokenBundle(t)}),
		chromedp.Click(chromedp.CSS("#upload")),
		chromedp.WaitVisible(chromedp.CSS("#import-plan")),
	)
	waitText(t, ctx, "#import-plan", "Dry run: nothing was imported")
	waitText(t, ctx, "#import-plan", "new flow")
	must(t, ctx, "import it", chromedp.Click(chromedp.CSS("#import-now")), chromedp.WaitVisible(chromedp.CSS("#import-plan")))
	waitText(t, ctx, "#import-plan h2", "Imported")
	must(t, ctx, "try to promote the broken flow",
		chromedp.Navigate(base+"/promote?flow=broken-orders&to=test"),
		chromedp.WaitVisible(chromedp.CSS("#gates-failed")),
	)
	waitText(t, ctx, "#gates-failed", "test case “order 7 keeps its id” failed")
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, `id="promote"`) {
		t.Fatal("a failing test case still offers the promote button")
	}
	signOut(t, ctx)

	// Prod is protected: the request waits; its requester cannot approve.
	signIn(t, ctx, base, "amy@shop.example", pw)
	must(t, ctx, "request v2 → prod",
		chromedp.Navigate(base+"/promote?flow=storefront-orders&to=prod"),
		chromedp.WaitVisible(chromedp.CSS("#preview-result")),
	)
	waitText(t, ctx, "#preview-result h2", "storefront-orders v2 → prod")
	must(t, ctx, "request approval",
		chromedp.SendKeys(chromedp.CSS("#p-reason"), "go live"),
		chromedp.Click(chromedp.CSS("#promote")),
		chromedp.WaitVisible(chromedp.CSS("#request")),
	)
	waitText(t, ctx, "#request-status", "pending")
	waitText(t, ctx, "#own-request", "another approver must approve")
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, `id="approve"`) {
		t.Fatal("the requester is offered the approve button")
	}
	signOut(t, ctx)

	// Another approver finds it on signing in: his home is the requests
	// waiting for him, counted in the navigation.
	signIn(t, ctx, base, "bob@shop.example", pw)
	must(t, ctx, "see what waits", chromedp.WaitVisible(chromedp.CSS("#awaiting")))
	waitText(t, ctx, "#promotions-awaiting-count", "1")
	waitText(t, ctx, "#awaiting", "storefront-orders v2 → prod")
	must(t, ctx, "approve as another approver",
		chromedp.Click(chromedp.CSS("#awaiting a")),
		chromedp.WaitVisible(chromedp.CSS("#decide-form")),
		chromedp.SendKeys(chromedp.CSS("#d-comment"), "checked with finance"),
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	waitText(t, ctx, "#request-status", "approved")
	must(t, ctx, "see prod run v2", chromedp.Navigate(base+"/environments"), chromedp.WaitVisible(chromedp.CSS("#matrix")))
	waitText(t, ctx, `#matrix tr[data-flow="storefront-orders"] td[data-env="prod"]`, "v2")
	signOut(t, ctx)

	// A message accepted in test now runs v2; after a rollback new ones run v1.
	keyOut := p.cli(t, "apikey", "create", "--env", "test", "--name", "e2e")
	key := regexp.MustCompile(`(cdk_\S+_[A-Za-z0-9_-]{43})`).FindString(keyOut)
	if key == "" {
		t.Fatalf("no key in %s", keyOut)
	}
	before, v := postOrderOnVersion(t, base, "test", key, "order-before-rollback")
	if v != 2 {
		t.Fatalf("before the rollback a message runs v%d, want v2", v)
	}
	signIn(t, ctx, base, "ana@shop.example", pw)
	must(t, ctx, "roll test back",
		chromedp.Navigate(base+"/environments/test/flows/storefront-orders"),
		chromedp.WaitVisible(chromedp.CSS("#rollback-form")),
		script(`window.confirm = () => true`),
		chromedp.SendKeys(chromedp.CSS("#rb-reason"), "ERP rejects the new release"),
		chromedp.Click(chromedp.CSS("#rollback")),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	waitText(t, ctx, ".alert-ok", "test now runs storefront-orders v1")
	waitText(t, ctx, "#history tbody tr:first-child", "rollback")
	waitText(t, ctx, "#history tbody tr:first-child", "ERP rejects the new release")
	if _, v := postOrderOnVersion(t, base, "test", key, "order-after-rollback"); v != 1 {
		t.Fatalf("after the rollback a new message runs v%d, want v1", v)
	}
	conn, err := pgx.Connect(context.Background(), p.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var kept int
	if err := conn.QueryRow(context.Background(), `select version_number from messages where id = $1`, before).Scan(&kept); err != nil || kept != 2 {
		t.Fatalf("the message accepted before the rollback runs v%d (%v), want v2", kept, err)
	}
}
