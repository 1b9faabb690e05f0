package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
)

// Session keys.
const (
	sessionUserID = "user_id"
	// sessionGeneration is the user's account.User.SessionGeneration at
	// sign-in; loadUser ends the session when the user's has moved on.
	sessionGeneration = "session_generation"
	sessionCSRF       = "csrf"
	sessionFlash      = "flash"
	// sessionTouched is when the session was last written (Unix seconds).
	sessionTouched = "touched"
	// sessionSamplePrefix + a flow's slug is the sample last selected in
	// that flow's designer.
	sessionSamplePrefix = "designer_sample:"
)

// sessionTouchEvery is how often an unchanged session is written again to
// push its idle deadline on: at most once a minute, and at least four
// times per idle timeout.
func sessionTouchEvery(idle time.Duration) time.Duration { return min(time.Minute, idle/4) }

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
		before := sessionValues(sm, ctx)
		herr := c.Next()
		switch sm.Status(ctx) {
		case scs.Modified:
			// With an idle timeout scs marks every session it loads as
			// modified, so that each request writes it back with a later
			// deadline. A request that changed nothing would then write back
			// the values it loaded over what a concurrent request saved
			// meanwhile: the designer's live preview, sent as the analyst
			// clicks Save, erased Save's "Saved draft revision" notice. So
			// an unchanged session is written only when its deadline is
			// due to be pushed on.
			if sm.IdleTimeout > 0 && sessionValues(sm, ctx) == before &&
				time.Since(time.Unix(sm.GetInt64(ctx, sessionTouched), 0)) < sessionTouchEvery(sm.IdleTimeout) {
				break
			}
			sm.Put(ctx, sessionTouched, time.Now().Unix())
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

// sessionValues renders the session's token (RenewToken changes it) and
// values, but for when it was last written, to tell whether a request
// changed any.
func sessionValues(sm *scs.SessionManager, ctx context.Context) string {
	var b strings.Builder
	b.WriteString(sm.Token(ctx) + "\n")
	for _, k := range sm.Keys(ctx) { // sorted
		if k != sessionTouched {
			fmt.Fprintf(&b, "%s=%#v\n", k, sm.Get(ctx, k))
		}
	}
	return b.String()
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
