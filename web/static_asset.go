package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
)

// staticAsset serves embedded files at their content-hashed URLs with a
// year-long immutable cache: the URL changes whenever the content does.
func (s *Server) staticAsset() fiber.Handler {
	return func(c *fiber.Ctx) error {
		as, ok := s.deps.Assets.ByURL(c.Path())
		if !ok {
			return &fault.Error{Code: fault.NotFound, Message: "no such static file; pages link to assets by content hash, so reload the page"}
		}
		c.Set(fiber.HeaderContentType, as.ContentType)
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		return c.Send(as.Body)
	}
}
