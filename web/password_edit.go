package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/web/view"
)

// passwordEdit shows the signed-in person's own password form.
func (s *Server) passwordEdit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.render(c, view.PasswordPage(s.page(c, "Change your password", "account"), view.PasswordForm{}))
	}
}
