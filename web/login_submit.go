package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/web/view"
)

// loginSubmit checks the credentials and signs the user in with a new
// session token (so a token planted before sign-in is worthless after it).
func (s *Server) loginSubmit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		email := strings.TrimSpace(bodyFormValue(c, "email"))
		next := safeNext(c.FormValue("next"))
		var u account.User
		err := s.hashingPassword(func() (err error) {
			u, err = account.Authenticate(ctx, s.deps.DB, email, bodyFormValue(c, "password"), c.IP(), s.deps.Now())
			return err
		})
		if err != nil {
			fe, ok := fault.As(err)
			if !ok || (fe.Code != fault.Unauthorized && fe.Code != fault.TooMany) {
				return err
			}
			// Refused for want of a hashing slot: no attempt was made.
			if fe != errHashingBusy {
				actor := account.Actor{Email: email, Address: c.IP()}
				if aerr := account.Audit(ctx, s.deps.DB, actor, "session.login_failed", "user", email, nil, map[string]string{"reason": fe.Message}); aerr != nil {
					return aerr
				}
			}
			if fe.RetryAfterSeconds > 0 {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(fe.RetryAfterSeconds))
			}
			c.Status(statusOf[fe.Code])
			return s.render(c, view.Login(s.basePage(c, "Sign in", ""), view.LoginForm{Email: email, Next: next, Error: capitalize(fe.Message) + "."}))
		}
		sm := s.deps.Sessions
		if err := sm.RenewToken(ctx); err != nil {
			return err
		}
		sm.Put(ctx, sessionUserID, u.ID)
		sm.Put(ctx, sessionGeneration, u.SessionGeneration)
		s.renewCSRF(c)
		c.Locals(localUser, &u)
		if err := account.Audit(ctx, s.deps.DB, actorOf(c), "session.login", "user", fmt.Sprint(u.ID), nil, nil); err != nil {
			return err
		}
		return c.Redirect(next, fiber.StatusSeeOther)
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
