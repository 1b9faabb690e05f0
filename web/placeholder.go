package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/web/view"
)

// Sections that are in the navigation before their features land. Each says
// what it will hold, so the shell explains itself.
var (
	inboxPlaceholder = view.Placeholder{
		Heading: "Exception inbox",
		Lede:    "Every message or delivery that needs a person, grouped by cause.",
		Coming: []string{
			"filter by environment, flow, kind and status; see identical failures as one group",
			"read a message's lineage, fix its payload and replay it",
			"retry, resolve or ignore whole groups at once",
		},
	}
)

// placeholder renders a section that is not built yet.
func (s *Server) placeholder(section string, ph view.Placeholder) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.render(c, view.PlaceholderPage(s.page(c, ph.Heading, section), ph))
	}
}
