package web

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
)

// Keys of the message an accept created, for the access log line.
const (
	localMessageID     = "crossdock.message_id"
	localCorrelationID = "crossdock.correlation_id"
)

// httpMetrics counts every request by method, matched route pattern and
// the status sent (it runs outside accessLog, which renders errors).
func (s *Server) httpMetrics() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Metrics == nil {
			return c.Next()
		}
		start := time.Now()
		err := c.Next()
		// The pattern, never the raw path: one series per route, not per id.
		s.deps.Metrics.HTTPRequest(c.Method(), c.Route().Path, c.Response().StatusCode(), time.Since(start))
		return err
	}
}

// metricsEndpoint is GET /metrics on the main address, answered only with
// `Authorization: Bearer <CROSSDOCK_METRICS_TOKEN>`; without a token
// configured it does not exist (metrics may still be served on
// CROSSDOCK_METRICS_ADDR).
func (s *Server) metricsEndpoint() fiber.Handler {
	var h fiber.Handler
	if s.deps.Metrics != nil {
		h = adaptor.HTTPHandler(s.deps.Metrics.Handler())
	}
	return func(c *fiber.Ctx) error {
		if h == nil || s.cfg.MetricsToken == "" {
			return fault.Errorf(fault.NotFound, "no page at %s", c.Path())
		}
		want := "Bearer " + s.cfg.MetricsToken
		if subtle.ConstantTimeCompare([]byte(c.Get(fiber.HeaderAuthorization)), []byte(want)) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return fault.Errorf(fault.Unauthorized, "send Authorization: Bearer with the metrics token (CROSSDOCK_METRICS_TOKEN)")
		}
		return h(c)
	}
}

// observeAccept counts an accepted message and names it in the request's
// log line.
func (s *Server) observeAccept(c *fiber.Ctx, env, flow string, res intake.AcceptResult) {
	c.Locals(localMessageID, res.MessageID.String())
	c.Locals(localCorrelationID, res.CorrelationID)
	if s.deps.Metrics != nil && !res.Replayed {
		// Route parameters live in fiber's reused buffers: copy them
		// before they become label values that outlive the request.
		s.deps.Metrics.Accepted(strings.Clone(env), strings.Clone(flow), 1)
	}
}
