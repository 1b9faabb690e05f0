package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/txn"
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
		err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
			all, err := release.NotificationConfigList(ctx, tx)
			if err != nil {
				return err
			}
			if err := release.NotificationConfigDelete(ctx, tx, env.ID); err != nil {
				return err
			}
			return account.Audit(ctx, tx, actorOf(c), "notifications.remove", "environment", env.Name, all[env.ID].Masked(), nil)
		})
		if err != nil {
			return err
		}
		s.flash(c, "Removed the exception notification webhook of "+env.Name+".")
		return c.Redirect("/environments#notify-"+env.Name, fiber.StatusSeeOther)
	}
}
