package pipeline

import (
	"context"
	"time"
)

// Observer is told what the delivery workers do, for metrics. It is called
// on the hot path after each attempt is recorded: implementations must not
// block, and must not touch the database.
type Observer interface {
	// DeliveryAttempted reports one attempt: outcome is delivered,
	// captured, retry or failed; latency is the attempt's, sinceAccept the
	// time from the message's acceptance to the end of the attempt.
	DeliveryAttempted(envID int64, target, outcome string, latency, sinceAccept time.Duration)
	// CircuitChanged reports a target's breaker moving to state (closed,
	// half-open, open) in this process.
	CircuitChanged(envID int64, target, state string)
}

// observe tells the observer about an attempt just recorded.
func (w *DeliverWorker) observe(r *attemptRecord) {
	if w.Observer == nil {
		return
	}
	w.Observer.DeliveryAttempted(r.d.envID, r.d.Target, r.outcome(), r.res.Latency, time.Since(r.d.receivedAt))
}

// circuitChanged records a breaker's new state in target_circuits, for the
// dashboard of every process, and tells the observer. Breakers change state
// rarely; the write runs in the background so the attempt that tripped the
// breaker does not wait for it.
func (w *DeliverWorker) circuitChanged(envID int64, target, state string) {
	if w.Observer != nil {
		w.Observer.CircuitChanged(envID, target, state)
	}
	at := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := w.DB.Exec(ctx, targetCircuitUpsert, envID, target, state, at); err != nil {
			logger(w.Logger).Warn("record circuit state", "env_id", envID, "target", target, "state", state, "error", err)
		}
	}()
}
