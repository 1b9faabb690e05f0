package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/crossdock/crossdock/internal/fault"
)

// riverUIAPIPrefix is where River's UI sends its API calls.
const riverUIAPIPrefix = "/admin/river/api/"

// riverUI is /admin/river and everything under it: River's own UI (queues,
// jobs, retries), served through the net/http adaptor behind the admin
// role. Its page loads its scripts and styles from the same origin, so the
// content security policy holds.
func (s *Server) riverUI() fiber.Handler {
	if s.deps.RiverUI == nil {
		return func(c *fiber.Ctx) error {
			return fault.Errorf(fault.NotFound, "River's UI is not running in this process")
		}
	}
	return adaptor.HTTPHandler(s.deps.RiverUI)
}

// riverUICall tells River UI's own API calls from forged ones: its script
// sends JSON with fetch from this origin, which a cross-site form cannot do
// (a cross-origin JSON request needs a CORS preflight we never grant), so
// the origin check stands in for the CSRF token it does not know.
func (s *Server) riverUICall(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Path(), riverUIAPIPrefix) && c.Get(fiber.HeaderOrigin) != "" && s.sameOrigin(c) &&
		strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON)
}
