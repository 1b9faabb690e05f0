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

// userCreate adds a user. With no password given it generates one and shows
// it once on the page that answers the form (it never passes through the
// session store or the log).
func (s *Server) userCreate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		f := view.UserForm{Email: c.FormValue("email"), Name: c.FormValue("name"), Role: c.FormValue("role")}
		password, generated := bodyFormValue(c, "password"), false
		if password == "" {
			password, generated = account.GeneratePassword(), true
		}
		var created account.User
		err := s.hashingPassword(func() error {
			return txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
				var err error
				created, err = account.UserCreate(ctx, tx, account.NewUser{Email: f.Email, Name: f.Name, Role: account.Role(f.Role), Password: password})
				if err != nil {
					return err
				}
				return account.Audit(ctx, tx, actorOf(c), "user.create", "user", fmt.Sprint(created.ID), nil, created)
			})
		})
		if fe, ok := fault.As(err); ok && (fe.Code == fault.Invalid || fe.Code == fault.Conflict) {
			f.Error = capitalize(fe.Message) + "."
			f.FieldErrors = fe.Fields
			c.Status(statusOf[fe.Code])
			return s.renderUsers(c, f)
		}
		if err != nil {
			return err
		}
		if generated {
			return s.renderUsers(c, view.UserForm{Role: string(account.RoleViewer), NewPassword: password, CreatedEmail: created.Email})
		}
		s.flash(c, "Added "+created.Email+" as "+string(created.Role)+".")
		return c.Redirect("/admin/users", fiber.StatusSeeOther)
	}
}
