package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/dbtest"
)

// envSeconds reads a duration in seconds from the environment (`make soak`
// sets the long ones), else def.
func envSeconds(name string, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return def
}

// attemptLog collects the load's requests.
type attemptLog struct {
	mu  sync.Mutex
	all []attempt
}

func (l *attemptLog) add(a attempt) {
	l.mu.Lock()
	l.all = append(l.all, a)
	l.mu.Unlock()
}

func (l *attemptLog) snapshot() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]attempt(nil), l.all...)
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// TestTriggersAnswer503WhileTheDatabaseIsDown is the database outage
// test: under load, PostgreSQL is crashed (pg_ctl stop -m immediate) and
// started again after CROSSDOCK_DB_OUTAGE_SECONDS (4 s here, 10 s in `make
// soak`). While it is down every trigger request is answered 503 with
// Retry-After and a problem document within a second — never a 500, never
// a hang. When it is back the same process accepts again and delivers
// everything it accepted, without a restart. The cluster is the test's own
// so that the rest of the suite keeps its database.
func TestTriggersAnswer503WhileTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	outage := envSeconds("CROSSDOCK_DB_OUTAGE_SECONDS", 4*time.Second)
	pg := newPGCluster(t)
	target := newReceivingTarget(t)
	port := freePort(t)
	p := startProgramOn(t, pg.url(t), demoEnv(port)...)
	db := openDB(t, pg.url(t))
	pointTargetsAt(t, db, target.URL, "")

	var log attemptLog
	load := &orderLoad{URLs: []string{fmt.Sprintf("http://127.0.0.1:%d/api/v1/envs/dev/flows/storefront-orders/messages", port)},
		Key: demoAPIKey(t, p), Clients: 8, Pause: 20 * time.Millisecond, Timeout: 5 * time.Second, Record: log.add}
	load.start(t)

	time.Sleep(2 * time.Second)
	stopping := time.Now()
	down := pg.stop(t)
	time.Sleep(outage - time.Since(down)) // PostgreSQL is off this long, then takes a while to start
	restarting := time.Now()
	up := pg.start(t)

	// Load goes on until the server has accepted for a couple of seconds.
	var firstAccept time.Time
	for firstAccept.IsZero() && time.Since(up) < time.Minute {
		time.Sleep(50 * time.Millisecond)
		for _, a := range log.snapshot() {
			if a.start.After(up) && a.status/100 == 2 && (firstAccept.IsZero() || a.start.Add(a.latency).Before(firstAccept)) {
				firstAccept = a.start.Add(a.latency)
			}
		}
	}
	if firstAccept.IsZero() {
		load.stop()
		load.wait()
		t.Fatalf("no order accepted within a minute of the database coming back\n%s", p.Logs())
	}
	time.Sleep(2 * time.Second)
	load.stop()
	load.wait()
	select {
	case err := <-p.exited:
		t.Fatalf("the server exited during the outage: %v\n%s", err, p.Logs())
	default:
	}

	// Every request made while the database was down or starting up: 503
	// within a second, with Retry-After and a problem document (or, once
	// PostgreSQL accepts again, 202, measured but not timed). Requests in
	// flight while it was being killed may take as long as the dying server
	// makes them; they too must be answered, and never with a 500.
	var downLatencies, transitionLatencies, recoveringLatencies []time.Duration
	bad := 0
	for _, a := range log.snapshot() {
		end := a.start.Add(a.latency)
		switch {
		case a.err != nil:
			t.Errorf("order %d at %s: no answer after %s: %v", a.order, a.start.Format("15:04:05.000"), a.latency, a.err)
			bad++
		case a.status/100 == 5 && a.status != http.StatusServiceUnavailable:
			t.Errorf("order %d at %s: %d: %s", a.order, a.start.Format("15:04:05.000"), a.status, a.body)
			bad++
		case a.status == http.StatusServiceUnavailable &&
			(a.retryAfter == "" || !strings.HasPrefix(a.contentType, "application/problem+json") || !strings.Contains(a.body, `"status":503`)):
			t.Errorf("a 503 without Retry-After or problem JSON: Retry-After %q, Content-Type %q, %s", a.retryAfter, a.contentType, a.body)
			bad++
		}
		switch {
		case !a.start.Before(down) && a.start.Before(up):
			// A 202 from a request that reached PostgreSQL as it came back
			// is a success, not timed; every refusal must be quick.
			if a.status != http.StatusServiceUnavailable && !a.start.Before(restarting) {
				recoveringLatencies = append(recoveringLatencies, a.latency)
				break
			}
			downLatencies = append(downLatencies, a.latency)
			if a.latency >= time.Second {
				t.Errorf("order %d at %s, while the database was down: answered %d after %s (more than a second)", a.order, a.start.Format("15:04:05.000"), a.status, a.latency)
				bad++
			}
			if end.Before(restarting) && a.status != http.StatusServiceUnavailable {
				t.Errorf("order %d at %s, while the database was down: answered %d, want 503", a.order, a.start.Format("15:04:05.000"), a.status)
				bad++
			}
		case !a.start.Before(stopping) && a.start.Before(down):
			transitionLatencies = append(transitionLatencies, a.latency)
		}
		if bad > 20 {
			break
		}
	}
	t.Logf("stop %s → down %s (%s); start %s → up %s (%s)", stopping.Format("15:04:05.000"), down.Format("15:04:05.000"), down.Sub(stopping).Round(time.Millisecond),
		restarting.Format("15:04:05.000"), up.Format("15:04:05.000"), up.Sub(restarting).Round(time.Millisecond))
	if t.Failed() {
		for _, line := range strings.Split(p.Logs(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Log(line)
			}
		}
	}
	if len(downLatencies) == 0 {
		t.Fatal("no request was made while the database was down")
	}
	if t.Failed() {
		return
	}

	// Everything accepted is delivered, by the same process.
	tally := waitDelivered(t, db, int(load.accepted.Load()), 3*time.Minute, p.Logs)
	backlog := time.Since(up)
	distinct, repeats := target.counts()
	if distinct != tally.deliveries {
		t.Fatalf("the target received %d distinct Idempotency-Keys for %d deliveries", distinct, tally.deliveries)
	}
	t.Logf("database outage: %s down (killing it took %s, starting it %s), %d requests refused while down or starting, each within a second (p50 %s, max %s), "+
		"%d accepted as it came back (max %s), %d in flight while it was being killed (max %s); "+
		"%d orders accepted, %d refused attempts in all; first 202 %s after the database was back, backlog delivered %s after; "+
		"%d messages, %d deliveries, %d distinct keys at the target, %d repeats, 0 lost",
		up.Sub(down).Round(time.Millisecond), down.Sub(stopping).Round(time.Millisecond), up.Sub(restarting).Round(time.Millisecond), len(downLatencies),
		percentile(downLatencies, 0.5).Round(time.Millisecond), percentile(downLatencies, 1).Round(time.Millisecond),
		len(recoveringLatencies), percentile(recoveringLatencies, 1).Round(time.Millisecond),
		len(transitionLatencies), percentile(transitionLatencies, 1).Round(time.Millisecond),
		load.accepted.Load(), load.refused.Load(), firstAccept.Sub(up).Round(time.Millisecond), backlog.Round(time.Millisecond),
		tally.messages, tally.deliveries, distinct, repeats)
}

// TestTargetOutageOpensTheCircuitAndLosesNothing is the target outage
// test: the target is down for CROSSDOCK_TARGET_OUTAGE_SECONDS (8 s here,
// 60 s in `make soak`) — first answering 503, then refusing connections —
// while orders keep arriving. Its retry window (10 minutes) is longer than
// the outage, so no delivery may become an exception; the circuit opens
// (target_circuits), and once the target is back every delivery arrives,
// one distinct Idempotency-Key per delivery.
func TestTargetOutageOpensTheCircuitAndLosesNothing(t *testing.T) {
	t.Parallel()
	outage := envSeconds("CROSSDOCK_TARGET_OUTAGE_SECONDS", 8*time.Second)
	ctx := context.Background()
	target := newReceivingTarget(t)
	dbURL := dbtest.NewEmptyDatabase(t)
	port := freePort(t)
	p := startProgramOn(t, dbURL, demoEnv(port)...)
	db := openDB(t, dbURL)
	pointTargetsAt(t, db, target.URL, `max_attempts = 1000, base_delay_ms = 200, max_delay_ms = 2000, window_ms = 600000,
		failure_threshold = 3, open_for_ms = 1000`)

	load := &orderLoad{URLs: []string{fmt.Sprintf("http://127.0.0.1:%d/api/v1/envs/dev/flows/storefront-orders/messages", port)},
		Key: demoAPIKey(t, p), Clients: 4, Pause: 50 * time.Millisecond}
	load.start(t)
	time.Sleep(time.Second)

	// Down: half the outage answering 503, half not listening.
	target.fail(true)
	down := time.Now()
	var circuitOpen time.Time
	exceptions := 0
	watch := func(until time.Time) {
		for time.Now().Before(until) {
			var open bool
			if err := db.QueryRow(ctx, `select exists (select 1 from target_circuits where state = 'open')`).Scan(&open); err == nil && open && circuitOpen.IsZero() {
				circuitOpen = time.Now()
			}
			if err := db.QueryRow(ctx, `select count(*) from exceptions`).Scan(&exceptions); err == nil && exceptions > 0 {
				t.Fatalf("%d exceptions while the target was down for %s, within its retry window", exceptions, time.Since(down).Round(time.Millisecond))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	watch(down.Add(outage / 2))
	target.down()
	target.fail(false)
	watch(down.Add(outage))
	load.stop()
	target.up(t)
	back := time.Now()
	load.wait()
	if t.Failed() {
		return
	}
	if circuitOpen.IsZero() {
		t.Fatalf("the circuit never opened during a %s outage\n%s", outage, p.Logs())
	}

	tally := waitDelivered(t, db, int(load.accepted.Load()), 3*time.Minute, p.Logs)
	recovered := time.Since(back)
	if err := db.QueryRow(ctx, `select count(*) from exceptions`).Scan(&exceptions); err != nil {
		t.Fatal(err)
	}
	if exceptions > 0 {
		t.Fatalf("%d exceptions after an outage within the retry window", exceptions)
	}
	distinct, repeats := target.counts()
	if distinct != tally.deliveries {
		t.Fatalf("the target received %d distinct Idempotency-Keys for %d deliveries", distinct, tally.deliveries)
	}
	var attempts, failedAttempts, maxAttempts int
	if err := db.QueryRow(ctx, `select count(*), count(*) filter (where outcome <> 'delivered'),
		coalesce((select max(n) from delivery_attempts), 0) from delivery_attempts`).Scan(&attempts, &failedAttempts, &maxAttempts); err != nil {
		t.Fatal(err)
	}
	var circuit string
	_ = db.QueryRow(ctx, `select coalesce(string_agg(target || '=' || state, ' '), '') from target_circuits`).Scan(&circuit)
	t.Logf("target outage: %s down (503s, then connections refused); circuit open %s after it went down; %d orders accepted, "+
		"%d messages, %d deliveries, %d attempts (%d failed, at most %d for one delivery; the target answered %d 503s), 0 exceptions; "+
		"all delivered %s after the target was back; %d distinct keys at the target, %d repeats, 0 lost; circuits now: %s",
		outage, circuitOpen.Sub(down).Round(time.Millisecond), load.accepted.Load(), tally.messages, tally.deliveries, attempts, failedAttempts,
		maxAttempts, target.refusedAnswers.Load(), recovered.Round(time.Millisecond), distinct, repeats, circuit)
}

// TestThreeProcessesShareTheWorkAndRescueAKilledOne is the
// several-processes test: three `serve` processes on one database, each given a third
// of the clients (a client moves on to the next process when one refuses),
// all working the queues. Each must do some of the work (River records
// which client attempted a job in river_job.attempted_by). Mid-work the
// third is killed with SIGKILL; with CROSSDOCK_RESCUE_AFTER=5s the others
// rescue what it held, and every accepted order is delivered.
func TestThreeProcessesShareTheWorkAndRescueAKilledOne(t *testing.T) {
	t.Parallel()
	orders := 300
	if n, err := strconv.Atoi(os.Getenv("CROSSDOCK_SCALE_ORDERS")); err == nil && n > 0 {
		orders = n
	}
	ctx := context.Background()
	target := newReceivingTarget(t)
	target.Delay = 50 * time.Millisecond // so that deliveries are in flight when one process dies
	dbURL := dbtest.NewEmptyDatabase(t)
	var procs []*program
	var urls []string
	for range 3 {
		port := freePort(t)
		procs = append(procs, startProgramOn(t, dbURL, demoEnv(port)...))
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d/api/v1/envs/dev/flows/storefront-orders/messages", port))
	}
	db := openDB(t, dbURL)
	pointTargetsAt(t, db, target.URL, "")

	load := &orderLoad{URLs: urls, Key: demoAPIKey(t, procs[0]), Clients: 12, Orders: int64(orders), Pause: 10 * time.Millisecond}
	load.start(t)

	// River's default client id is host + start time, so the three sort in
	// the order they were started.
	clientIDs := func() []string {
		rows, err := db.Query(ctx, `select distinct c from river_job, unnest(attempted_by) c order by c`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for len(clientIDs()) < 3 || load.accepted.Load() < int64(orders)/3 {
		select {
		case <-load.done:
			t.Fatalf("the load ended before all three processes had worked jobs (clients seen: %v)", clientIDs())
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Kill the third process while it holds running jobs.
	var running int
	ids := clientIDs()
	killed := ids[2]
	for {
		if err := db.QueryRow(ctx, `select count(*) from river_job where state = 'running' and attempted_by[cardinality(attempted_by)] = $1`, killed).Scan(&running); err != nil {
			t.Fatal(err)
		}
		if running > 0 {
			break
		}
		select {
		case <-load.done:
			t.Fatal("the load ended before the third process held a running job")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := procs[2].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-procs[2].exited
	killedAt := time.Now()
	load.wait()
	if t.Failed() {
		return
	}

	tally := waitDelivered(t, db, orders, 3*time.Minute, func() string { return procs[0].Logs() + procs[1].Logs() })
	afterKill := time.Since(killedAt)
	distinct, repeats := target.counts()
	if distinct != tally.deliveries {
		t.Fatalf("the target received %d distinct Idempotency-Keys for %d deliveries", distinct, tally.deliveries)
	}
	// The share of each process, and the jobs the killed one held that
	// another finished.
	share := map[string]int{}
	rows, err := db.Query(ctx, `select c, count(*)::int from river_job, unnest(attempted_by) c group by c`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		share[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var rescued int
	if err := db.QueryRow(ctx, `select count(*) from river_job where $1 = any(attempted_by) and attempted_by[cardinality(attempted_by)] <> $1`, killed).Scan(&rescued); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for i, id := range ids {
		if share[id] == 0 {
			t.Errorf("process %d (%s) worked no job", i+1, id)
		}
		parts = append(parts, fmt.Sprintf("process %d: %d", i+1, share[id]))
	}
	t.Logf("three processes: %d orders accepted (%d refused attempts), jobs attempted by %s; process 3 killed holding %d running jobs, "+
		"%d of its jobs finished by another process; all delivered %s after the kill; %d messages, %d deliveries, %d distinct keys at the target, %d repeats, 0 lost",
		load.accepted.Load(), load.refused.Load(), strings.Join(parts, ", "), running, rescued, afterKill.Round(time.Millisecond),
		tally.messages, tally.deliveries, distinct, repeats)
}
