package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// rollback switches a flow in an environment back to its previous
// deployment, for the page and the API; release.Rollback decides and
// audits.
func (s *Server) rollback(c *fiber.Ctx, envName, slug, reason string) (release.Deployment, release.Environment, error) {
	ctx := c.UserContext()
	env, err := release.EnvironmentByName(ctx, s.deps.DB, envName)
	if err != nil {
		return release.Deployment{}, env, err
	}
	f, err := mappings.FlowBySlug(ctx, s.deps.DB, slug)
	if err != nil {
		return release.Deployment{}, env, err
	}
	d, err := release.Rollback(ctx, s.deps.DB, s.deps.Transports, releaseActor(c), env, f, reason, s.deps.Now())
	return d, env, err
}

// deploymentRollback is the history page's rollback button.
func (s *Server) deploymentRollback() fiber.Handler {
	return func(c *fiber.Ctx) error {
		d, env, err := s.rollback(c, c.Params("env"), c.Params("slug"), c.FormValue("reason"))
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Rolled back: %s now runs %s v%d; messages already accepted keep their version.", env.Name, c.Params("slug"), d.VersionNumber))
		return c.Redirect("/environments/"+env.Name+"/flows/"+c.Params("slug"), fiber.StatusSeeOther)
	}
}
