// Package release holds what decides where versions of a flow run:
// environments in promotion order, each environment's target
// configuration (secrets sealed at rest), variables and notification
// settings, the deployments that point an environment at a version, the
// promotion gates (every target and variable a version uses configured in
// the destination, every test case passing) and the promotion requests that
// hold a protected environment's change for a second person, and bundles
// (bundle_format.go): versions with their checksums, optionally
// HMAC-signed, and never any environment configuration. It imports
// mappings, engine, account and internal/*; mappings never imports it.
//
// It owns the release policy: the only operations that change
// which version of a flow runs in an environment, or bring versions in from
// a bundle. Each takes an Actor (a signed-in user with a role, an API key
// with its environment, flows and permissions, the command-line operator, or
// Crossdock itself), decides whether that actor may act on that
// environment, runs the promotion gates where they apply, and writes the
// deployment (or promotion request) with its audit entry in one
// transaction. The Promote… and Deploy forms, the JSON API, the CLI and
// bundle import call these operations and only translate input and output;
// nothing else writes a deployment (guard_test.go checks the source tree).
//
// The rules, as README's "Roles" table states them:
//
//	action                unprotected environment                protected environment
//	promote / deploy      admin, analyst, approver; a manage key  the same principals file a promotion
//	                      of that environment; the CLI operator;  request (never a direct switch);
//	                      Crossdock itself (demo seed). The       Crossdock itself may not
//	                      gates run on every path.
//	approve / reject      admin, approver — not the requester     admin, approver — not the requester;
//	                      (requests exist there only when asked   API keys and the CLI never approve
//	                      for with RequestOnly)
//	roll back             admin, analyst, approver; a manage key  admin, approver only
//	                      of that environment
//	import a bundle       admin, analyst; a manage key whose flows cover the bundle; the CLI
//	                      operator. With a deployment, the promote rule for each flow as well,
//	                      checked before anything is imported.
//
// Support and viewer roles, and keys without the manage permission, do none
// of these. A key acts only on its own environment and on the flows of its
// scope. Refused promotions and bundle imports are audited too
// (promotion.refuse, bundle.refuse), after the refused work is rolled back.
package release
