package web

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
)

// databaseGate answers the trigger endpoints 503 at once while the
// database is known to be unreachable. Without it every request of an
// outage pays for its own connection attempt, and while PostgreSQL is
// starting up (the port open, the postmaster not yet answering) an attempt
// waits up to the pool's connect timeout: the database-outage test saw 503s
// take 1–2 s under load. One request failing with an unreachable database
// closes the gate; a background probe (a ping through the pool, every
// probeEvery) opens it as soon as the database answers again, so the
// process recovers by itself without a request paying for the probe.
type databaseGate struct {
	probe      func(context.Context) error
	probeEvery time.Duration
	closed     atomic.Bool

	mu      sync.Mutex
	probing bool
}

// databaseGateProbeEvery is how often a closed gate probes the database;
// it bounds how long the triggers keep refusing after the database is back.
const databaseGateProbeEvery = 250 * time.Millisecond

func newDatabaseGate(probe func(context.Context) error) *databaseGate {
	return &databaseGate{probe: probe, probeEvery: databaseGateProbeEvery}
}

// trip closes the gate after a request found the database unreachable and
// starts the probe unless one runs. Without a probe (a server without
// Deps.DB) the gate never closes.
func (g *databaseGate) trip() {
	if g == nil || g.probe == nil {
		return
	}
	g.mu.Lock()
	g.closed.Store(true)
	start := !g.probing
	g.probing = true
	g.mu.Unlock()
	if start {
		go g.watch()
	}
}

func (g *databaseGate) watch() {
	for {
		time.Sleep(g.probeEvery)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := g.probe(ctx)
		cancel()
		if err == nil {
			g.mu.Lock()
			g.closed.Store(false)
			g.probing = false
			g.mu.Unlock()
			return
		}
	}
}

// databaseGate refuses trigger calls with 503 and Retry-After while the
// gate is closed, before they touch the database (API key included).
func (s *Server) databaseGate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.gate != nil && s.gate.closed.Load() {
			return &fault.Error{Code: fault.Unavailable, RetryAfterSeconds: 5,
				Message: "the message store is unavailable; nothing was recorded, send the event again shortly"}
		}
		return c.Next()
	}
}
