package jobs_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/internal/pgconf"
)

// volumePool connects the volume benchmarks to a database filled by
// `crossdock seed-volume` (CROSSDOCK_BENCH_DATABASE_URL), with the
// server's session settings so that queries are planned as in production;
// without the variable the benchmark is skipped. The pool closes with b.
func volumePool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	dsn := os.Getenv("CROSSDOCK_BENCH_DATABASE_URL")
	if dsn == "" {
		b.Skip("CROSSDOCK_BENCH_DATABASE_URL is not set: point it at a database filled by crossdock seed-volume")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	pgconf.Apply(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}
