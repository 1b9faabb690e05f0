package web

import (
	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/mappings/release"

	"github.com/crossdock/crossdock/web/view"
)

// page builds the view model every full page needs, taking the one-time
// flash message if there is one.
func (s *Server) page(c *fiber.Ctx, title, section string) view.Page {
	p := s.basePage(c, title, section)
	if p.User != nil {
		// Only signed-in pages have a loaded session to pop from.
		p.Flash = s.deps.Sessions.PopString(c.UserContext(), sessionFlash)
	}
	return p
}

// basePage is page without touching the flash (for error pages, which must
// not swallow a confirmation meant for the next page).
func (s *Server) basePage(c *fiber.Ctx, title, section string) view.Page {
	p := view.Page{
		Title:     title,
		Section:   section,
		CSRF:      csrfOf(c),
		RequestID: requestIDOf(c),
		Assets: view.Assets{
			CSS:  s.deps.Assets.URL("css/app.css"),
			JS:   s.deps.Assets.URL("js/app.js"),
			HTMX: s.deps.Assets.URL("js/htmx.min.js"),
			// Morph is htmx's idiomorph extension: swaps that keep focus,
			// caret and scroll. Designer is the designer's document
			// behaviour (dirty marker, guard, shortcuts, autosave).
			Morph:    s.deps.Assets.URL("js/idiomorph-ext.min.js"),
			Designer: s.deps.Assets.URL("js/designer.js"),
			Logo:     s.deps.Assets.URL("img/logo.svg"),
		},
	}
	if u := userOf(c); u != nil {
		p.User = &view.User{Email: u.Email, Role: string(u.Role), IsAdmin: u.Role == account.RoleAdmin}
		// The inbox's open count in the navigation: a sum over the groups'
		// counters, cheap on every page. A failure leaves the badge off.
		n, err := inbox.OpenExceptionCount(c.UserContext(), s.deps.DB)
		if err != nil {
			s.log.WarnContext(c.UserContext(), "open exception count", "request_id", p.RequestID, "error", err)
		}
		p.InboxOpen = n
		awaiting, err := release.AwaitingDecisionCount(c.UserContext(), s.deps.DB, release.User(*u, c.IP()))
		if err != nil {
			s.log.WarnContext(c.UserContext(), "promotion requests awaiting decision", "request_id", p.RequestID, "error", err)
		}
		p.Awaiting = awaiting
	}
	return p
}

// render writes a component straight to the response (not through the
// net/http adaptor).
func (s *Server) render(c *fiber.Ctx, comp templ.Component) error {
	c.Type("html", "utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

// flash leaves a one-time confirmation for the next page.
func (s *Server) flash(c *fiber.Ctx, msg string) {
	s.deps.Sessions.Put(c.UserContext(), sessionFlash, msg)
}
