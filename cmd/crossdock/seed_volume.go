package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/crossdock/crossdock/migrations"
)

const seedVolumeUsage = `Usage:
  crossdock seed-volume --messages N --exceptions M [--env ENV] [--days D]

Fills the database with N messages (M of them with an exception) for
measuring the message explorer and the exception inbox at volume: twelve
volume-* flows, realistic statuses, times over the last D days, correlation
ids like #1001, a few hundred exception fingerprints. Rows are made by the
database (generate_series) in one transaction that rebuilds the indexes of
messages and exceptions at the end. Never run it against a database in use.
Needs DATABASE_URL (migrated).

`

// runSeedVolume implements `crossdock seed-volume`.
func runSeedVolume(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed-volume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, seedVolumeUsage); fs.PrintDefaults() }
	var o volumeOptions
	fs.Int64Var(&o.Messages, "messages", 0, "messages to add")
	fs.Int64Var(&o.Exceptions, "exceptions", 0, "how many of them get an exception")
	fs.StringVar(&o.Environment, "env", "", "put every message in this environment (default: spread over all, most in the last)")
	fs.IntVar(&o.Days, "days", 30, "how many days back received times reach")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	if o.Messages < 1 {
		fmt.Fprintln(stderr, "crossdock seed-volume: --messages is required (at least 1)")
		return exitError{2}
	}
	databaseURL := getenv("DATABASE_URL")
	if databaseURL == "" {
		return errors.New("DATABASE_URL is not set: point it at a migrated database you can fill (not one in use)")
	}
	pool, err := openPool(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Check(ctx, pool); err != nil {
		return fmt.Errorf("%w: run crossdock migrate first", err)
	}
	start := time.Now()
	err = seedVolume(ctx, pool, o, func(done int64, elapsed time.Duration) {
		fmt.Fprintf(stdout, "%d of %d messages written (%s)\n", done, o.Messages, elapsed.Round(time.Second))
	})
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `analyze messages, exceptions`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	fmt.Fprintf(stdout, "seeded %d messages and %d exceptions in %s (indexes rebuilt, tables analysed)\n", o.Messages, o.Exceptions, time.Since(start).Round(time.Second))
	return nil
}
