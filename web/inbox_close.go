package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/store"
)

// inboxClose resolves or ignores an exception (form field status) with the
// required reason.
func (s *Server) inboxClose() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		reason := c.FormValue("reason")
		status := store.ExceptionStatus(c.FormValue("status"))
		err = s.inTx(c, func(tx pgx.Tx) error {
			switch status {
			case store.ExceptionResolved:
				return inbox.ExceptionResolve(c.UserContext(), tx, s.deps.Queue, id, reason, actorOf(c))
			case store.ExceptionIgnored:
				return inbox.ExceptionIgnore(c.UserContext(), tx, s.deps.Queue, id, reason, actorOf(c))
			}
			return fault.Errorf(fault.Invalid, "status must be resolved or ignored")
		})
		if err != nil {
			return err
		}
		return s.backToException(c, id, "Exception "+string(status)+".")
	}
}
