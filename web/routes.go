package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/store"
)

// routes lists Crossdock's whole URL surface. Middleware order, outermost
// first: panic recovery, request id, access log (which also renders errors,
// so the logged status is the one sent), security headers, a warning about
// X-Forwarded-For without trusted proxies. Browser routes
// then load the session, check CSRF and load the signed-in user; API routes
// authenticate by key instead and carry no session or CSRF.
func (s *Server) routes(app *fiber.App) {
	app.Use(s.recoverPanic(), s.httpMetrics(), s.requestID(), s.tracing(), s.accessLog(), s.securityHeaders(), s.warnUntrustedForwarding())

	// Who may do what: every signed-in role reads; analysts and admins
	// change flows.
	all, edit := account.AllRoles, flowEditors
	triage := triageRoles // support and admins act on exceptions

	// Operations: no session, no auth.
	app.Get("/healthz", s.healthz())
	app.Get("/readyz", s.readyz())
	// Prometheus, behind CROSSDOCK_METRICS_TOKEN (web/metrics.go).
	app.Get("/metrics", s.metricsEndpoint())

	// Static assets at content-hashed URLs.
	app.Get("/static/*", s.staticAsset())

	// JSON API: an API key, or the browser's session (with the CSRF token in
	// X-CSRF-Token on changes). Key-authenticated calls stop at apiKeyAuth;
	// the others pass through the session middleware below.
	app.Get("/api/openapi.json", s.openAPI())
	app.Get("/api/v1/openapi.json", s.openAPI())
	// While the database is down, triggers are refused before the API key
	// is looked up (web/database_gate.go).
	app.Use("/api/v1/envs", s.databaseGate())
	app.Use("/api", s.apiKeyAuth())

	// Triggers: API keys only, no session.
	app.Post("/api/v1/envs/:env/flows/:flow/messages", s.requireAPIKey(), s.triggerAccept())
	app.Post("/api/v1/envs/:env/flows/:flow/messages\\:batch", s.requireAPIKey(), s.triggerBatch())

	// Browser UI (and session-authenticated API calls).
	ui := app.Group("", s.loadSession(), s.csrf(), s.loadUser())

	// Sign-in.
	ui.Get("/login", s.loginShow())
	ui.Post("/login", s.loginSubmit())
	ui.Post("/logout", s.logout())

	// Management API for flows. Bodies are JSON (415 otherwise).
	api := app.Group("/api/v1", s.apiRequireUser(), s.apiJSONBody())
	api.Get("/messages", s.apiMessageList())
	api.Get("/messages/:id", s.messageGet())
	api.Get("/flows", s.requireRole(all...), s.apiFlowList())
	api.Get("/flows/:slug", s.requireRole(all...), s.apiFlowGet())
	api.Get("/flows/:slug/draft", s.requireRole(all...), s.apiDraftGet())
	api.Put("/flows/:slug/draft", s.requireRole(edit...), s.apiDraftPut())
	api.Post("/flows/:slug/publish", s.requireRole(edit...), s.apiPublish())
	api.Get("/flows/:slug/versions", s.requireRole(all...), s.apiVersionList())
	api.Get("/flows/:slug/versions/:n<int>", s.requireRole(all...), s.apiVersionGet())
	api.Get("/flows/:slug/diff", s.requireRole(all...), s.apiDiff())
	api.Post("/flows/:slug/preview", s.requireRole(all...), s.apiPreview())

	// Promotion API: the matrix, previews with gates, promotions,
	// approvals (people only), rollback, bundles. A key promotes only into
	// its own environment.
	api.Get("/environments", s.requireRole(all...), s.apiEnvironments())
	api.Get("/flows/:slug/promotions/preview", s.requireRole(all...), s.apiPromotionPreview())
	api.Post("/flows/:slug/promotions", s.requireRole(promoters...), s.apiPromote())
	api.Get("/flows/:slug/deployments", s.requireRole(all...), s.apiDeploymentHistory())
	api.Post("/flows/:slug/rollback", s.requireRole(promoters...), s.apiRollback())
	api.Get("/promotions", s.requireRole(all...), s.apiPromotionRequests())
	api.Post("/promotions/:id<int>/approve", s.requireRole(deciders...), s.apiPromotionDecide(true))
	api.Post("/promotions/:id<int>/reject", s.requireRole(deciders...), s.apiPromotionDecide(false))
	// Environment API: admins, and API keys with the configure permission
	// in their own environment.
	api.Get("/target-kinds", s.configureAccess(), s.apiTargetKinds())
	api.Get("/environments/:env/targets", s.configureAccess(), s.apiTargetList())
	api.Get("/environments/:env/targets/:target", s.configureAccess(), s.apiTargetGet())
	api.Put("/environments/:env/targets/:target", s.configureAccess(), s.apiTargetPut())
	api.Delete("/environments/:env/targets/:target", s.configureAccess(), s.apiTargetDelete())
	api.Get("/environments/:env/variables", s.configureAccess(), s.apiVariableList())
	api.Put("/environments/:env/variables/:name", s.configureAccess(), s.apiVariablePut())
	api.Delete("/environments/:env/variables/:name", s.configureAccess(), s.apiVariableDelete())
	api.Get("/environments/:env/retention", s.configureAccess(), s.apiRetentionGet())
	api.Put("/environments/:env/retention", s.configureAccess(), s.apiRetentionPut())
	api.Get("/environments/:env/notifications", s.configureAccess(), s.apiNotificationsGet())
	api.Put("/environments/:env/notifications", s.configureAccess(), s.apiNotificationsPut())
	api.Delete("/environments/:env/notifications", s.configureAccess(), s.apiNotificationsDelete())
	api.Get("/environments/:env/flows/:slug/targets", s.configureAccess(), s.apiFlowTargetNames())
	api.Put("/environments/:env/flows/:slug/targets", s.configureAccess(), s.apiFlowTargetNamesPut())
	api.Get("/bundle", s.requireRole(all...), s.apiBundleExport())
	api.Post("/bundle", s.requireRole(edit...), s.apiBundleImport())

	// Exception inbox API: everyone reads; support and admins act; API keys
	// with the support permission read and act in their own environment.
	api.Get("/exceptions", s.inboxAccess(all...), s.apiExceptionList())
	api.Get("/exceptions/:id", s.inboxAccess(all...), s.apiExceptionGet())
	api.Post("/exceptions/:id/retry", s.inboxAccess(triage...), s.apiExceptionRetry())
	api.Post("/exceptions/:id/replay", s.inboxAccess(triage...), s.apiExceptionReplay())
	api.Post("/exceptions/:id/replay/preview", s.inboxAccess(all...), s.apiExceptionReplayPreview())
	api.Post("/exceptions/:id/resolve", s.inboxAccess(triage...), s.apiExceptionClose(store.ExceptionResolved))
	api.Post("/exceptions/:id/ignore", s.inboxAccess(triage...), s.apiExceptionClose(store.ExceptionIgnored))
	api.Post("/exceptions/:id/assign", s.inboxAccess(triage...), s.apiExceptionAssign())
	api.Get("/exception-groups", s.inboxAccess(all...), s.apiGroupList())
	api.Get("/exception-groups/:id", s.inboxAccess(all...), s.apiGroupGet())
	api.Post("/bulk-actions", s.inboxAccess(triage...), s.apiBulkStart())
	api.Get("/bulk-actions/:id<int>", s.inboxAccess(all...), s.apiBulkGet())
	app.Use("/api", s.apiNotFound())

	// Everything below needs a signed-in user.
	in := ui.Group("", s.requireSignedIn())
	in.Get("/", s.home())
	// One's own password: every role.
	in.Get("/account/password", s.requireRole(all...), s.passwordEdit())
	in.Post("/account/password", s.requireRole(all...), s.passwordChange())
	in.Get("/docs/api", s.requireRole(all...), s.apiDocs())

	// Flows and the designer: everyone reads, analysts and admins change.
	in.Get("/flows", s.requireRole(all...), s.flowsList())
	in.Post("/flows", s.requireRole(edit...), s.flowCreate())
	in.Get("/flows/:slug", s.requireRole(all...), s.flowDesigner())
	in.Post("/flows/:slug/preview", s.requireRole(all...), s.flowPreview())
	in.Post("/flows/:slug/draft", s.requireRole(edit...), s.flowDraftSave())
	in.Post("/flows/:slug/draft/ops", s.requireRole(edit...), s.flowDraftOps())
	in.Post("/flows/:slug/samples", s.requireRole(edit...), s.flowSampleAdd())
	in.Post("/flows/:slug/samples/rename", s.requireRole(edit...), s.flowSampleRename())
	in.Post("/flows/:slug/samples/delete", s.requireRole(edit...), s.flowSampleDelete())
	in.Post("/flows/:slug/tests", s.requireRole(edit...), s.flowTestSave())
	in.Post("/flows/:slug/tests/run", s.requireRole(all...), s.flowTestsRun())
	in.Post("/flows/:slug/tests/accept", s.requireRole(edit...), s.flowTestAccept())
	in.Post("/flows/:slug/tests/edit", s.requireRole(edit...), s.flowTestEdit())
	in.Post("/flows/:slug/tests/rename", s.requireRole(edit...), s.flowTestRename())
	in.Post("/flows/:slug/tests/delete", s.requireRole(edit...), s.flowTestDelete())
	in.Post("/flows/:slug/publish", s.requireRole(edit...), s.flowPublish())
	in.Post("/flows/:slug/import", s.requireRole(edit...), s.flowImport())
	in.Get("/flows/:slug/definition.json", s.requireRole(all...), s.flowExport())
	in.Post("/flows/:slug/lookups", s.requireRole(edit...), s.flowLookupCreate())
	in.Get("/flows/:slug/lookups/:name", s.requireRole(all...), s.flowLookup())
	in.Post("/flows/:slug/lookups/:name", s.requireRole(edit...), s.flowLookupSave())
	in.Get("/flows/:slug/lookups/:name/csv", s.requireRole(all...), s.flowLookupCSVExport())
	in.Post("/flows/:slug/lookups/:name/csv", s.requireRole(edit...), s.flowLookupCSVImport())
	in.Get("/flows/:slug/versions", s.requireRole(all...), s.flowVersions())
	in.Post("/flows/:slug/versions/:n<int>/restore", s.requireRole(edit...), s.flowRestore())

	// Exception inbox: everyone reads; support and admins act; analysts
	// and admins add a missing lookup row.
	in.Get("/inbox", s.requireRole(all...), s.inboxList())
	in.Post("/inbox/bulk", s.requireRole(triage...), s.inboxBulk())
	in.Get("/inbox/bulk/:id<int>", s.requireRole(all...), s.inboxBulkShow())
	in.Get("/inbox/:id<int>", s.requireRole(all...), s.inboxShow())
	in.Post("/inbox/:id<int>/retry", s.requireRole(triage...), s.inboxRetry())
	in.Post("/inbox/:id<int>/preview", s.requireRole(all...), s.inboxPreview())
	in.Post("/inbox/:id<int>/replay", s.requireRole(triage...), s.inboxReplay())
	in.Post("/inbox/:id<int>/close", s.requireRole(triage...), s.inboxClose())
	in.Post("/inbox/:id<int>/assign", s.requireRole(triage...), s.inboxAssign())
	in.Post("/inbox/:id<int>/comments", s.requireRole(triage...), s.inboxComment())
	in.Post("/inbox/:id<int>/lookup-row", s.requireRole(edit...), s.inboxLookupRow())
	in.Get("/messages/:id/payload.json", s.requireRole(all...), s.messagePayload())

	in.Get("/messages", s.requireRole(all...), s.messagesList())
	in.Get("/messages/:id", s.requireRole(all...), s.messageShow())
	// Analysts and admins save a message's payload as a sample of its flow.
	in.Post("/messages/:id/sample", s.requireRole(edit...), s.messageSampleSave())
	in.Get("/environments", s.requireRole(all...), s.environmentsList())
	in.Get("/captures", s.requireRole(all...), s.capturesList())
	in.Post("/environments/:env/deploy", s.requireRole(promoters...), s.environmentDeploy())
	in.Get("/environments/:env/targets", s.requireRole(account.RoleAdmin), s.targetEdit())
	in.Get("/environments/:env/targets/:target", s.requireRole(account.RoleAdmin), s.targetEdit())
	in.Post("/environments/:env/targets/:target", s.requireRole(account.RoleAdmin), s.targetSave())
	in.Post("/environments/:env/targets/:target/test", s.requireRole(account.RoleAdmin), s.targetProbe())
	in.Get("/environments/:env/retention", s.requireRole(account.RoleAdmin), s.retentionEdit())
	in.Post("/environments/:env/retention", s.requireRole(account.RoleAdmin), s.retentionSave())
	in.Get("/dashboard", s.requireRole(all...), s.dashboard())

	// Environment administration and promotion: admins configure;
	// analysts, approvers and admins promote; approvers and admins decide.
	// The roles here turn away who may never; package mappings/release
	// decides per environment (protected: requests only; rollback there by
	// approvers and admins) for the Deploy form above and the API alike.
	in.Post("/environments", s.requireRole(account.RoleAdmin), s.environmentCreate())
	in.Post("/environments/:env/settings", s.requireRole(account.RoleAdmin), s.environmentSettings())
	in.Post("/environments/:env/variables", s.requireRole(account.RoleAdmin), s.variableSave())
	in.Post("/environments/:env/variables/:name/delete", s.requireRole(account.RoleAdmin), s.variableDelete())
	in.Get("/environments/:env/flows/:slug", s.requireRole(all...), s.deploymentHistory())
	in.Post("/environments/:env/flows/:slug/rollback", s.requireRole(promoters...), s.deploymentRollback())
	in.Get("/promote", s.requireRole(promoters...), s.promotionPreview())
	in.Post("/promote", s.requireRole(promoters...), s.promotionCreate())
	in.Get("/promotions", s.requireRole(all...), s.promotionRequests())
	in.Get("/promotions/:id<int>", s.requireRole(all...), s.promotionRequestShow())
	in.Post("/promotions/:id<int>/approve", s.requireRole(deciders...), s.promotionDecide(true))
	in.Post("/promotions/:id<int>/reject", s.requireRole(deciders...), s.promotionDecide(false))
	in.Get("/bundles", s.requireRole(all...), s.bundlesPage())
	in.Get("/bundles/export", s.requireRole(all...), s.bundleExport())
	in.Post("/bundles/import", s.requireRole(edit...), s.bundleImport())

	// Exception notifications per environment.
	in.Post("/environments/:env/notifications", s.requireRole(account.RoleAdmin), s.notificationSave())
	in.Post("/environments/:env/notifications/delete", s.requireRole(account.RoleAdmin), s.notificationDelete())

	// Administration: admins only.
	admin := in.Group("/admin", s.requireRole(account.RoleAdmin))
	admin.Get("/", s.adminHome())
	admin.Get("/users", s.usersList())
	admin.Post("/users", s.userCreate())
	admin.Get("/users/:id<int>", s.userEdit())
	admin.Post("/users/:id<int>", s.userUpdate())
	admin.Post("/users/:id<int>/password", s.userResetPassword())
	admin.Get("/audit", s.auditList())
	admin.Get("/api-keys", s.apiKeysList())
	admin.Post("/api-keys", s.apiKeyCreate())
	admin.Post("/api-keys/:prefix/revoke", s.apiKeyRevoke())
	// River's UI uses GET, POST, PUT and PATCH (riverui's handler.go); only
	// those are mounted, so CONNECT, TRACE and the rest never reach it.
	river := s.riverUI()
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch} {
		admin.Add(m, "/river", river)
		admin.Add(m, "/river/*", river)
	}

	// Anything else is a 404 page.
	ui.Use(s.notFound())
}
