package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

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

// TestNothingAcceptedIsLostWhenTheServerIsKilled is the crash test:
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
	env := demoEnv(port)
	p := startProgramOn(t, dbURL, env...)
	db := openDB(t, dbURL)
	pointTargetsAt(t, db, target.URL, "")

	load := &orderLoad{URLs: []string{fmt.Sprintf("http://127.0.0.1:%d/api/v1/envs/dev/flows/storefront-orders/messages", port)},
		Key: demoAPIKey(t, p), Orders: int64(orders),
		// The server is down for part of every cycle; 20,000 orders (make
		// soak) need more than the default five minutes on a busy machine.
		Deadline: 5*time.Minute + time.Duration(orders)*60*time.Millisecond}
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

	// Every accepted order is one message, and every message is delivered.
	tally := waitDelivered(t, db, orders, 3*time.Minute, p.Logs)
	distinct, repeats := target.counts()
	if distinct != tally.deliveries {
		t.Fatalf("the target received %d distinct Idempotency-Keys for %d deliveries", distinct, tally.deliveries)
	}
	t.Logf("crash test: %d orders accepted (%d refused attempts while down), %d server kills, %d messages, %d deliveries, "+
		"%d distinct keys at the target, %d repeats, 0 lost", load.accepted.Load(), load.refused.Load(), kills, tally.messages, tally.deliveries, distinct, repeats)
}
