package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/web/view"
)

// passwordChange sets the signed-in person's own password
// (account.PasswordChange: current password required, strength checked,
// audited). Their other sessions end; this one carries on with a new token.
func (s *Server) passwordChange() fiber.Handler {
	return func(c *fiber.Ctx) error {
		me := userOf(c)
		current, next := bodyFormValue(c, "current"), bodyFormValue(c, "new")
		var gen int64
		var err error
		if next != bodyFormValue(c, "confirm") {
			err = &fault.Error{Code: fault.Invalid, Message: "the new passwords do not match; type the same one twice", Fields: map[string]string{"confirm": "does not match"}}
		} else {
			err = s.hashingPassword(func() (err error) {
				gen, err = account.PasswordChange(c.UserContext(), s.deps.DB, actorOf(c), current, next, s.deps.Now())
				return err
			})
		}
		if fe, ok := fault.As(err); ok && (fe.Code == fault.Invalid || fe.Code == fault.TooMany) {
			if fe.RetryAfterSeconds > 0 {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(fe.RetryAfterSeconds))
			}
			c.Status(statusOf[fe.Code])
			return s.render(c, view.PasswordPage(s.page(c, "Change your password", "account"),
				view.PasswordForm{Error: capitalize(fe.Message) + ".", FieldErrors: fe.Fields}))
		}
		if err != nil {
			return err
		}
		u := *me
		u.SessionGeneration = gen
		if err := s.keepSession(c, u); err != nil {
			return err
		}
		s.flash(c, "Your password is changed. Your other sessions are signed out.")
		return c.Redirect("/account/password", fiber.StatusSeeOther)
	}
}
