package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
)

// logout ends the session: the server forgets it and the cookie is cleared,
// so the old token is worthless even if it was copied.
func (s *Server) logout() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if u := userOf(c); u != nil {
			if err := account.Audit(c.UserContext(), s.deps.DB, actorOf(c), "session.logout", "user", fmt.Sprint(u.ID), nil, nil); err != nil {
				return err
			}
		}
		if err := s.deps.Sessions.Destroy(c.UserContext()); err != nil {
			return err
		}
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
}
