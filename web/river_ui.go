package web

import (
	"bytes"
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
			addWayBack(c)
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

// riverUIWayBack is the link River's UI pages get back into Crossdock:
// River's UI has no header option of its own, so its HTML page (the one
// document; the rest is its script and API) gets this before </body>.
const riverUIWayBack = `<a href="/admin" id="back-to-crossdock" style="position:fixed;right:1rem;bottom:1rem;z-index:1000;` +
	`padding:.5rem .9rem;border-radius:6px;background:#0f4c81;color:#fff;font:600 14px system-ui,sans-serif;text-decoration:none;` +
	`box-shadow:0 2px 8px rgba(0,0,0,.25)">← Back to Crossdock</a>`

// addWayBack puts riverUIWayBack into an HTML answer of River's UI.
func addWayBack(c *fiber.Ctx) {
	if !strings.HasPrefix(string(c.Response().Header.ContentType()), "text/html") {
		return
	}
	body := c.Response().Body()
	i := bytes.LastIndex(body, []byte("</body>"))
	if i < 0 {
		return
	}
	out := make([]byte, 0, len(body)+len(riverUIWayBack))
	out = append(append(append(out, body[:i]...), riverUIWayBack...), body[i:]...)
	c.Response().SetBodyRaw(out)
}
