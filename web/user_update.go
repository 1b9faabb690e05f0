package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/web/view"
)

// userUpdate changes a user's name, role or active flag, audited with the
// values before and after. A new role ends the user's other sessions.
func (s *Server) userUpdate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id, err := c.ParamsInt("id")
		if err != nil {
			return err
		}
		role := account.Role(c.FormValue("role"))
		active := c.FormValue("active") != "false"
		var after account.User
		err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
			before, err := account.UserByID(ctx, tx, int64(id))
			if err != nil {
				return err
			}
			after, err = account.UserUpdate(ctx, tx, before.ID, c.FormValue("name"), role, active)
			if err != nil {
				return err
			}
			return account.Audit(ctx, tx, actorOf(c), "user.update", "user", fmt.Sprint(before.ID), before, after)
		})
		if fe, ok := fault.As(err); ok && (fe.Code == fault.Invalid || fe.Code == fault.Conflict) {
			u, uerr := account.UserByID(ctx, s.deps.DB, int64(id))
			if uerr != nil {
				return uerr
			}
			c.Status(statusOf[fe.Code])
			return s.renderUserEdit(c, view.UserEdit{User: userRow(u), Error: capitalize(fe.Message) + "."})
		}
		if err != nil {
			return err
		}
		if err := s.keepSession(c, after); err != nil {
			return err
		}
		s.flash(c, "Saved "+after.Email+".")
		return c.Redirect("/admin/users", fiber.StatusSeeOther)
	}
}

// userResetPassword gives a user a new random password, shown once, and
// ends the user's sessions (the admin's own stays, when it is theirs).
func (s *Server) userResetPassword() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id, err := c.ParamsInt("id")
		if err != nil {
			return err
		}
		password := account.GeneratePassword()
		var u account.User
		err = s.hashingPassword(func() error {
			return txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
				var err error
				if u, err = account.UserByID(ctx, tx, int64(id)); err != nil {
					return err
				}
				if u.SessionGeneration, err = account.UserSetPassword(ctx, tx, u.ID, password); err != nil {
					return err
				}
				return account.Audit(ctx, tx, actorOf(c), "user.password_reset", "user", fmt.Sprint(u.ID), nil, nil)
			})
		})
		if err != nil {
			return err
		}
		if err := s.keepSession(c, u); err != nil {
			return err
		}
		return s.renderUserEdit(c, view.UserEdit{User: userRow(u), NewPassword: password})
	}
}
