package web

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDocument describes the JSON API. It is kept true in the same commit
// as every API change.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the OpenAPI document, without authentication so tools can
// read it.
func (s *Server) openAPI() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(openAPIDocument)
	}
}
