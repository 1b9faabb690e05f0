package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/jobs/inbox"
)

// inboxComment adds a note to an exception.
func (s *Server) inboxComment() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		if err := s.inTx(c, func(tx pgx.Tx) error {
			_, err := inbox.ExceptionComment(c.UserContext(), tx, id, c.FormValue("body"), actorOf(c))
			return err
		}); err != nil {
			return err
		}
		return s.backToException(c, id, "Comment added.")
	}
}
