package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/web/view"
)

// loginShow shows the sign-in form, or sends a signed-in user on.
func (s *Server) loginShow() fiber.Handler {
	return func(c *fiber.Ctx) error {
		next := safeNext(c.Query("next"))
		if userOf(c) != nil {
			return c.Redirect(next, fiber.StatusSeeOther)
		}
		return s.render(c, view.Login(s.basePage(c, "Sign in", ""), view.LoginForm{Next: next}))
	}
}
