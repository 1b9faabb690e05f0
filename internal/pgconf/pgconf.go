// Package pgconf holds the settings every Crossdock connection runs with,
// so the server, the tests and the volume benchmarks plan queries and
// encode arguments alike.
package pgconf

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// Apply sets Crossdock's session settings on a pool config, unless the URL
// set them already, and teaches each connection google/uuid's type.
//
// jit = off: PostgreSQL compiles a query with LLVM when its estimated cost
// passes jit_above_cost, and the tiny environments and flows tables never
// get statistics (autovacuum analyzes a table after 50 changed rows), so
// the planner guesses them large and the inbox's idempotency-key probe —
// 36 index lookups, under a millisecond — spends 210 ms compiling at 5
// million messages (docs/benchmarks.md). Crossdock's queries are all short
// index lookups and small batches; none runs long enough to win it back.
//
// uuid.UUID: pgx knows it only as a driver.Valuer, so every id sent was
// formatted as a 36-character string and parsed back, one allocation each;
// the pipeline sends arrays of them with every group, and that costs about
// a tenth of the server's CPU under load (docs/benchmarks.md).
// pgx-google-uuid registers the type to be sent as its 16 bytes.
func Apply(c *pgxpool.Config) {
	if c.ConnConfig.RuntimeParams == nil {
		c.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := c.ConnConfig.RuntimeParams["jit"]; !ok {
		c.ConnConfig.RuntimeParams["jit"] = "off"
	}
	after := c.AfterConnect
	c.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
}
