package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz says the process is alive. It touches nothing else, so a load
// balancer does not take every process out when the database blinks.
func (s *Server) healthz() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	}
}

// readyz says whether this process can do useful work: the database answers
// and its schema is the one this binary expects.
func (s *Server) readyz() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := s.deps.Ready(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "request_id", requestIDOf(c), "error", err)
			c.Set(fiber.HeaderRetryAfter, "5")
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "detail": "the database is unreachable or its schema is not current; see the server log"})
		}
		return c.JSON(fiber.Map{"status": "ready"})
	}
}
