package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web/view"
)

// userEdit shows one user's edit page.
func (s *Server) userEdit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := c.ParamsInt("id")
		if err != nil {
			return err
		}
		u, err := account.UserByID(c.UserContext(), s.deps.DB, int64(id))
		if err != nil {
			return err
		}
		return s.renderUserEdit(c, view.UserEdit{User: userRow(u)})
	}
}

func (s *Server) renderUserEdit(c *fiber.Ctx, e view.UserEdit) error {
	if me := userOf(c); me != nil {
		e.IsSelf = me.ID == e.User.ID
	}
	return s.render(c, view.UserEditPage(s.page(c, e.User.Email, "admin-users"), e, roleOptions()))
}
