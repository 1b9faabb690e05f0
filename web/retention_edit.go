package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// retentionEdit is GET /environments/:env/retention: the environment's
// retention form.
func (s *Server) retentionEdit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		days, err := release.RetentionDays(ctx, s.deps.DB, env.ID)
		if err != nil {
			return err
		}
		return s.render(c, view.RetentionPage(s.page(c, "Retention in "+env.Name, "environments"), retentionView(env.Name, strconv.Itoa(days))))
	}
}

func retentionView(env, days string) view.RetentionView {
	return view.RetentionView{Environment: env, Days: days,
		Min: strconv.Itoa(release.MinRetentionDays), Max: strconv.Itoa(release.MaxRetentionDays)}
}
