package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// retentionSave is POST /environments/:env/retention: set how many days the
// environment keeps delivered messages and closed exceptions, audited.
func (s *Server) retentionSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		raw := strings.TrimSpace(c.FormValue("days"))
		days, convErr := strconv.Atoi(raw)
		if convErr != nil {
			days = 0 // SetRetention refuses it with the allowed range
		}
		err = release.SetRetention(ctx, s.deps.DB, releaseActor(c), env, days)
		if fault.CodeOf(err) == fault.Invalid {
			v := retentionView(env.Name, raw)
			v.Error = capitalize(toFault(err).Message) + ". Nothing was saved."
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, view.RetentionPage(s.page(c, "Retention in "+env.Name, "environments"), v))
		}
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("%s now keeps delivered messages for %d days.", env.Name, days))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}
