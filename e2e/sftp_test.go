package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crossdock/crossdock/internal/dbtest"
)

// sftpOrders is how many orders the SFTP crash test posts: 800 in the
// suite, which keeps its run to about a minute; CROSSDOCK_SFTP_ORDERS=5000
// for the long version (docs/reliability.md).
func sftpOrders() int {
	if n, err := strconv.Atoi(os.Getenv("CROSSDOCK_SFTP_ORDERS")); err == nil && n > 0 {
		return n
	}
	return 800
}

// TestSFTPFilesSurviveKills: the demo's 3PL flow writes one file per order
// to the demo's SFTP server while the program (and with it the server) is
// killed with SIGKILL every couple of seconds and started again, on the
// same data directory. Afterwards the server holds exactly one file per
// order: no order is missing, none has two files (a delivery attempted
// again after a kill replaced its file under the same name), no
// temporary file is left, and each file is the order's mapped output.
func TestSFTPFilesSurviveKills(t *testing.T) {
	t.Parallel()
	orders := sftpOrders()
	dbURL := dbtest.NewEmptyDatabase(t)
	port := freePort(t)
	dataDir := t.TempDir()
	env := demoEnv(port, "CROSSDOCK_DATA_DIR="+dataDir, "CROSSDOCK_DEMO_SFTP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t)))
	p := startProgramOn(t, dbURL, env...)
	key := demoAPIKey(t, p)
	if !strings.Contains(p.stdout.String(), "writes one file per order to the\nbuilt-in SFTP server") {
		t.Fatalf("the demo seed did not set up the 3PL flow:\n%s", p.stdout.String())
	}
	db := openDB(t, dbURL)
	// No rate limit, as for the HTTP crash test; kills make the retries.
	if _, err := db.Exec(t.Context(), `update target_configs set rate_per_sec = 0`); err != nil {
		t.Fatal(err)
	}

	load := &orderLoad{URLs: []string{fmt.Sprintf("http://127.0.0.1:%d/api/v1/envs/dev/flows/storefront-orders-3pl/messages", port)},
		Key: key, Orders: int64(orders), Deadline: 5*time.Minute + time.Duration(orders)*60*time.Millisecond}
	load.start(t)
	kills := 0
	for running := true; running; {
		select {
		case <-load.done:
			running = false
		case <-time.After(1500 * time.Millisecond):
			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-p.exited
			kills++
			p = startProgramOn(t, dbURL, env...)
		}
	}
	if t.Failed() {
		return
	}
	// Kill once more while the deliveries are still being written.
	time.Sleep(500 * time.Millisecond)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	kills++
	p = startProgramOn(t, dbURL, env...)
	tally := waitDelivered(t, db, orders, 5*time.Minute, p.Logs)

	dir := filepath.Join(dataDir, "demo-sftp", "root", "inbound", "orders")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	perOrder := map[string]int{}
	var stray []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "orders-") || !strings.HasSuffix(e.Name(), ".csv") {
			stray = append(stray, e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		// The demo's 3PL takes CSV: a header, then one row per order line
		// with the order's number repeated; the demo order has two lines.
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][0] != "Order" || rows[1][0] != rows[2][0] || rows[1][10] != "1" || rows[2][10] != "2" {
			t.Fatalf("%s is not a whole fulfilment order in CSV (%v): %s", e.Name(), err, b)
		}
		perOrder[rows[1][0]]++
	}
	if len(stray) > 0 {
		t.Errorf("files other than orders are left: %v", stray)
	}
	var missing, doubled []string
	for n := range orders {
		number := fmt.Sprintf("C%d", load.FirstOrder+int64(n)+1)
		switch perOrder[number] {
		case 1:
		case 0:
			missing = append(missing, number)
		default:
			doubled = append(doubled, number)
		}
	}
	if len(missing) > 0 || len(doubled) > 0 || len(entries) != orders {
		t.Fatalf("%d files for %d orders: %d missing (%v), %d with more than one file (%v)", len(entries), orders, len(missing), head(missing), len(doubled), head(doubled))
	}
	t.Logf("sftp crash test: %d orders accepted (%d refused attempts while down), %d kills, %d messages, %d deliveries, %d files, 0 missing, 0 duplicates; settled %s after the load",
		load.accepted.Load(), load.refused.Load(), kills, tally.messages, tally.deliveries, len(entries), tally.took.Round(time.Second))
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// TestSFTPWrongHostKeyIsAClearFailureInTheInbox: when the 3PL's server
// presents a host key other than the pinned one, the delivery fails at
// once (no retries against a server that may not be the 3PL's), and the
// inbox shows support the failure with both fingerprints and what to do.
func TestSFTPWrongHostKeyIsAClearFailureInTheInbox(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	p.addUser(t, "sam@shop.example", "support", supportPassword)
	key := demoKey(t, p)
	m := regexp.MustCompile(`host key\n?\s*(SHA256:\S{43})`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the demo seed printed no host key:\n%s", p.stdout.String())
	}
	presented, pinned := m[1], "SHA256:"+strings.Repeat("Z", 43)

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "admin@localhost", "admin password for e2e")
	must(t, ctx, "pin another host key on the 3PL target",
		chromedp.Navigate(p.baseURL+"/environments/dev/targets/logistics-orders"),
		chromedp.WaitVisible(chromedp.CSS("#t-host_key")),
		chromedp.SetValue(chromedp.CSS("#t-host_key"), pinned),
		chromedp.Submit(chromedp.CSS("#t-host")),
		chromedp.WaitVisible(chromedp.CSS("main")),
	)
	waitText(t, ctx, "main", "Saved target logistics-orders in dev.")
	signOut(t, ctx)

	req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/api/v1/envs/dev/flows/storefront-orders-3pl/messages", strings.NewReader(demoOrder(t)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("the order answered %d", res.StatusCode)
	}

	signIn(t, ctx, p.baseURL, "sam@shop.example", supportPassword)
	waitPage(t, ctx, p, "/inbox?kind=delivery", "#groups", "host key mismatch", 60*time.Second)
	must(t, ctx, "open the group and its exception",
		chromedp.Click(chromedp.CSS(".group-row .group-link")),
		chromedp.WaitVisible(chromedp.CSS("#group-head")),
		chromedp.Click(chromedp.CSS(".exception-row a")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")),
	)
	waitText(t, ctx, "#timeline", "Failed delivering to logistics-orders")
	waitText(t, ctx, ".delivery", "presented host key "+presented+" (ssh-ed25519), but the target pins "+pinned)
	waitText(t, ctx, ".delivery", "put the new fingerprint in the target's configuration")
	sent, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(".delivery .request-headers")))
	if err != nil || !strings.Contains(sent, "Host key: "+pinned) || !strings.Contains(sent, "File: orders-") || !strings.Contains(sent, "User: threepl") {
		t.Fatalf("the delivery does not say where it was sent (%v):\n%s", err, sent)
	}
	var attempts int
	var status string
	if err := openDB(t, p.dbURL).QueryRow(t.Context(), `select attempts, status from deliveries`).Scan(&attempts, &status); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || status != "failed" {
		t.Fatalf("the delivery is %s after %d attempts; a host key mismatch fails at the first", status, attempts)
	}
}
