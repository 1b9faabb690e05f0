package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
)

// Keys for values handlers share through c.Locals.
const (
	localRequestID = "crossdock.request_id"
	localUser      = "crossdock.user"
	localCSRF      = "crossdock.csrf"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-ID"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID takes a well-formed X-Request-ID from the caller (so a load
// balancer's id follows the request) or makes one, and puts it in the
// response, c.Locals and the request context for the audit log.
func (s *Server) requestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Locals(localRequestID, id)
		c.Set(RequestIDHeader, id)
		c.SetUserContext(account.WithRequestID(c.UserContext(), id))
		return c.Next()
	}
}

func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// accessLog logs one line per request with its id. It renders a handler's
// error itself so that the status it logs is the one the client got.
func (s *Server) accessLog() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := s.handleError(c, err); herr != nil {
				return herr
			}
		}
		// Server-Timing lets benchmarks and browser dev tools see the time
		// spent in the server, apart from the network.
		elapsed := time.Since(start)
		c.Set("Server-Timing", fmt.Sprintf("app;dur=%.3f", float64(elapsed.Microseconds())/1000))
		attrs := []slog.Attr{
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", c.Response().StatusCode()),
			slog.Duration("duration", elapsed),
			slog.String("ip", c.IP()),
		}
		if u := userOf(c); u != nil {
			attrs = append(attrs, slog.Int64("user_id", u.ID))
		}
		if id, ok := c.Locals(localMessageID).(string); ok {
			attrs = append(attrs, slog.String("message_id", id), slog.String("correlation_id", fmt.Sprint(c.Locals(localCorrelationID))))
		}
		level := slog.LevelInfo
		if c.Path() == "/healthz" || c.Path() == "/readyz" || len(c.Path()) > 8 && c.Path()[:8] == "/static/" {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(c.UserContext(), level, "http request", attrs...)
		return nil
	}
}

// recoverPanic turns a panic into a logged internal error instead of a
// dropped connection.
func (s *Server) recoverPanic() fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic", "request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = s.handleError(c, fmt.Errorf("panic: %v", r))
			}
		}()
		return c.Next()
	}
}

// securityHeaders keeps pages from being framed, sniffed or fed scripts from
// elsewhere. Scripts come only from our own hashed static files.
func (s *Server) securityHeaders() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("X-Frame-Options", "DENY")
		c.Set("Referrer-Policy", "same-origin")
		return c.Next()
	}
}

// warnUntrustedForwarding logs a warning, once per process, the first time
// a request carries X-Forwarded-For while Config.TrustedProxies is empty.
// Such requests come through a reverse proxy whose header is not believed,
// so every client behind it shares the proxy's address, and the sign-in
// throttle per address (account.AddressFailureLimit failures) locks them
// all out together. The warning cannot be logged at start: only a request
// shows that a proxy is there.
func (s *Server) warnUntrustedForwarding() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(s.cfg.TrustedProxies) == 0 && !s.forwardingWarned.Load() && c.Get(fiber.HeaderXForwardedFor) != "" &&
			s.forwardingWarned.CompareAndSwap(false, true) {
			s.log.Warn("a request came with X-Forwarded-For but CROSSDOCK_TRUSTED_PROXIES is unset: "+
				"every client behind the proxy counts as the proxy's address, so sign-in throttling per address locks them all out together; "+
				"set CROSSDOCK_TRUSTED_PROXIES to the proxy's address",
				"proxy", c.Context().RemoteIP().String(), "request_id", requestIDOf(c))
		}
		return c.Next()
	}
}
