package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web/view"
)

// usersList shows every user and the form to add one.
func (s *Server) usersList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.renderUsers(c, view.UserForm{Role: string(account.RoleViewer)})
	}
}

func (s *Server) renderUsers(c *fiber.Ctx, f view.UserForm) error {
	users, err := account.UserList(c.UserContext(), s.deps.DB)
	if err != nil {
		return err
	}
	rows := make([]view.UserRow, len(users))
	for i, u := range users {
		rows[i] = userRow(u)
	}
	return s.render(c, view.UsersPage(s.page(c, "Users", "admin-users"), rows, roleOptions(), f))
}

func userRow(u account.User) view.UserRow {
	r := view.UserRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Active: u.Active, Created: u.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), LastLogin: "never"}
	if u.LastLoginAt != nil {
		r.LastLogin = u.LastLoginAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	return r
}

func roleOptions() []view.RoleOption {
	opts := make([]view.RoleOption, len(account.Roles))
	for i, r := range account.Roles {
		opts[i] = view.RoleOption{Value: string(r), Description: r.Description()}
	}
	return opts
}
