package e2e

// Shared pieces of the reliability tests (crash_test.go, outage_test.go):
// the demo program set up against a local counting target, a load
// generator that behaves like a source system (it retries an order until it
// gets a 2xx), and the final check that everything accepted was delivered.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// receivingTarget is the local HTTP target of the reliability tests: it
// counts the Idempotency-Key of every delivery it receives, so a test can
// tell distinct deliveries from repeats. It can be taken down — answering
// 503, or not listening at all — and brought back on the same address.
type receivingTarget struct {
	URL  string
	addr string

	// Delay slows every answer, so that deliveries are in flight when a
	// test kills a process.
	Delay time.Duration

	failing atomic.Bool // answer 503 Service Unavailable
	mu      sync.Mutex
	srv     *http.Server
	seen    map[string]int
	// refusedAnswers counts the 503s given while failing.
	refusedAnswers atomic.Int64
}

func newReceivingTarget(t *testing.T) *receivingTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &receivingTarget{addr: ln.Addr().String(), seen: map[string]int{}}
	rt.URL = "http://" + rt.addr
	rt.serve(ln)
	t.Cleanup(func() { rt.down() })
	return rt
}

func (rt *receivingTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.Delay > 0 {
		time.Sleep(rt.Delay)
	}
	if rt.failing.Load() {
		rt.refusedAnswers.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("down for maintenance"))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	rt.mu.Lock()
	rt.seen[key]++
	rt.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (rt *receivingTarget) serve(ln net.Listener) {
	srv := &http.Server{Handler: rt, ReadHeaderTimeout: 10 * time.Second}
	rt.mu.Lock()
	rt.srv = srv
	rt.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// fail makes the target answer 503 to everything (true) or serve again.
func (rt *receivingTarget) fail(on bool) { rt.failing.Store(on) }

// down stops listening: connections are refused until up.
func (rt *receivingTarget) down() {
	rt.mu.Lock()
	srv := rt.srv
	rt.srv = nil
	rt.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same address.
func (rt *receivingTarget) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after Close
		if ln, err = net.Listen("tcp", rt.addr); err == nil {
			rt.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the target cannot listen on %s again: %v", rt.addr, err)
}

// counts returns how many distinct Idempotency-Keys arrived and how many
// arrivals were repeats of a key already seen.
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

// demoEnv is the environment of a reliability test's program: the demo flow
// and an API key (CROSSDOCK_DEMO=1), one secret key for every start (each
// start gets a new data dir), quick rescue of a dead process's jobs.
func demoEnv(port int, extra ...string) []string {
	return append([]string{"CROSSDOCK_ADMIN_PASSWORD=reliability test admin password", "CROSSDOCK_DEMO=1",
		"CROSSDOCK_DEMO_TARGETS_ADDR=127.0.0.1:0", "CROSSDOCK_DEMO_FAIL_RATE=0",
		"CROSSDOCK_ADDR=127.0.0.1:" + strconv.Itoa(port), "CROSSDOCK_RESCUE_AFTER=5s",
		"CROSSDOCK_SECRET_KEY=" + base64.StdEncoding.EncodeToString([]byte("crash-test-secret-key-32-bytes!!"))}, extra...)
}

// demoAPIKey is the dev API key the demo seed printed on first start.
func demoAPIKey(t *testing.T, p *program) string {
	t.Helper()
	m := regexp.MustCompile(`API key for dev, shown only now: (\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the demo seed printed no API key:\n%s", p.stdout.String())
	}
	return m[1]
}

// openDB is a pool on the program's database for the test's own checks; a
// pool (not one connection) so that it reconnects after a database outage.
func openDB(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	db, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// pointTargetsAt sends every HTTP target of the demo flow in dev to url,
// without a rate limit; set, if not empty, is more of the SET clause (a
// retry policy, breaker thresholds).
func pointTargetsAt(t *testing.T, db *pgxpool.Pool, url, set string) {
	t.Helper()
	if set != "" {
		set = ", " + set
	}
	if _, err := db.Exec(context.Background(), `update target_configs set url_template = $1, rate_per_sec = 0`+set+`
		where environment_id = (select id from environments where name = 'dev')`, url+"/{target}"); err != nil {
		t.Fatal(err)
	}
}

// attempt is one trigger request of the load and its answer.
type attempt struct {
	order       int64
	url         string
	start       time.Time
	latency     time.Duration
	status      int // 0: no answer (err)
	retryAfter  string
	contentType string
	body        string
	err         error
}

// orderLoad posts demo orders to a flow's trigger as a source system
// would: each order is retried (same payload, so the same idempotency key)
// until it gets a 2xx. With several URLs, a client moves on to the next
// after a refusal, as behind a load balancer.
type orderLoad struct {
	URLs    []string // trigger URLs
	Key     string   // API key
	Clients int      // concurrent clients; default 16
	// Orders is how many orders to post; 0 means until stop is called.
	Orders int64
	// Pause between orders of one client; 0 means none.
	Pause time.Duration
	// Timeout of one request; default 10 s.
	Timeout time.Duration
	// Deadline by which every order must have been accepted; default 5 min.
	Deadline time.Duration
	// Record, if set, is told about every request.
	Record func(attempt)
	// FirstOrder numbers the orders (order ids and names derive from it).
	FirstOrder int64

	template string
	accepted atomic.Int64
	refused  atomic.Int64
	next     atomic.Int64
	stopped  atomic.Bool
	done     chan struct{}
}

// start runs the clients in the background; wait returns when every
// order started has been accepted (or has failed the test).
func (l *orderLoad) start(t *testing.T) {
	t.Helper()
	template, err := os.ReadFile("../docs/demo-order.json")
	if err != nil {
		t.Fatal(err)
	}
	l.template = string(template)
	if l.Clients == 0 {
		l.Clients = 16
	}
	if l.Timeout == 0 {
		l.Timeout = 10 * time.Second
	}
	if l.Deadline == 0 {
		l.Deadline = 5 * time.Minute
	}
	if l.FirstOrder == 0 {
		l.FirstOrder = 7000000
	}
	l.done = make(chan struct{})
	client := &http.Client{Timeout: l.Timeout}
	deadline := time.Now().Add(l.Deadline)
	var wg sync.WaitGroup
	for c := range l.Clients {
		wg.Go(func() {
			u := c % len(l.URLs)
			for {
				if l.stopped.Load() {
					return
				}
				n := l.next.Add(1)
				if l.Orders > 0 && n > l.Orders {
					return
				}
				body := l.order(n)
				for {
					if time.Now().After(deadline) {
						t.Errorf("order %d was never accepted", n)
						return
					}
					a := l.post(client, l.URLs[u], n, body)
					if l.Record != nil {
						l.Record(a)
					}
					if a.status/100 == 2 {
						l.accepted.Add(1)
						break
					}
					if a.status != 0 && a.status != http.StatusServiceUnavailable && a.status != http.StatusTooManyRequests {
						t.Errorf("order %d answered %d: %s", n, a.status, a.body)
						return
					}
					l.refused.Add(1)
					u = (u + 1) % len(l.URLs)
					time.Sleep(20 * time.Millisecond)
				}
				if l.Pause > 0 {
					time.Sleep(l.Pause)
				}
			}
		})
	}
	go func() { wg.Wait(); close(l.done) }()
}

// order is the demo order numbered n: its own id and name, so its own
// idempotency key.
func (l *orderLoad) order(n int64) string {
	id := l.FirstOrder + n
	body := strings.Replace(l.template, `"id": 5012345678901`, fmt.Sprintf(`"id": %d`, id), 1)
	return strings.Replace(body, `"name": "#1001"`, fmt.Sprintf(`"name": "#C%d"`, id), 1)
}

func (l *orderLoad) post(client *http.Client, url string, n int64, body string) attempt {
	a := attempt{order: n, url: url, start: time.Now()}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.Key)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		a.latency, a.err = time.Since(a.start), err
		return a
	}
	b := make([]byte, 2048)
	k, _ := res.Body.Read(b)
	res.Body.Close()
	a.latency = time.Since(a.start)
	a.status, a.retryAfter, a.contentType, a.body = res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"), string(b[:k])
	return a
}

// stop lets each client finish the order it is on and start no more.
func (l *orderLoad) stop() { l.stopped.Store(true) }

// wait returns when the clients are done.
func (l *orderLoad) wait() { <-l.done }

// deliveryTally is what the database says about the messages at the end.
type deliveryTally struct {
	messages, delivered, deliveries int
	// took is how long waitDelivered waited.
	took time.Duration
}

// waitDelivered waits until the database holds exactly orders messages
// and all of them are delivered, failing the test after within.
func waitDelivered(t *testing.T, db *pgxpool.Pool, orders int, within time.Duration, logs func() string) deliveryTally {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	settle := start.Add(within)
	var c deliveryTally
	for {
		err := db.QueryRow(ctx, `select count(*), count(*) filter (where status = 'delivered'),
			(select count(*) from deliveries) from messages`).Scan(&c.messages, &c.delivered, &c.deliveries)
		if err == nil && c.delivered == c.messages && c.messages == orders {
			c.took = time.Since(start)
			return c
		}
		if time.Now().After(settle) {
			var stuck string
			_ = db.QueryRow(ctx, `select coalesce(string_agg(status || '=' || n, ' '), '') from (select status, count(*) n from messages group by 1) s`).Scan(&stuck)
			var jobs string
			_ = db.QueryRow(ctx, `select coalesce(string_agg(kind || ':' || state || ':' || attempt || '=' || n, ' '), '') from (select kind, state, attempt, count(*) n from river_job group by 1, 2, 3) s`).Scan(&jobs)
			var lost string
			_ = db.QueryRow(ctx, `select coalesce(string_agg(d.status || ' attempts ' || d.attempts || ' ' || coalesce(d.last_error, ''), ', '), '') from deliveries d where d.id in (select id from deliveries where status <> 'delivered' limit 5)`).Scan(&lost)
			t.Fatalf("after the load, %d messages for %d orders, %d delivered (%s; jobs: %s; deliveries: %s; last error: %v)\n%s",
				c.messages, orders, c.delivered, stuck, jobs, lost, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
