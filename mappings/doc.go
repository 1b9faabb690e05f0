// Package mappings stores what integration analysts build: flows, the one
// editable draft of each, and the immutable numbered versions published from
// it, with the rules that keep them honest — optimistic concurrency on the
// draft, publishing gated by a clean compile and passing test cases, history
// that is never rewritten. It also ships the flow templates and compares
// definitions row by row.
//
// Versions reach environments through deployments (one atomic pointer move
// per environment and flow). Promotion (promotion.go) computes the gates in
// front of that move — every target and variable the version uses
// configured in the destination, every test case passing — and keeps the
// requests that hold promotions to protected environments for a second
// person. Bundles (bundle.go) carry versions between installations with
// their checksums, optionally HMAC-signed, and never any environment
// configuration. Changing what runs — promoting, approving, rolling back,
// importing a bundle — is package mappings/release's alone: it owns the
// release policy.
package mappings
