package web

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestDatabaseGateRefusesUntilTheProbeSucceeds(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	g := newDatabaseGate(func(context.Context) error {
		if up.Load() {
			return nil
		}
		return errors.New("connection refused")
	})
	g.probeEvery = 5 * time.Millisecond
	s := &Server{gate: g}
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		fe := toFault(err)
		c.Set(fiber.HeaderRetryAfter, "5")
		return c.SendStatus(statusOf[fe.Code])
	}})
	app.Post("/", s.databaseGate(), func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusAccepted) })
	status := func() int {
		res, err := app.Test(httptest.NewRequest("POST", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}

	if got := status(); got != fiber.StatusAccepted {
		t.Fatalf("open gate: %d", got)
	}
	g.trip()
	g.trip() // a second failure starts no second probe
	time.Sleep(30 * time.Millisecond)
	if got := status(); got != fiber.StatusServiceUnavailable {
		t.Fatalf("closed gate while the probe fails: %d, want 503", got)
	}
	up.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for status() != fiber.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("the gate did not open after the probe succeeded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A later outage closes it again.
	up.Store(false)
	g.trip()
	if got := status(); got != fiber.StatusServiceUnavailable {
		t.Fatalf("tripped again: %d, want 503", got)
	}
}

func TestDatabaseGateWithoutAProbeNeverCloses(t *testing.T) {
	g := newDatabaseGate(nil)
	g.trip()
	if g.closed.Load() {
		t.Fatal("a gate without a probe closed")
	}
	var nilGate *databaseGate
	nilGate.trip()
}
