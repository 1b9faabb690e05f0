// Package mappings stores what integration analysts build: flows, the one
// editable draft of each, and the immutable numbered versions published from
// it, with the rules that keep them honest — optimistic concurrency on the
// draft, publishing gated by a clean compile and passing test cases, history
// that is never rewritten. It also ships the flow templates, compares
// definitions row by row and applies pointer-based edits.
//
// Where versions run — environments, their target configuration and
// variables, deployments, promotion, bundles — is package
// mappings/release's, which builds on this one. mappings imports engine, account and internal/*,
// never mappings/release.
package mappings
