package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings/release"
)

// environmentCreate adds an environment at the end of the promotion order.
func (s *Server) environmentCreate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		var e release.Environment
		err := txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
			var err error
			if e, err = release.EnvironmentCreate(ctx, tx, c.FormValue("name"), c.FormValue("protected") != ""); err != nil {
				return err
			}
			return account.Audit(ctx, tx, actorOf(c), "environment.create", "environment", e.Name, nil, e)
		})
		if code := fault.CodeOf(err); code == fault.Invalid || code == fault.Conflict {
			c.Status(toStatus(err))
			return s.renderEnvironments(c, capitalize(toFault(err).Message)+".")
		}
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Added environment %s.", e.Name))
		return c.Redirect("/environments#env-"+e.Name, fiber.StatusSeeOther)
	}
}

// environmentSettings sets an environment's protected flag and place in the
// promotion order.
func (s *Server) environmentSettings() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		pos, err := strconv.Atoi(c.FormValue("position", strconv.Itoa(env.Position)))
		if err != nil {
			return &fault.Error{Code: fault.Invalid, Message: "the position must be a number", Fields: map[string]string{"position": "a number"}}
		}
		var after release.Environment
		err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
			var err error
			if after, err = release.EnvironmentUpdate(ctx, tx, env.ID, c.FormValue("protected") != "", pos); err != nil {
				return err
			}
			return account.Audit(ctx, tx, actorOf(c), "environment.update", "environment", env.Name, env, after)
		})
		if fault.CodeOf(err) == fault.Invalid {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderEnvironments(c, capitalize(toFault(err).Message)+".")
		}
		if err != nil {
			return err
		}
		state := "unprotected"
		if after.Protected {
			state = "protected"
		}
		s.flash(c, fmt.Sprintf("Saved %s: %s, place %d.", env.Name, state, pos))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}

// variableSave sets one of an environment's variables.
func (s *Server) variableSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		name, value := strings.TrimSpace(c.FormValue("name")), c.FormValue("value")
		err = release.SetVariable(ctx, s.deps.DB, releaseActor(c), env, name, value)
		if fault.CodeOf(err) == fault.Invalid {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderEnvironments(c, capitalize(toFault(err).Message)+".")
		}
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Set %s in %s.", name, env.Name))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}

// variableDelete removes one of an environment's variables.
func (s *Server) variableDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		name := c.Params("name")
		err = release.RemoveVariable(ctx, s.deps.DB, releaseActor(c), env, name)
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Deleted %s from %s.", name, env.Name))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}
