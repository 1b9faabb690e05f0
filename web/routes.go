package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
)

// routes lists Crossdock's whole URL surface. Middleware order, outermost
// first: panic recovery, request id, access log (which also renders errors,
// so the logged status is the one sent), security headers. Browser routes
// then load the session, check CSRF and load the signed-in user; API routes
// authenticate by key instead and carry no session or CSRF.
func (s *Server) routes(app *fiber.App) {
	app.Use(s.recoverPanic(), s.requestID(), s.accessLog(), s.securityHeaders())

	// Operations: no session, no auth.
	app.Get("/healthz", s.healthz())
	app.Get("/readyz", s.readyz())

	// Static assets at content-hashed URLs.
	app.Get("/static/*", s.staticAsset())

	// JSON API, authenticated by API key.
	app.Get("/api/v1/openapi.json", s.openAPI())
	api := app.Group("/api", s.apiAuth())
	api.All("/*", s.apiNotFound())

	// Browser UI.
	ui := app.Group("", s.loadSession(), s.csrf(), s.loadUser())

	// Sign-in.
	ui.Get("/login", s.loginShow())
	ui.Post("/login", s.loginSubmit())
	ui.Post("/logout", s.logout())

	// Everything below needs a signed-in user.
	in := ui.Group("", s.requireSignedIn())
	in.Get("/", s.home())

	// Sections every role reads.
	all := account.AllRoles
	in.Get("/flows", s.requireRole(all...), s.placeholder("flows", flowsPlaceholder))
	in.Get("/inbox", s.requireRole(all...), s.placeholder("inbox", inboxPlaceholder))
	in.Get("/messages", s.requireRole(all...), s.placeholder("messages", messagesPlaceholder))
	in.Get("/environments", s.requireRole(all...), s.placeholder("environments", environmentsPlaceholder))
	in.Get("/dashboard", s.requireRole(all...), s.placeholder("dashboard", dashboardPlaceholder))

	// Administration: admins only.
	admin := in.Group("/admin", s.requireRole(account.RoleAdmin))
	admin.Get("/", s.adminHome())
	admin.Get("/users", s.usersList())
	admin.Post("/users", s.userCreate())
	admin.Get("/users/:id<int>", s.userEdit())
	admin.Post("/users/:id<int>", s.userUpdate())
	admin.Post("/users/:id<int>/password", s.userResetPassword())
	admin.Get("/audit", s.auditList())

	// Anything else is a 404 page.
	ui.Use(s.notFound())
}
