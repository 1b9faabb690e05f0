package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// rollback switches a flow in an environment back to its previous
// deployment, audited; for the page and the API.
func (s *Server) rollback(c *fiber.Ctx, envName, slug, reason string) (mappings.Deployment, mappings.Environment, error) {
	ctx := c.UserContext()
	env, err := mappings.EnvironmentByName(ctx, s.deps.DB, envName)
	if err != nil {
		return mappings.Deployment{}, env, err
	}
	if err := mayRollback(c, env); err != nil {
		return mappings.Deployment{}, env, err
	}
	f, err := mappings.FlowBySlug(ctx, s.deps.DB, slug)
	if err != nil {
		return mappings.Deployment{}, env, err
	}
	var d mappings.Deployment
	err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
		before, _ := mappings.DeploymentCurrent(ctx, tx, env.ID, f.ID)
		var err error
		if d, err = mappings.Rollback(ctx, tx, env, f, reason, editorOf(c)); err != nil {
			return err
		}
		return account.Audit(ctx, tx, actorOf(c), "deployment.rollback", "flow", f.Slug,
			map[string]any{"environment": env.Name, "version": before.VersionNumber},
			map[string]any{"environment": env.Name, "version": d.VersionNumber, "reason": d.Reason})
	})
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
