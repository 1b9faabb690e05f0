package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// demoTargets is a fake ERP and OMS for demos and local trials: they accept
// JSON documents, answer with a document number, honour Idempotency-Key (a
// repeated key gets the first answer, and is counted) and fail a share of
// requests with 503 so retries and the exception inbox have something to
// show.
type demoTargets struct {
	failRate float64
	log      *slog.Logger

	mu         sync.Mutex
	seen       map[string][]byte // idempotency key → first answer
	received   int
	duplicates int
	next       int
}

func newDemoTargets(failRate float64, log *slog.Logger) *demoTargets {
	return &demoTargets{failRate: failRate, log: log, seen: map[string][]byte{}, next: 4500000000}
}

func (d *demoTargets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/stats":
		d.mu.Lock()
		defer d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"received": d.received, "duplicates": d.duplicates, "distinctKeys": len(d.seen)})
		return
	case r.Method != http.MethodPost && r.Method != http.MethodPut:
		http.Error(w, "POST a JSON document to /erp/... or /oms/...", http.StatusMethodNotAllowed)
		return
	case !strings.HasPrefix(r.URL.Path, "/erp/") && !strings.HasPrefix(r.URL.Path, "/oms/"):
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || !json.Valid(body) {
		http.Error(w, `{"error": "the body must be JSON"}`, http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	d.mu.Lock()
	d.received++
	if prev, ok := d.seen[key]; ok && key != "" {
		d.duplicates++
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(prev)
		return
	}
	if rand.Float64() < d.failRate {
		d.mu.Unlock()
		w.Header().Set("Retry-After", "2")
		http.Error(w, `{"error": "the demo ERP is busy (a simulated failure); retry later"}`, http.StatusServiceUnavailable)
		return
	}
	d.next++
	system := strings.ToUpper(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0])
	answer, _ := json.Marshal(map[string]any{"documentNumber": fmt.Sprintf("%s-%d", system, d.next), "acceptedAt": time.Now().UTC().Format(time.RFC3339)})
	if key != "" {
		d.seen[key] = answer
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(answer)
}

// serveDemoTargets listens on addr until ctx ends.
func serveDemoTargets(ctx context.Context, addr string, failRate float64, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("demo targets on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: newDemoTargets(failRate, log), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("demo targets stopped", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}
