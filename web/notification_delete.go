package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings/release"
)

// notificationDelete removes an environment's exception notification
// webhook, audited.
func (s *Server) notificationDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		err = release.RemoveNotifications(ctx, s.deps.DB, s.deps.Sealer, releaseActor(c), env)
		if err != nil {
			return err
		}
		s.flash(c, "Removed the exception notification webhook of "+env.Name+".")
		return c.Redirect("/environments#notify-"+env.Name, fiber.StatusSeeOther)
	}
}
