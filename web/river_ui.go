package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/crossdock/crossdock/account"
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
	h := adaptor.HTTPHandler(s.deps.RiverUI)
	return func(c *fiber.Ctx) error {
		if err := h(c); err != nil {
			return err
		}
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead:
			return nil
		}
		if c.Response().StatusCode() >= 400 {
			return nil
		}
		// River's UI changes jobs and queues (cancel, retry, delete, pause)
		// outside Crossdock's own handlers; each change it accepted is
		// audited like any other, with what was asked (job ids, a queue).
		body := c.Body()
		if len(body) > 2048 {
			body = body[:2048]
		}
		return account.Audit(c.UserContext(), s.deps.DB, actorOf(c), "river.change", "river_ui",
			c.Method()+" "+strings.TrimPrefix(c.Path(), "/admin/river"), nil, map[string]string{"request": string(body)})
	}
}

// riverUICall tells River UI's own API calls from forged ones. Its script
// calls with fetch from this origin and cannot know the CSRF token, so two
// headers the browser sets, and a page cannot, stand in for it: Origin must
// be this site's, and Sec-Fetch-Mode must say a script's fetch (cors or
// same-origin) — a cross-site form arrives with another Origin, and any
// form with mode navigate.
func (s *Server) riverUICall(c *fiber.Ctx) bool {
	mode := c.Get("Sec-Fetch-Mode")
	return strings.HasPrefix(c.Path(), riverUIAPIPrefix) && c.Get(fiber.HeaderOrigin) != "" && s.sameOrigin(c) &&
		(mode == "cors" || mode == "same-origin")
}
