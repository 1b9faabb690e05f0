package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/jobs/store"
)

// messagePayload downloads a message's payload exactly as it arrived.
func (s *Server) messagePayload() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := store.ParseMessageID(c.Params("id"))
		if err != nil {
			return err
		}
		m, err := store.MessageByID(c.UserContext(), s.deps.DB, id)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="message-`+m.ID.String()+`.json"`)
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Send(m.Payload)
	}
}
