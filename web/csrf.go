package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
)

// CSRFHeader is where htmx sends the token (set on <body hx-headers>).
const CSRFHeader = "X-CSRF-Token"

// CSRFField is the hidden form field holding the token.
const CSRFField = "_csrf"

var errCSRF = &fault.Error{Code: fault.Forbidden, Message: "this form has expired or was sent from another site; reload the page and try again"}

// csrf binds a random token to the scs session and requires it on every
// state-changing browser request, plus a same-origin check when the browser
// sends Origin. Tokens live in the PostgreSQL-backed session, so any serve
// process can check them (fiber's csrf middleware keeps them in process
// memory by default and binds only to its own session type).
func (s *Server) csrf() fiber.Handler {
	sm := s.deps.Sessions
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		token := sm.GetString(ctx, sessionCSRF)
		if token == "" && strings.HasPrefix(c.Path(), "/api/") && sm.Token(ctx) == "" {
			// An API call without a session: nothing to protect, and no
			// session should be started for it.
			return c.Next()
		}
		if token == "" {
			token = newCSRFToken()
			sm.Put(ctx, sessionCSRF, token)
		}
		c.Locals(localCSRF, token)
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		if !s.sameOrigin(c) {
			return errCSRF
		}
		if s.riverUICall(c) {
			return c.Next() // web/river_ui.go
		}
		sent := c.Get(CSRFHeader)
		if sent == "" {
			sent = bodyFormValue(c, CSRFField)
		}
		if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			return errCSRF
		}
		return c.Next()
	}
}

// sameOrigin accepts a request without Origin (older browsers, forms from
// file://) on the token alone, and otherwise wants the request's own origin
// or the configured base URL's.
func (s *Server) sameOrigin(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return true
	}
	if origin == "null" {
		return false
	}
	if strings.EqualFold(origin, c.Protocol()+"://"+c.Hostname()) {
		return true
	}
	if b, err := url.Parse(s.cfg.BaseURL); err == nil && b.Host != "" {
		return strings.EqualFold(origin, b.Scheme+"://"+b.Host)
	}
	return false
}

func newCSRFToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// bodyFormValue reads a field of the request body's form (urlencoded or
// multipart), never of the query string: c.FormValue looks in the query
// string first, and a token there leaks into logs, history and Referer.
func bodyFormValue(c *fiber.Ctx, name string) string {
	if v := c.Request().PostArgs().Peek(name); len(v) > 0 {
		return string(v)
	}
	if f, err := c.Request().MultipartForm(); err == nil {
		if vs := f.Value[name]; len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func csrfOf(c *fiber.Ctx) string {
	t, _ := c.Locals(localCSRF).(string)
	return t
}

// renewCSRF gives the session a fresh token (at sign-in, so a token planted
// before sign-in is worthless after it).
func (s *Server) renewCSRF(c *fiber.Ctx) {
	t := newCSRFToken()
	s.deps.Sessions.Put(c.UserContext(), sessionCSRF, t)
	c.Locals(localCSRF, t)
}
