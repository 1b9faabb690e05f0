package web

import (
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
)

// Session keys.
const (
	sessionUserID = "user_id"
	sessionCSRF   = "csrf"
	sessionFlash  = "flash"
)

// loadSession bridges scs into fiber natively: Load before the handler,
// Commit (or clear the cookie) after it. scs's LoadAndSave through fiber's
// net/http adaptor would commit before fiber handlers run and lose a login's
// RenewToken, so it is not used (see DESIGN.md, pitfalls).
func (s *Server) loadSession() fiber.Handler {
	sm := s.deps.Sessions
	return func(c *fiber.Ctx) error {
		ctx, err := sm.Load(c.UserContext(), c.Cookies(sm.Cookie.Name))
		if err != nil {
			return fault.Wrap(err, fault.Unavailable, "your session could not be loaded; try again in a moment")
		}
		c.SetUserContext(ctx)
		herr := c.Next()
		switch sm.Status(ctx) {
		case scs.Modified:
			token, expiry, err := sm.Commit(ctx)
			if err != nil {
				return fault.Wrap(err, fault.Unavailable, "your session could not be saved; try again in a moment")
			}
			s.writeSessionCookie(c, token, expiry)
		case scs.Destroyed:
			s.writeSessionCookie(c, "", time.Time{})
		}
		return herr
	}
}

func (s *Server) writeSessionCookie(c *fiber.Ctx, token string, expiry time.Time) {
	sm := s.deps.Sessions
	ck := &fiber.Cookie{
		Name:     sm.Cookie.Name,
		Value:    token,
		Path:     "/",
		HTTPOnly: true,
		Secure:   sm.Cookie.Secure,
		SameSite: fiber.CookieSameSiteLaxMode,
	}
	if token == "" {
		ck.Expires = time.Unix(1, 0)
		ck.MaxAge = -1
	}
	// A session cookie (no Expires) ends with the browser; the server-side
	// idle and absolute timeouts end it sooner.
	c.Cookie(ck)
	c.Set(fiber.HeaderCacheControl, `no-cache="Set-Cookie"`)
}
