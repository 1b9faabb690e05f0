package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
)

// inboxAssign gives an exception to a support person (or to nobody, 0).
func (s *Server) inboxAssign() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		to, err := strconv.ParseInt(c.FormValue("assignee"), 10, 64)
		if err != nil || to < 0 {
			return &fault.Error{Code: fault.Invalid, Message: "choose whom to assign the exception to", Fields: map[string]string{"assignee": "required"}}
		}
		if err := s.inTx(c, func(tx pgx.Tx) error { return inbox.ExceptionAssign(c.UserContext(), tx, id, to, actorOf(c)) }); err != nil {
			return err
		}
		return s.backToException(c, id, "Assignment saved.")
	}
}
