package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writebackFlow books each order in the ERP and writes the ERP's document
// number back to the OMS (step writeback) once the ERP answered 201.
const writebackFlow = `{
  "formatVersion": 1, "name": "order-writeback",
  "source": {"system": "storefront", "event": "order.created"},
  "keys": {"idempotency": "'order-' + string(source.id)", "correlation": "string(source.id)"},
  "targets": [{"name": "erp", "kind": "http"}, {"name": "oms", "kind": "http"}],
  "routes": [{
    "name": "book", "target": "erp",
    "mapping": [{"target": "orderId", "expr": "source.id"}],
    "then": [{
      "name": "writeback", "target": "oms", "when": "response.status == 201",
      "mapping": [
        {"target": "orderId", "expr": "source.id"},
        {"target": "documentNumber", "expr": "response.body.documentNumber"}
      ]
    }],
    "reply": [{"target": "orderNumber", "expr": "steps.book.response.body.documentNumber"}]
  }]
}`

// fakeERP books orders: each new Idempotency-Key gets the next document
// number (201), a key seen before gets its number again, as an ERP that
// honours the key does; 20 % of requests are refused with 503 before
// anything is booked.
type fakeERP struct {
	mu sync.Mutex
	// booked is the document number of each booked key; requests counts
	// every request per key, afterBooked the requests of a key that
	// arrived after it was booked (a second booking attempt).
	booked      map[string]string
	orderOf     map[string]float64
	requests    map[string]int
	afterBooked map[string]int
	next        int
	rng         *rand.Rand
}

func (e *fakeERP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		OrderID float64 `json:"orderId"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	key := r.Header.Get("Idempotency-Key")
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests[key]++
	if doc, ok := e.booked[key]; ok {
		e.afterBooked[key]++
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"documentNumber": %q}`, doc)
		return
	}
	if e.rng.Float64() < 0.2 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	e.next++
	doc := fmt.Sprintf("SO-%06d", e.next)
	e.booked[key], e.orderOf[key] = doc, body.OrderID
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"documentNumber": %q}`, doc)
}

// fakeOMS records write-backs by Idempotency-Key; it refuses the first
// failFirst requests for order failOrder with 503.
type fakeOMS struct {
	mu        sync.Mutex
	got       map[string][]writeback // 2xx-answered write-backs by key
	failOrder float64
	failFirst int
	refused   int
}

type writeback struct {
	OrderID        float64 `json:"orderId"`
	DocumentNumber string  `json:"documentNumber"`
}

func (o *fakeOMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var wb writeback
	_ = json.NewDecoder(r.Body).Decode(&wb)
	o.mu.Lock()
	defer o.mu.Unlock()
	if wb.OrderID == o.failOrder && o.refused < o.failFirst {
		o.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	o.got[key] = append(o.got[key], wb)
	w.WriteHeader(http.StatusOK)
}

func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestStepsWriteTheERPNumberBackToTheOMS: orders go to an ERP that
// answers each with a new document number (and 503 one time in five);
// the write-back step sends each number to the OMS. Every order's number
// reaches the OMS under one idempotency key, the one order whose
// write-back the OMS refuses three times is retried from that step, and
// the ERP is never asked to book an order it booked already. A checkout
// posted with Prefer: wait=5 gets its ERP number back as the reply.
func TestStepsWriteTheERPNumberBackToTheOMS(t *testing.T) {
	t.Parallel()
	const orders = 40
	const failOrder = 17
	erp := &fakeERP{booked: map[string]string{}, orderOf: map[string]float64{}, requests: map[string]int{}, afterBooked: map[string]int{},
		rng: rand.New(rand.NewPCG(22, 2026))}
	oms := &fakeOMS{got: map[string][]writeback{}, failOrder: failOrder, failFirst: 3}
	erpURL, omsURL := serveLoopback(t, erp), serveLoopback(t, oms)

	p := startProgram(t, demoEnv(freePort(t))...)
	key := demoAPIKey(t, p)
	dir := t.TempDir()
	write := func(name, body string) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("flows/order-writeback.json", writebackFlow)
	policy := `{timeout: 5s, maxAttempts: 30, baseDelay: 10ms, maxDelay: 100ms, window: 5m, failureThreshold: 1000, openFor: 1s}`
	write("environments/dev.yaml", fmt.Sprintf(`targets:
  erp:
    kind: http
    settings: {url: "%s/orders", method: POST}
    policy: %s
  oms:
    kind: http
    settings: {url: "%s/writeback", method: POST}
    policy: %s
deployments:
  order-writeback: latest
`, erpURL, policy, omsURL, policy))
	p.cli(t, "apply", "-f", dir)

	client := &http.Client{Timeout: 10 * time.Second}
	for n := 1; n <= orders; n++ {
		req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/api/v1/envs/dev/flows/order-writeback/messages", strings.NewReader(fmt.Sprintf(`{"id": %d}`, n)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("order %d answered %d: %s\n%s", n, res.StatusCode, body, p.Logs())
		}
	}

	// The checkout waits for the ERP's number: Prefer: wait=5 answers
	// with the reply.
	const checkoutOrder = 1000
	req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/api/v1/envs/dev/flows/order-writeback/messages", strings.NewReader(fmt.Sprintf(`{"id": %d}`, checkoutOrder)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "wait=5")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var checkout struct {
		Reply struct {
			OrderNumber string `json:"orderNumber"`
		} `json:"reply"`
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &checkout) != nil || checkout.Reply.OrderNumber == "" {
		t.Fatalf("the checkout with Prefer: wait=5 answered %d: %s\n%s", res.StatusCode, body, p.Logs())
	}
	total := orders + 1

	db := openDB(t, p.dbURL)
	deadline := time.Now().Add(90 * time.Second)
	for {
		var delivered, steps int
		if err := db.QueryRow(context.Background(), `
			select count(*) filter (where m.status = 'delivered'),
			       (select count(*) from deliveries d join messages x on x.id = d.message_id join flows f on f.id = x.flow_id
			        where f.slug = 'order-writeback' and d.step = 'writeback' and d.status = 'delivered')
			from messages m join flows f on f.id = m.flow_id where f.slug = 'order-writeback'`).Scan(&delivered, &steps); err != nil {
			t.Fatal(err)
		}
		if delivered == total && steps == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s, %d of %d orders are delivered and %d write-backs\n%s", delivered, total, steps, p.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}

	erp.mu.Lock()
	oms.mu.Lock()
	defer erp.mu.Unlock()
	defer oms.mu.Unlock()
	if len(erp.booked) != total {
		t.Errorf("the ERP booked %d orders, want %d", len(erp.booked), total)
	}
	for k, n := range erp.afterBooked {
		t.Errorf("the ERP was asked %d more times to book %s after booking it", n, k)
	}
	retried := 0
	for _, n := range erp.requests {
		retried += n - 1
	}
	if retried == 0 {
		t.Errorf("no ERP request was refused and retried; the test does not exercise the 503s")
	}
	docOf := map[float64]string{}
	for k, doc := range erp.booked {
		docOf[erp.orderOf[k]] = doc
	}
	if len(oms.got) != total {
		t.Errorf("the OMS got write-backs under %d idempotency keys, want %d (one per order)", len(oms.got), total)
	}
	if want := docOf[checkoutOrder]; checkout.Reply.OrderNumber != want {
		t.Errorf("the checkout's reply is %q; the ERP booked it as %q", checkout.Reply.OrderNumber, want)
	}
	seen := map[float64]bool{}
	for k, wbs := range oms.got {
		if len(wbs) != 1 {
			t.Errorf("write-back key %s arrived %d times", k, len(wbs))
		}
		wb := wbs[0]
		if seen[wb.OrderID] {
			t.Errorf("order %v was written back under two keys", wb.OrderID)
		}
		seen[wb.OrderID] = true
		if want := docOf[wb.OrderID]; wb.DocumentNumber != want || want == "" {
			t.Errorf("order %v was written back with %q; the ERP booked it as %q", wb.OrderID, wb.DocumentNumber, want)
		}
	}
	if oms.refused != oms.failFirst {
		t.Errorf("the OMS refused order %d's write-back %d times, want %d", failOrder, oms.refused, oms.failFirst)
	}
	var attempts int
	if err := db.QueryRow(context.Background(), `
		select d.attempts from deliveries d join messages m on m.id = d.message_id join flows f on f.id = m.flow_id
		where f.slug = 'order-writeback' and m.payload->>'id' = $1 and d.step = 'writeback'`, fmt.Sprint(failOrder)).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != oms.failFirst+1 {
		t.Errorf("order %d's write-back took %d attempts, want %d (retried from the step)", failOrder, attempts, oms.failFirst+1)
	}
}
