package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/dbtest"
)

// crashOrders is how many orders the crash test posts; `make soak` sets
// CROSSDOCK_CRASH_ORDERS=20000 for the long version.
func crashOrders() int {
	if n, err := strconv.Atoi(os.Getenv("CROSSDOCK_CRASH_ORDERS")); err == nil && n > 0 {
		return n
	}
	return 600
}

// receivingTarget is the local HTTP target of the crash test: it counts the
// Idempotency-Key of every delivery it receives, so the test can tell
// distinct deliveries from repeats.
type receivingTarget struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newReceivingTarget(t *testing.T) *receivingTarget {
	rt := &receivingTarget{seen: map[string]int{}}
	rt.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		rt.mu.Lock()
		rt.seen[key]++
		rt.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(rt.Close)
	return rt
}

func (rt *receivingTarget) counts() (distinct, repeats int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, n := range rt.seen {
		distinct++
		repeats += n - 1
	}
	return distinct, repeats
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestNothingAcceptedIsLostWhenTheServerIsKilled is issue 9's crash test:
// orders are posted while the server is killed with SIGKILL every couple of
// seconds and started again. A source system retries an order (same
// payload, so the same idempotency key) until it gets a 2xx. Afterwards
// every accepted order has exactly one message, every message reaches the
// target, and the target saw one distinct Idempotency-Key per delivery;
// repeats (a delivery sent again because the process died before it could
// record the answer) are counted and reported.
func TestNothingAcceptedIsLostWhenTheServerIsKilled(t *testing.T) {
	t.Parallel()
	orders := crashOrders()
	target := newReceivingTarget(t)
	dbURL := dbtest.NewEmptyDatabase(t)
	port := freePort(t)
	env := []string{"CROSSDOCK_ADMIN_PASSWORD=crash test admin password", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0",
		"CROSSDOCK_ADDR=127.0.0.1:" + strconv.Itoa(port), "CROSSDOCK_RESCUE_AFTER=5s",
		// One key for every restart (each start gets a new data dir).
		"CROSSDOCK_SECRET_KEY=" + base64.StdEncoding.EncodeToString([]byte("crash-test-secret-key-32-bytes!!"))}
	p := startProgramOn(t, dbURL, env...)
	m := regexp.MustCompile(`API key for dev, shown only now: (\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the demo seed printed no API key:\n%s", p.stdout.String())
	}
	key := m[1]

	ctx := context.Background()
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	// Every HTTP target of the demo flow delivers to the local target.
	if _, err := db.Exec(ctx, `update target_configs set url_template = $1, rate_per_sec = 0
		where environment_id = (select id from environments where name = 'dev')`, target.URL+"/{target}"); err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile("../docs/demo-order.json")
	if err != nil {
		t.Fatal(err)
	}

	trigger := fmt.Sprintf("http://127.0.0.1:%d/api/v1/envs/dev/flows/storefront-orders/messages", port)
	client := &http.Client{Timeout: 10 * time.Second}
	var accepted, refusedAttempts atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	loadDone := make(chan struct{})
	deadline := time.Now().Add(5 * time.Minute)
	for range 16 {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(orders) {
					return
				}
				body := strings.Replace(string(template), `"id": 5012345678901`, fmt.Sprintf(`"id": %d`, 7000000+n), 1)
				body = strings.Replace(body, `"name": "#1001"`, fmt.Sprintf(`"name": "#C%d"`, n), 1)
				for {
					if time.Now().After(deadline) {
						t.Errorf("order %d was never accepted", n)
						return
					}
					req, _ := http.NewRequest(http.MethodPost, trigger, strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err == nil {
						res.Body.Close()
						if res.StatusCode/100 == 2 {
							accepted.Add(1)
							break
						}
						if res.StatusCode != http.StatusServiceUnavailable && res.StatusCode != http.StatusTooManyRequests {
							t.Errorf("order %d answered %d", n, res.StatusCode)
							return
						}
					}
					refusedAttempts.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	go func() { wg.Wait(); close(loadDone) }()

	kills := 0
	for running := true; running; {
		select {
		case <-loadDone:
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

	// Every accepted order is one message, and every message is delivered.
	var messages, delivered, deliveries int
	settle := time.Now().Add(3 * time.Minute)
	for {
		if err := db.QueryRow(ctx, `select count(*), count(*) filter (where status = 'delivered'),
			(select count(*) from deliveries) from messages`).Scan(&messages, &delivered, &deliveries); err != nil {
			t.Fatal(err)
		}
		if delivered == messages && messages == orders {
			break
		}
		if time.Now().After(settle) {
			var stuck string
			_ = db.QueryRow(ctx, `select coalesce(string_agg(status || '=' || n, ' '), '') from (select status, count(*) n from messages group by 1) s`).Scan(&stuck)
			var jobs string
			_ = db.QueryRow(ctx, `select coalesce(string_agg(kind || ':' || state || ':' || attempt || '=' || n, ' '), '') from (select kind, state, attempt, count(*) n from river_job group by 1, 2, 3) s`).Scan(&jobs)
			var lost string
			_ = db.QueryRow(ctx, `select coalesce(string_agg(d.status || ' attempts ' || d.attempts, ', '), '') from deliveries d where d.status <> 'delivered' and d.id in (select id from deliveries where status <> 'delivered' limit 5)`).Scan(&lost)
			stuck += "; jobs: " + jobs + "; deliveries: " + lost
			t.Fatalf("after the load, %d messages for %d orders, %d delivered (%s)\n%s", messages, orders, delivered, stuck, p.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	distinct, repeats := target.counts()
	if distinct != deliveries {
		t.Fatalf("the target received %d distinct Idempotency-Keys for %d deliveries", distinct, deliveries)
	}
	t.Logf("crash test: %d orders accepted (%d refused attempts while down), %d server kills, %d messages, %d deliveries, "+
		"%d distinct keys at the target, %d repeats, 0 lost", accepted.Load(), refusedAttempts.Load(), kills, messages, deliveries, distinct, repeats)
}
