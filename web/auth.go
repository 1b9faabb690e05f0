package web

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
)

// loadUser puts the signed-in user, if any, in c.Locals. A session whose user
// was deactivated or deleted, or whose password or role changed since it
// signed in (account.User.SessionGeneration), is destroyed on its next
// request.
func (s *Server) loadUser() fiber.Handler {
	sm := s.deps.Sessions
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id := sm.GetInt64(ctx, sessionUserID)
		if id == 0 {
			return c.Next()
		}
		u, err := account.UserByID(ctx, s.deps.DB, id)
		switch {
		case fault.CodeOf(err) == fault.NotFound || err == nil && (!u.Active || u.SessionGeneration != sm.GetInt64(ctx, sessionGeneration)):
			if err := sm.Destroy(ctx); err != nil {
				return err
			}
			return c.Next()
		case err != nil:
			return err
		}
		c.Locals(localUser, &u)
		return c.Next()
	}
}

// keepSession carries the request's own session over a change that ended
// the sessions of u (a new password or role), when u is the one signed in:
// a new token, and the new generation. Other sessions of u stay ended.
func (s *Server) keepSession(c *fiber.Ctx, u account.User) error {
	me := userOf(c)
	if me == nil || me.ID != u.ID {
		return nil
	}
	sm := s.deps.Sessions
	if err := sm.RenewToken(c.UserContext()); err != nil {
		return err
	}
	sm.Put(c.UserContext(), sessionGeneration, u.SessionGeneration)
	return nil
}

func userOf(c *fiber.Ctx) *account.User {
	u, _ := c.Locals(localUser).(*account.User)
	return u
}

// keyMayManage admits an API key with the manage permission where an
// analyst would be admitted, on the flows of its scope.
func (s *Server) keyMayManage(c *fiber.Ctx, key *account.APIKey, roles []account.Role) error {
	if !key.CanManage {
		return fault.Errorf(fault.Forbidden, "the API key %s may only post events; the management API needs a key created with the manage permission", key.Prefix)
	}
	if !slices.Contains(roles, account.RoleAnalyst) {
		return fault.Errorf(fault.Forbidden, "API keys cannot use this endpoint")
	}
	if slug := c.Params("slug"); slug != "" && !key.AllowsFlow(slug) {
		return fault.Errorf(fault.Forbidden, "the API key %s is limited to %s", key.Prefix, strings.Join(key.Flows, ", "))
	}
	return c.Next()
}

// inboxAccess admits people holding one of roles, and API keys created with
// the support permission, which read and act as a support person does but
// only on their own environment and flows (the handlers check each
// exception's scope with keyMaySee). A key with only the manage permission
// is refused here: the management API spans environments, and reading
// another environment's exceptions (payloads, responses) must not come with
// it.
func (s *Server) inboxAccess(roles ...account.Role) fiber.Handler {
	people := s.requireRole(roles...)
	return func(c *fiber.Ctx) error {
		key := apiKeyOf(c)
		if key == nil || userOf(c) != nil {
			return people(c)
		}
		if !key.CanSupport {
			return fault.Errorf(fault.Forbidden, "the API key %s has no support permission; the exception API needs a key created with it (Admin → API keys, or crossdock apikey create --support)", key.Prefix)
		}
		return c.Next()
	}
}

// keyMaySee says whether the request may see a message, exception or group
// of env and flow: always for a signed-in person, within its environment
// and flows for an API key.
func keyMaySee(c *fiber.Ctx, env, flow string) bool {
	key := apiKeyOf(c)
	return key == nil || userOf(c) != nil || key.MaySee(env, flow)
}

func actorOf(c *fiber.Ctx) account.Actor {
	a := account.Actor{Address: c.IP()}
	if k := apiKeyOf(c); k != nil {
		a.Email = "apikey " + k.Prefix
	}
	if u := userOf(c); u != nil {
		a.UserID, a.Email = u.ID, u.Email
	}
	return a
}

// requireSignedIn sends anonymous page views to the sign-in page, remembering
// where they were going; htmx requests get HX-Redirect, anything else 401.
func (s *Server) requireSignedIn() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if userOf(c) != nil {
			return c.Next()
		}
		target := "/login"
		if next := c.OriginalURL(); next != "/" {
			target += "?next=" + url.QueryEscape(next)
		}
		if c.Get("HX-Request") == "true" {
			c.Set("HX-Redirect", target)
			return &fault.Error{Code: fault.Unauthorized, Message: "your session has ended; sign in again"}
		}
		if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Redirect(target, fiber.StatusSeeOther)
		}
		return &fault.Error{Code: fault.Unauthorized, Message: "your session has ended; sign in again"}
	}
}

// requireRole admits users holding one of roles. Every route under the
// signed-in group names its roles, so a forgotten check is visible in
// routes.go.
func (s *Server) requireRole(roles ...account.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u := userOf(c)
		if u == nil {
			if key := apiKeyOf(c); key != nil {
				return s.keyMayManage(c, key, roles)
			}
			return &fault.Error{Code: fault.Unauthorized, Message: "sign in first"}
		}
		if !slices.Contains(roles, u.Role) {
			names := make([]string, len(roles))
			for i, r := range roles {
				names[i] = string(r)
			}
			return &fault.Error{Code: fault.Forbidden, Message: "this page needs the " + strings.Join(names, " or ") + " role; you are signed in as " + string(u.Role) + ". Ask an admin if you need access."}
		}
		return c.Next()
	}
}

// apiKeyAuth authenticates API requests that carry
// `Authorization: Bearer <api key>` and puts the key in c.Locals. A bad key
// is refused at once; requests without the header go on (to the
// browser-session middleware, or to a route that requires a key).
func (s *Server) apiKeyAuth() fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		if h == "" {
			return c.Next()
		}
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			return &fault.Error{Code: fault.Unauthorized, Message: "the Authorization header must be `Bearer <key>`"}
		}
		key, err := s.deps.KeyCache.Authenticate(c.UserContext(), s.deps.DB, strings.TrimSpace(token), s.deps.Now())
		if err != nil {
			return err
		}
		c.Locals(localAPIKey, &key)
		return c.Next()
	}
}

// apiRequireUser answers 401 problem JSON (not a redirect) to API calls
// without a signed-in session.
func (s *Server) apiRequireUser() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if userOf(c) == nil && apiKeyOf(c) == nil {
			return &fault.Error{Code: fault.Unauthorized, Message: "send an API key as `Authorization: Bearer <key>` (admins create keys under Admin → API keys), or call from a signed-in browser session"}
		}
		return c.Next()
	}
}

// safeNext keeps a post-sign-in redirect on this site: a path, never
// //evil.example or a full URL.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}
