// Command loadgen posts demo orders to a trigger at a fixed rate, open loop,
// and reports the answers' latency percentiles: the measure for "N
// messages/s with p99 under X" (scripts/bench-load.sh runs it when
// BENCH_RATE is set). wrk, the script's default, sends as fast as its
// connections are answered, so its percentiles are those of a saturated
// server; a fixed rate shows what a source system sending that many
// events a second sees. The attack itself is vegeta's
// (github.com/tsenart/vegeta), with connections and workers capped at
// -connections, as for that many concurrent clients.
//
//	go run ./cmd/loadgen -url URL -keys cdk_a,cdk_b -rate 3000 -duration 30s
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func main() {
	url := flag.String("url", "", "trigger URL")
	keys := flag.String("keys", os.Getenv("CROSSDOCK_BENCH_KEYS"), "API keys, comma-separated, used in turn")
	order := flag.String("order", "docs/demo-order.json", "the order to send; its id and name are made unique per request")
	rate := flag.Int("rate", 3000, "requests per second")
	duration := flag.Duration("duration", 30*time.Second, "how long to send")
	conns := flag.Int("connections", 64, "concurrent connections (and workers) at most")
	run := flag.Int64("run", 0, "a number that keeps this run's order ids apart from other runs'")
	flag.Parse()
	if *url == "" || *keys == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url and -keys (or CROSSDOCK_BENCH_KEYS) are required")
		os.Exit(2)
	}
	template, err := os.ReadFile(*order)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	// The same substitution as scripts/bench-load.lua: the demo flow keys
	// messages by order id, so each request must be a new order.
	idField, nameField := []byte(`"id": 5012345678901`), []byte(`"name": "#1001"`)
	if !bytes.Contains(template, idField) || !bytes.Contains(template, nameField) {
		fmt.Fprintf(os.Stderr, "loadgen: %s has no %s or %s to vary\n", *order, idField, nameField)
		os.Exit(1)
	}
	auth := strings.Split(*keys, ",")
	var n atomic.Int64
	targeter := func(t *vegeta.Target) error {
		i := n.Add(1)
		id := strconv.FormatInt(*run*1_000_000_000_000+i, 10)
		body := bytes.Replace(template, idField, []byte(`"id": `+id), 1)
		body = bytes.Replace(body, nameField, []byte(`"name": "#`+id+`"`), 1)
		t.Method, t.URL, t.Body = http.MethodPost, *url, body
		t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + auth[int(i)%len(auth)]}}
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Workers(uint64(*conns)), vegeta.MaxWorkers(uint64(*conns)),
		vegeta.Connections(*conns), vegeta.MaxConnections(*conns), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	var m vegeta.Metrics
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: *rate, Per: time.Second}, *duration, "trigger") {
		m.Add(res)
	}
	m.Close()
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	fmt.Printf("requests %d, sent %.1f/s (asked %d/s), answered 2xx %.1f/s, success %.2f %%\n", m.Requests, m.Rate, *rate, m.Throughput, 100*m.Success)
	fmt.Printf("latency ms: p50 %s p90 %s p95 %s p99 %s max %s\n", ms(m.Latencies.P50), ms(m.Latencies.P90), ms(m.Latencies.P95), ms(m.Latencies.P99), ms(m.Latencies.Max))
	fmt.Printf("status codes: %v\n", m.StatusCodes)
	for _, e := range m.Errors {
		fmt.Println("error:", e)
	}
}
