package web

import (
	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// headerCarrier reads W3C trace context from a fiber request.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return h.c.Get(key) }
func (h headerCarrier) Set(string, string)    {}
func (h headerCarrier) Keys() []string        { return []string{"traceparent", "tracestate"} }

// tracing puts every request in an OpenTelemetry server span, continuing
// the caller's trace when it sends traceparent. Off (no Tracer) it costs
// nothing.
func (s *Server) tracing() fiber.Handler {
	if s.deps.Tracer == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	prop := propagation.TraceContext{}
	return func(c *fiber.Ctx) error {
		ctx := prop.Extract(c.UserContext(), headerCarrier{c})
		ctx, span := s.deps.Tracer.Start(ctx, c.Method(), trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		c.SetUserContext(ctx)
		err := c.Next()
		route := c.Route().Path
		span.SetName(c.Method() + " " + route)
		span.SetAttributes(attribute.String("http.request.method", c.Method()), attribute.String("http.route", route),
			attribute.Int("http.response.status_code", c.Response().StatusCode()), attribute.String("crossdock.request_id", requestIDOf(c)))
		if id, ok := c.Locals(localMessageID).(string); ok {
			span.SetAttributes(attribute.String("crossdock.message_id", id))
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}
