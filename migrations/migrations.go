// Package migrations owns Crossdock's database schema: the SQL migrations
// embedded in the binary and the code that applies them, River's own queue
// tables included, so that one `crossdock migrate` brings any database current.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed sql/*.sql
var files embed.FS

// versionTable records which of Crossdock's own migrations have run (tern's
// bookkeeping); River keeps its own in river_migration.
const versionTable = "public.crossdock_schema_version"

// lockKey serialises whole migrate runs (River's and ours together) across
// processes that start at once; tern takes its own lock only around its part.
const lockKey = int64(0x63726f7373646f63) // "crossdoc"

// ErrStale is returned by Check when the database is behind the binary.
var ErrStale = errors.New("database schema is not current")

// Migrate applies every pending migration: River's queue tables first, then
// Crossdock's own, each migration in its own transaction. Safe to run from
// several processes at once and to run again when nothing is pending.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logf func(format string, args ...any)) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", lockKey)
	}()

	river, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrate: river: %w", err)
	}
	res, err := river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate: river queue tables: %w", err)
	}
	for _, v := range res.Versions {
		logf("applied river migration %03d %s", v.Version, v.Name)
	}

	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	m.OnStart = func(seq int32, name, _, _ string) { logf("applying migration %03d %s", seq, name) }
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Check reports whether the database is fully migrated for this binary. It
// returns an error wrapping ErrStale that names what is missing, so `serve`
// can refuse to start with a message telling the operator what to run.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	river, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("check schema: river: %w", err)
	}
	vr, err := river.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("check schema: river: %w", err)
	}
	if !vr.OK {
		return fmt.Errorf("%w: River queue tables: %s", ErrStale, strings.Join(vr.Messages, "; "))
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("check schema: connect: %w", err)
	}
	defer conn.Release()
	var exists bool
	if err := conn.QueryRow(ctx, "select to_regclass($1) is not null", versionTable).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	want, err := Latest()
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: no Crossdock migrations applied (want version %d)", ErrStale, want)
	}
	var have int32
	if err := conn.QueryRow(ctx, "select version from "+versionTable).Scan(&have); err != nil {
		return fmt.Errorf("check schema: read version: %w", err)
	}
	switch {
	case have < want:
		return fmt.Errorf("%w: at version %d, this binary needs %d", ErrStale, have, want)
	case have > want:
		return fmt.Errorf("%w: at version %d, newer than this binary knows (%d); run a newer crossdock", ErrStale, have, want)
	}
	return nil
}

// Latest is the number of Crossdock's newest embedded migration.
func Latest() (int32, error) {
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		return 0, err
	}
	names, err := migrate.FindMigrations(sub)
	if err != nil {
		return 0, fmt.Errorf("embedded migrations: %w", err)
	}
	return int32(len(names)), nil
}

// Fingerprint identifies the embedded migrations' content; the test suite
// names its template database after it so a changed migration is never
// served from a stale template.
func Fingerprint() string {
	h := sha256.New()
	entries, _ := fs.ReadDir(files, "sql")
	for _, e := range entries {
		b, _ := fs.ReadFile(files, "sql/"+e.Name())
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func newMigrator(ctx context.Context, conn *pgxpool.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn.Conn(), versionTable)
	if err != nil {
		return nil, fmt.Errorf("migrate: prepare version table: %w", err)
	}
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		return nil, err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return nil, fmt.Errorf("migrate: load embedded migrations: %w", err)
	}
	return m, nil
}
