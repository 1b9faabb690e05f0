package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/jobs/inbox"
)

// inboxRetry sends an exception's message on from the stage that failed,
// on the version that ran.
func (s *Server) inboxRetry() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		if err := s.inTx(c, func(tx pgx.Tx) error {
			return inbox.ExceptionRetry(c.UserContext(), tx, s.deps.Queue, id, actorOf(c))
		}); err != nil {
			return err
		}
		return s.backToException(c, id, "Retry queued; the exception resolves itself when it succeeds.")
	}
}
