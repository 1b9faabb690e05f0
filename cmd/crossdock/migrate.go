package main

import (
	"context"
	"fmt"
	"io"

	"github.com/crossdock/crossdock/migrations"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var raw rawConfig
	fs := newFlagSet("migrate", "Applies every pending migration (River's queue tables and Crossdock's own), each in a transaction. Safe to run from several processes at once and to run again.", getenv, stderr, &raw, "DATABASE_URL", "CROSSDOCK_LOG_LEVEL", "CROSSDOCK_LOG_FORMAT", "CROSSDOCK_SESSION_IDLE", "CROSSDOCK_SESSION_LIFETIME", "CROSSDOCK_ADDR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, _, err := raw.resolve(getenv, false)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Migrate(ctx, pool, func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }); err != nil {
		return err
	}
	v, err := migrations.Latest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database is current (crossdock schema version %d)\n", v)
	return nil
}
