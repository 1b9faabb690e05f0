package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/web/view"
)

// Sections that are in the navigation before their features land. Each says
// what it will hold, so the shell explains itself.
var (
	messagesPlaceholder = view.Placeholder{
		Heading: "Messages",
		Lede:    "Find any event Crossdock accepted and see where it is.",
		Coming: []string{
			"search by id, correlation id, idempotency key or a value in the payload such as an order number",
			"see each step from received to delivered with times and details",
		},
	}
	dashboardPlaceholder = view.Placeholder{
		Heading: "Dashboard",
		Lede:    "Sync health at a glance.",
		Coming: []string{
			"messages received, delivered and failed over time",
			"delivery latency and SLA adherence per flow and channel",
			"queue depth and target health",
		},
	}
)

// placeholder renders a section that is not built yet.
func (s *Server) placeholder(section string, ph view.Placeholder) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.render(c, view.PlaceholderPage(s.page(c, ph.Heading, section), ph))
	}
}
