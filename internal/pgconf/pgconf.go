// Package pgconf holds the session settings every Crossdock connection
// runs with, so the server, the tests and the volume benchmarks plan
// queries alike.
package pgconf

import "github.com/jackc/pgx/v5"

// Apply sets Crossdock's session settings on a connection config, unless
// the URL set them already.
//
// jit = off: PostgreSQL compiles a query with LLVM when its estimated cost
// passes jit_above_cost, and the tiny environments and flows tables never
// get statistics (autovacuum analyzes a table after 50 changed rows), so
// the planner guesses them large and the inbox's idempotency-key probe —
// 36 index lookups, under a millisecond — spent 210 ms compiling at 5
// million messages (docs/benchmarks.md). Crossdock's queries are all short
// index lookups and small batches; none runs long enough to win it back.
func Apply(c *pgx.ConnConfig) {
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	if _, ok := c.RuntimeParams["jit"]; !ok {
		c.RuntimeParams["jit"] = "off"
	}
}
