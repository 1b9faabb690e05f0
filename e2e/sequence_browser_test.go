package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestSupportReleasesMessagesHeldBehindAPoisonMessage is the sequence
// key's support journey: the ERP refuses update 2 of a customer for good,
// so updates 3 and 4 are held behind it. A support person filters the
// inbox to exceptions blocking later messages (the checkbox), opens held
// update 3, which says whom it is held behind, follows the link to update
// 2, which says it blocks 2 later messages for the customer's key, as its
// exception does, and once the ERP takes the order retries the exception:
// the ERP then gets 2, 3 and 4 in that order.
func TestSupportReleasesMessagesHeldBehindAPoisonMessage(t *testing.T) {
	t.Parallel()
	var refuse atomic.Bool
	refuse.Store(true)
	var mu sync.Mutex
	var got []string
	erp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ExternalReference string `json:"externalReference"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if refuse.Load() && strings.HasSuffix(body.ExternalReference, "-2") {
			http.Error(w, "customer blocked in the ERP", http.StatusUnprocessableEntity)
			return
		}
		mu.Lock()
		got = append(got, body.ExternalReference)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(erp.Close)
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	p.addUser(t, "sam@shop.example", "support", supportPassword)
	db := openDB(t, p.dbURL)
	pointTargetsAt(t, db, erp.URL, "")
	deploySequencedDemo(t, p.dbURL, "")

	load := newUpdatesLoad(t, "", "", 1, 4)
	key := demoKey(t, p)
	ids := map[int]string{}
	for n := 1; n <= 4; n++ {
		ids[n] = postOrder(t, p, key, fmt.Sprintf("seq-browser-%d", n), load.body(0, n))
	}

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "sam@shop.example", supportPassword)
	waitPage(t, ctx, p, "/inbox?view=list", "#exceptions", "422", 60*time.Second)
	must(t, ctx, "filter to blocking exceptions",
		chromedp.Click(chromedp.CSS("#f-blocking")),
		chromedp.Click(chromedp.CSS(`form button[type="submit"].btn`)),
		chromedp.WaitVisible(chromedp.CSS(".exception-row")))
	if !strings.Contains(location(t, ctx), "blocking=true") {
		t.Fatalf("the filter did not apply: %s", location(t, ctx))
	}

	// A held update says whom it waits for, and links to it; that message
	// says how many it blocks.
	waitPage(t, ctx, p, "/messages/"+ids[3], "#held-behind", "Held behind message "+ids[2], 30*time.Second)
	must(t, ctx, "follow the link to the message it is held behind",
		chromedp.Click(chromedp.CSS("#held-behind a")), chromedp.WaitVisible(chromedp.CSS("#sequence-blocking")))
	waitLocation(t, ctx, "/messages/"+ids[2])
	waitText(t, ctx, "#sequence-blocking", "Blocking 2 later messages for key "+updatesKey(0))

	// The exception says so too; once the ERP takes the order, retrying
	// it delivers 2, then 3 and 4.
	waitPage(t, ctx, p, "/inbox?view=list&blocking=true", "#exceptions", "422", 10*time.Second)
	must(t, ctx, "open the exception", chromedp.Click(chromedp.CSS(".exception-row a")), chromedp.WaitVisible(chromedp.CSS("#sequence-blocking")))
	waitText(t, ctx, "#sequence-blocking", "Blocking 2 later messages for key "+updatesKey(0))
	refuse.Store(false)
	must(t, ctx, "retry the exception", chromedp.Click(chromedp.CSS("#retry")))
	deadline := time.Now().Add(60 * time.Second)
	for {
		var delivered int
		if err := db.QueryRow(t.Context(), `select count(*) from messages where status = 'delivered'`).Scan(&delivered); err != nil {
			t.Fatal(err)
		}
		if delivered == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 updates delivered a minute after the retry\n%s", delivered, p.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"K" + updatesKey(0) + "-1", "K" + updatesKey(0) + "-2", "K" + updatesKey(0) + "-3", "K" + updatesKey(0) + "-4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the ERP took %v, want %v", got, want)
	}
}

// TestSupersededUpdateLinksToTheNewerOne: with sequenceMode latest, while
// update 2 of a customer is at the ERP, updates 3 and 4 wait; once 2 is
// delivered only 4 is, and update 3's message page says it was superseded
// and links to update 4.
func TestSupersededUpdateLinksToTheNewerOne(t *testing.T) {
	t.Parallel()
	gate, arrived := make(chan struct{}), make(chan struct{}, 1)
	var mu sync.Mutex
	var got []string
	erp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ExternalReference string `json:"externalReference"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if strings.HasSuffix(body.ExternalReference, "-2") {
			arrived <- struct{}{}
			<-gate
		}
		mu.Lock()
		got = append(got, body.ExternalReference)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(erp.Close)
	released := false
	t.Cleanup(func() {
		if !released {
			close(gate)
		}
	})
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0")
	p.addUser(t, "sam@shop.example", "support", supportPassword)
	db := openDB(t, p.dbURL)
	pointTargetsAt(t, db, erp.URL, "")
	deploySequencedDemo(t, p.dbURL, "latest")

	load := newUpdatesLoad(t, "", "", 1, 4)
	key := demoKey(t, p)
	ids := map[int]string{}
	post := func(n int) { ids[n] = postOrder(t, p, key, fmt.Sprintf("seq-latest-%d", n), load.body(0, n)) }
	post(1)
	waitRows(t, db, `select count(*) from messages where status = 'delivered'`, 1)
	post(2)
	select {
	case <-arrived:
	case <-time.After(time.Minute):
		t.Fatalf("update 2 did not reach the ERP within a minute\n%s", p.Logs())
	}
	post(3)
	post(4)
	waitRows(t, db, `select count(*) from messages where status = 'held'`, 2)
	close(gate)
	released = true
	waitRows(t, db, `select count(*) from messages where status in ('delivered', 'superseded')`, 4)

	ctx := newBrowser(t)
	signIn(t, ctx, p.baseURL, "sam@shop.example", supportPassword)
	waitPage(t, ctx, p, "/messages/"+ids[3], ".superseded-by", "Superseded by message "+ids[4], 30*time.Second)
	must(t, ctx, "follow the link to the newer update",
		chromedp.Click(chromedp.CSS(".superseded-by a")), chromedp.WaitVisible(chromedp.CSS("#message-status")))
	waitLocation(t, ctx, "/messages/"+ids[4])
	waitText(t, ctx, "#message-status", "delivered")
	mu.Lock()
	defer mu.Unlock()
	k := "K" + updatesKey(0)
	if want := k + "-1 " + k + "-2 " + k + "-4"; strings.Join(got, " ") != want {
		t.Fatalf("the ERP took %v, want %s", got, want)
	}
}

// waitRows waits until the query counts want rows (or fails after a
// minute).
func waitRows(t *testing.T, db *pgxpool.Pool, query string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := db.QueryRow(t.Context(), query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			var states string
			_ = db.QueryRow(t.Context(), `select coalesce(string_agg(m.status || '/' || coalesce(m.sequence_key, '-') || '/' || coalesce((select string_agg(d.status, ',') from deliveries d where d.message_id = m.id), ''), ' '), '') from messages m`).Scan(&states)
			t.Fatalf("%s counted %d after a minute, want %d (messages: %s)", query, n, want, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
